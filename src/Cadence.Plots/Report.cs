using System.Globalization;
using System.Net;
using System.Text;
using Cadence.Schedules;
using Cadence.Training;

namespace Cadence.Plots;

/// <summary>
/// Builds one self-contained HTML file — no script, no stylesheet or image fetched from anywhere: charts are inline
/// PNG data URIs — from sections added in order: key/value tables, explanations, tables, charts. Every text is escaped.
/// </summary>
/// <example><code>
/// Report.ForFit(TrainingHistory.From(learn.Recorder), schedule, config).Save("report.html");
/// </code></example>
public sealed class Report
{
    private readonly List<string> _sections = [];
    private readonly List<string> _chartTitles = [];

    /// <summary>Starts an empty report.</summary>
    /// <param name="title">Page title and top heading.</param>
    public Report(string title)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(title);
        Title = title;
    }

    /// <summary>Page title and top heading.</summary>
    public string Title { get; }

    /// <summary>Titles of the charts added so far, in order.</summary>
    public IReadOnlyList<string> ChartTitles => _chartTitles;

    /// <summary>
    /// The report of a fit: its configuration, the schedule's explanation, the per-epoch table and every chart
    /// (learning rate and momentum as used, loss, metrics when there are any).
    /// </summary>
    /// <param name="history">What the fit recorded.</param>
    /// <param name="schedule">The schedule it ran, to explain; <see langword="null"/> leaves the explanation out.</param>
    /// <param name="configuration">Settings of the run (model, data, optimizer …), shown in the given order.</param>
    /// <param name="title">Page title.</param>
    public static Report ForFit(TrainingHistory history, Schedule? schedule, IEnumerable<KeyValuePair<string, string>> configuration,
        string title = "Cadence training report")
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(configuration);
        var report = new Report(title).AddKeyValues("Configuration", configuration);
        if (schedule is not null)
            report.AddText("Schedule", schedule.Describe(history.Steps.Count > 0 ? history.Steps.Count : null));
        report.AddEpochTable(history);
        if (history.Steps.Count > 0)
        {
            report.AddChart(Plots.LrChart(history));
            report.AddChart(Plots.LossChart(history));
        }
        if (history.MetricNames.Count > 0 && history.Epochs.Count > 0) report.AddChart(Plots.MetricsChart(history));
        return report;
    }

    /// <summary>A two-column table of settings.</summary>
    public Report AddKeyValues(string heading, IEnumerable<KeyValuePair<string, string>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var sb = new StringBuilder();
        sb.Append("<table class=\"kv\"><tbody>\n");
        foreach (var (key, value) in entries)
            sb.Append(CultureInfo.InvariantCulture, $"<tr><th scope=\"row\">{E(key)}</th><td>{E(value)}</td></tr>\n");
        sb.Append("</tbody></table>");
        return Section(heading, sb.ToString());
    }

    /// <summary>Preformatted text (line breaks and indentation kept), e.g. <see cref="Schedule.Describe"/>.</summary>
    public Report AddText(string heading, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Section(heading, $"<pre>{E(text)}</pre>");
    }

    /// <summary>A table with a header row.</summary>
    public Report AddTable(string heading, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var sb = new StringBuilder("<table class=\"data\"><thead><tr>");
        foreach (var c in columns) sb.Append(CultureInfo.InvariantCulture, $"<th>{E(c)}</th>");
        sb.Append("</tr></thead><tbody>\n");
        int r = 0;
        foreach (var row in rows)
        {
            if (row.Count != columns.Count)
                throw new ArgumentException($"row {r} has {row.Count} cells; the table has {columns.Count} columns", nameof(rows));
            sb.Append("<tr>");
            foreach (var cell in row) sb.Append(CultureInfo.InvariantCulture, $"<td>{E(cell)}</td>");
            sb.Append("</tr>\n");
            r++;
        }
        sb.Append("</tbody></table>");
        return Section(heading, sb.ToString());
    }

    /// <summary>fastai's epoch table: epoch, train_loss, valid_loss, every metric, time.</summary>
    public Report AddEpochTable(TrainingHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var columns = new List<string> { "epoch", "train_loss", "valid_loss" };
        columns.AddRange(history.MetricNames);
        columns.Add("time");
        var rows = history.Epochs.Select(e =>
        {
            var cells = new List<string> { (e.Epoch + 1).ToString(CultureInfo.InvariantCulture), F(e.TrainLoss), F(e.ValidLoss) };
            cells.AddRange(history.MetricNames.Select((_, m) => m < e.Metrics.Count ? F(e.Metrics[m]) : ""));
            var t = TimeSpan.FromSeconds(e.Seconds);
            cells.Add(string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes:00}:{t.Seconds:00}"));
            return (IReadOnlyList<string>)cells;
        });
        return AddTable("Epochs", columns, rows);
    }

    /// <summary>A chart, as an inline PNG image with its title as caption and alt text.</summary>
    public Report AddChart(Chart chart, string? caption = null)
    {
        ArgumentNullException.ThrowIfNull(chart);
        string text = caption ?? chart.Title;
        string png = Convert.ToBase64String(chart.ToPng());
        _chartTitles.Add(text);
        return Section(text, string.Create(CultureInfo.InvariantCulture,
            $"<figure><img src=\"data:image/png;base64,{png}\" width=\"{chart.Width}\" height=\"{chart.Height}\" alt=\"{E(text)}\" /></figure>"));
    }

    /// <summary>The whole page. It is also well-formed XML (XHTML syntax), so it parses with any XML reader.</summary>
    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n<meta charset=\"utf-8\" />\n");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
        sb.Append(CultureInfo.InvariantCulture, $"<title>{E(Title)}</title>\n<style>{Css}</style>\n</head>\n<body>\n<h1>{E(Title)}</h1>\n");
        foreach (var s in _sections) sb.Append(s).Append('\n');
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>Writes <see cref="ToHtml"/> to <paramref name="path"/> (UTF-8) through a temporary file and a rename.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        AtomicFile.Write(path, new UTF8Encoding(false).GetBytes(ToHtml()));
    }

    private Report Section(string heading, string body)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(heading);
        _sections.Add($"<section>\n<h2>{E(heading)}</h2>\n{body}\n</section>");
        return this;
    }

    private static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    private static string F(double v) => double.IsFinite(v) ? v.ToString("F6", CultureInfo.InvariantCulture) : "nan";

    private const string Css =
        "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}" +
        "h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}" +
        "table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:.25em .8em;border-bottom:1px solid #eee;text-align:left}" +
        "table.data td{text-align:right}pre{background:#f6f8fa;padding:1em;overflow-x:auto;white-space:pre-wrap}" +
        "figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}";
}
