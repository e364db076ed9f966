using Cadence.TestSupport;
using System.Text.RegularExpressions;
using static Cadence.Cli.Tests.ExperimentTestData;

namespace Cadence.Cli.Tests;

/// <summary>The charts and report that <c>compare</c> and <c>sweep</c> write with <c>--out</c>.</summary>
[Collection(TrainingCollection.Name)]
public sealed partial class ExperimentChartsTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-charts");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [GeneratedRegex("""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|<script|<link|url\(""", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    internal static void AssertPng(string path)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(PngSignature), $"{path} is not a PNG");
        Assert.True(bytes.Length > 10_000, $"{path} is only {bytes.Length} bytes");
    }

    /// <summary>Asserts report.html is self-contained with <paramref name="images"/> inline PNGs, and returns its text.</summary>
    internal static string AssertReport(string dir, int images)
    {
        string html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Equal(images, Regex.Matches(html, "data:image/png;base64,").Count);
        Assert.DoesNotMatch(ExternalReference(), html);
        System.Xml.Linq.XDocument.Parse(html);   // well-formed
        return html;
    }

    [Fact]
    public void Compare_writes_the_schedule_accuracy_and_loss_charts_and_one_report_with_the_table()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "compare");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(["compare", .. CsvData(csv), "--epochs", "2", "--seeds", "2", "--target-accuracy", "0.5", "--out", outDir,
            "clr: fit lr=0.05 cycle-len=2 use-clr=10,4", "one-cycle max-lr=0.05"], stdout, stderr, CancellationToken.None);
        Assert.True(code == 0, stderr.ToString());
        foreach (var chart in new[] { "schedules.png", "accuracy.png", "valid_loss.png" }) AssertPng(Path.Combine(outDir, chart));
        Assert.Contains($"charts: {Path.Combine(outDir, "schedules.png")}, ", stdout.ToString());

        string html = AssertReport(outDir, 3);
        foreach (var text in new[] { "Configuration", "model", "seeds", "0, 1", "target accuracy", "Schedule clr", "Schedule one-cycle max-lr=0.05",
                     "fastai 0.7 CircularLR", "Validation accuracy per epoch (mean ± std over 2 seeds)", "Learning-rate schedules" })
            Assert.Contains(System.Net.WebUtility.HtmlEncode(text), html);
        // The table holds the terminal's numbers: the clr row's accuracy cell, exactly as printed.
        var row = stdout.ToString().Split(Environment.NewLine).Single(l => l.StartsWith("clr ", StringComparison.Ordinal));
        var accuracy = Regex.Match(row, @"0\.\d{4} ± 0\.\d{4}").Value;
        Assert.Contains($"<td>{System.Net.WebUtility.HtmlEncode(accuracy)}</td>", html);
    }

    [Fact]
    public void Sweep_over_three_options_draws_one_heatmap_per_value_of_the_first()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "sweep3");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(["sweep", .. CsvData(csv), "one-cycle", "--max-lr", "grid:0.01,0.05", "--pct-start", "0.25,0.3", "--anneal-strategy", "cos,linear",
            "--epochs", "1", "--out", outDir], stdout, stderr, CancellationToken.None);
        Assert.True(code == 0, stderr.ToString());
        Assert.Equal(["heatmap-max-lr=0.01.png", "heatmap-max-lr=0.05.png"],
            Directory.GetFiles(outDir, "heatmap*.png").Select(f => Path.GetFileName(f)!).Order().ToArray());
        foreach (var f in Directory.GetFiles(outDir, "heatmap*.png")) AssertPng(f);
        string html = AssertReport(outDir, 2);
        Assert.Contains("one-cycle: accuracy, max-lr=0.05", html);
        Assert.Contains("<th>anneal-strategy</th>", html);
    }

    [Fact]
    public void Sweep_over_one_option_draws_a_one_row_heatmap()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "sweep1");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(["sweep", .. CsvData(csv), "constant", "--lr", "grid:0.01,0.02", "--epochs", "1", "--metric", "valid_loss", "--out", outDir],
            stdout, stderr, CancellationToken.None);
        Assert.True(code == 0, stderr.ToString());
        AssertPng(Path.Combine(outDir, "heatmap.png"));
        Assert.Contains("constant: valid_loss over lr", AssertReport(outDir, 1));
    }
}
