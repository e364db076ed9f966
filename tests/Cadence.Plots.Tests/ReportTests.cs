using Cadence.TestSupport;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Cadence.Schedules;

namespace Cadence.Plots.Tests;

public sealed partial class ReportTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-report");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    internal static Report FitReport() =>
        Report.ForFit(Synthetic.History(), FastAi07.Fit([0.001, 0.01], batchesPerEpoch: Synthetic.BatchesPerEpoch, cycles: 1, cycleLen: Synthetic.Epochs,
                useClr: new UseClr(32, 5, 0.95, 0.85)),
            [new("model", "mlp <13-256-3> & \"friends\""), new("optimizer", "sgd, momentum 0.9"), new("note", "</pre><script>alert(1)</script>")]);

    [GeneratedRegex("""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", RegexOptions.IgnoreCase)]
    private static partial Regex RemoteReference();

    [Fact]
    public void Fit_report_is_well_formed_self_contained_and_holds_every_chart()
    {
        var report = FitReport();
        var path = Path.Combine(_dir, "report.html");
        report.Save(path);
        string html = File.ReadAllText(path);
        var doc = Images.ParseHtmlAsXml(html);
        XNamespace x = "http://www.w3.org/1999/xhtml";

        Assert.DoesNotMatch(RemoteReference(), html);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(doc.Descendants(x + "script"));
        Assert.Empty(doc.Descendants(x + "link"));

        var images = doc.Descendants(x + "img").ToArray();
        Assert.Equal(["Learning rate used by the optimizer", "Training and validation loss", "Metrics per epoch (validation set)"],
            images.Select(i => i.Attribute("alt")!.Value).ToArray());
        Assert.Equal(report.ChartTitles, images.Select(i => i.Attribute("alt")!.Value).ToArray());
        foreach (var img in images)
        {
            var src = img.Attribute("src")!.Value;
            Assert.StartsWith("data:image/png;base64,", src, StringComparison.Ordinal);
            Images.AssertPng(Convert.FromBase64String(src["data:image/png;base64,".Length..]),
                int.Parse(img.Attribute("width")!.Value, System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(img.Attribute("height")!.Value, System.Globalization.CultureInfo.InvariantCulture));
        }

        var headings = doc.Descendants(x + "h2").Select(h => h.Value).ToArray();
        Assert.Equal(["Configuration", "Schedule", "Epochs"], headings[..3]);
        var pre = Assert.Single(doc.Descendants(x + "pre")).Value;
        Assert.StartsWith("fastai 0.7 CircularLR (use_clr), over 60 iterations", pre, StringComparison.Ordinal);

        var epochRows = doc.Descendants(x + "table").Single(t => (string?)t.Attribute("class") == "data").Descendants(x + "tr").ToArray();
        Assert.Equal(["epoch", "train_loss", "valid_loss", "accuracy", "error_rate", "time"], epochRows[0].Elements().Select(e => e.Value).ToArray());
        Assert.Equal(1 + Synthetic.Epochs, epochRows.Length);
        Assert.Equal(["1", "1.200000", "0.600000", "0.400000", "00:01"], epochRows[1].Elements().Select(e => e.Value).Where((_, i) => i != 1).ToArray());

        // Text is escaped: the configuration's markup arrives as text, not as elements.
        var config = doc.Descendants(x + "table").First().Descendants(x + "td").Select(td => td.Value).ToArray();
        Assert.Equal(["mlp <13-256-3> & \"friends\"", "sgd, momentum 0.9", "</pre><script>alert(1)</script>"], config);
        Assert.Equal("Cadence training report", doc.Descendants(x + "title").Single().Value);
    }

    [Fact]
    public void Builder_keeps_section_order_and_refuses_ragged_rows()
    {
        var report = new Report("t & t").AddText("A", "x < y").AddTable("B", ["c1", "c2"], [["1", "2"]]);
        var doc = Images.ParseHtmlAsXml(report.ToHtml());
        XNamespace x = "http://www.w3.org/1999/xhtml";
        Assert.Equal(["A", "B"], doc.Descendants(x + "h2").Select(h => h.Value).ToArray());
        Assert.Equal("t & t", doc.Descendants(x + "h1").Single().Value);
        var e = Assert.Throws<ArgumentException>(() => report.AddTable("C", ["a", "b"], [["1"]]));
        Assert.Equal("rows", e.ParamName);
    }
}
