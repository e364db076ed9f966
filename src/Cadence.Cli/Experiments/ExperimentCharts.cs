using System.Text;
using Cadence.Plots;

namespace Cadence.Cli.Experiments;

/// <summary>
/// The charts and HTML report of <c>cadence compare</c> and <c>cadence sweep</c>, drawn from the same summaries their
/// tables print, so every picture shows the numbers in the table.
/// </summary>
internal static class ExperimentCharts
{
    private const string AccuracyMetric = "accuracy";

    /// <summary>
    /// Writes schedules.png, accuracy.png, valid_loss.png (the last two when some run finished) and report.html into
    /// <paramref name="dir"/>; returns the file names written.
    /// </summary>
    public static List<string> Compare(string dir, ExperimentSettings options, double? target, List<Summary> summaries,
        Dictionary<string, (Schedule Schedule, int Epochs, long BatchesPerEpoch)> plans, List<string> header, List<IReadOnlyList<string>> rows)
    {
        var written = new List<string>();
        var charts = new List<Chart>();
        void Save(Chart chart, string name)
        {
            chart.Save(Path.Combine(dir, name));
            charts.Add(chart);
            written.Add(name);
        }

        Save(Plots.Plots.CompareChart(
            [.. summaries.Select(s => Series.FromSchedule(s.Label, plans[s.Label].Schedule, plans[s.Label].Epochs * plans[s.Label].BatchesPerEpoch))],
            "iteration (optimizer steps)", "learning rate (last parameter group)",
            new ChartOptions { Title = "Learning-rate schedules" }), "schedules.png");
        int seeds = options.Seeds.Count;
        string over = seeds > 1 ? $"mean ± std over {seeds} seeds" : "one seed";
        if (PerEpoch(summaries, AccuracyMetric) is { Count: > 0 } accuracy)
            Save(Plots.Plots.CompareChart(accuracy, "epoch", "validation accuracy", new ChartOptions { Title = $"Validation accuracy per epoch ({over})" }), "accuracy.png");
        if (PerEpoch(summaries, "valid_loss") is { Count: > 0 } loss)
            Save(Plots.Plots.CompareChart(loss, "epoch", "validation loss", new ChartOptions { Title = $"Validation loss per epoch ({over})" }), "valid_loss.png");

        var config = options.Settings((int?)options.Epochs);
        config.Add(new("seeds", string.Join(", ", options.Seeds)));
        config.Add(new("target accuracy", target is { } t ? t.ToString("0.####", CultureInfo.InvariantCulture) : "none"));
        var report = new Report("cadence compare").AddKeyValues("Configuration", config).AddTable("Results", header, rows);
        if (Problems(summaries) is { Length: > 0 } problems) report.AddText("Runs that did not finish", problems);
        foreach (var s in summaries)
        {
            var (schedule, epochs, bpe) = plans[s.Label];
            report.AddText($"Schedule {s.Label}", $"{s.Spec}\n\n{schedule.Describe(epochs * bpe)}");
        }
        foreach (var chart in charts) report.AddChart(chart);
        report.Save(Path.Combine(dir, "report.html"));
        written.Add("report.html");
        return written;
    }

    /// <summary>
    /// Writes the heat-map(s) of <paramref name="metric"/> (mean over seeds) over the last two axes — one per combination
    /// of the other axes, named <c>heatmap-AXIS=VALUE….png</c>; one row with a single axis; none when nothing is swept —
    /// and report.html into <paramref name="dir"/>; returns the file names written.
    /// </summary>
    public static List<string> Sweep(string dir, ExperimentSettings options, string policy, string metric, IReadOnlyList<SweepParameter> axes,
        IReadOnlyList<SweepCell> cells, List<Summary> summaries, List<string> header, List<IReadOnlyList<string>> rows, string? notes)
    {
        var written = new List<string>();
        var charts = new List<Chart>();
        int seeds = options.Seeds.Count;
        string valueName = seeds > 1 ? $"{metric} (mean of {seeds} seeds)" : metric;
        double Mean(int i) => summaries[i].Values(r => r.Metric(metric)) is { Count: > 0 } v ? v.Average() : double.NaN;
        int k = axes.Count;
        if (k == 1)
        {
            var values = new double[1, cells.Count];
            for (int i = 0; i < cells.Count; i++) values[0, IndexOf(axes[0].Values, cells[i].AxisValues[0])] = Mean(i);
            var chart = Plots.Plots.HeatmapChart([metric], [.. axes[0].Values], values, $"{policy}: {valueName} over {axes[0].Name}", valueName,
                columnAxisLabel: axes[0].Name, options: new ChartOptions { Height = 260 });
            chart.Save(Path.Combine(dir, "heatmap.png"));
            charts.Add(chart);
            written.Add("heatmap.png");
        }
        else if (k >= 2)
        {
            var (down, across) = (axes[k - 2], axes[k - 1]);
            foreach (var group in cells.Select((c, i) => (c, i)).GroupBy(x => string.Join(" ", x.c.AxisValues.Take(k - 2).Select((v, j) => $"{axes[j].Name}={v}"))))
            {
                var values = new double[down.Values.Count, across.Values.Count];
                foreach (var (cell, i) in group)
                    values[IndexOf(down.Values, cell.AxisValues[k - 2]), IndexOf(across.Values, cell.AxisValues[k - 1])] = Mean(i);
                string title = $"{policy}: {valueName}" + (group.Key.Length > 0 ? $", {group.Key}" : "");
                var chart = Plots.Plots.HeatmapChart([.. down.Values], [.. across.Values], values, title, valueName, down.Name, across.Name);
                string name = group.Key.Length == 0 ? "heatmap.png" : $"heatmap-{FileSafe(group.Key.Replace(' ', '-'))}.png";
                chart.Save(Path.Combine(dir, name));
                charts.Add(chart);
                written.Add(name);
            }
        }

        var config = options.Settings((int?)options.Epochs);
        config.Insert(0, new("policy", policy));
        config.Add(new("seeds", string.Join(", ", options.Seeds)));
        config.Add(new("metric", metric));
        var report = new Report($"cadence sweep {policy}").AddKeyValues("Configuration", config).AddTable("Results", header, rows);
        var text = new StringBuilder(notes ?? "");
        if (Problems(summaries) is { Length: > 0 } problems) text.Append(text.Length > 0 ? "\n" : "").Append(problems);
        if (text.Length > 0) report.AddText("Notes", text.ToString());
        if (k == 0) report.AddText("Heat-map", "No option takes more than one value, so there is no grid to draw.");
        foreach (var chart in charts) report.AddChart(chart);
        report.Save(Path.Combine(dir, "report.html"));
        written.Add("report.html");
        return written;
    }

    /// <summary>Per schedule, the mean (and std when several seeds finished) of an epoch value over its finished runs.</summary>
    private static List<Series> PerEpoch(List<Summary> summaries, string name)
    {
        var series = new List<Series>();
        foreach (var s in summaries)
        {
            var histories = s.Finished.Where(r => r.History is { Count: > 0 }).ToList();
            if (histories.Count == 0) continue;
            int epochs = histories.Max(r => r.History!.Count);
            var mean = new double[epochs];
            var std = new double[epochs];
            for (int e = 0; e < epochs; e++)
            {
                var values = histories.Where(r => r.History!.Count > e).Select(r => Value(r, r.History![e], name)).Where(double.IsFinite).ToList();
                (mean[e], std[e]) = Stats.Of(values);
            }
            if (!mean.Any(double.IsFinite)) continue;
            series.Add(new Series(s.Label, [.. Enumerable.Range(1, epochs).Select(e => (double)e)], mean)
            {
                Spread = histories.Count > 1 ? std : null,
                Markers = true,
            });
        }
        return series;
    }

    private static double Value(RunRecord run, Cadence.Training.EpochRecord epoch, string name)
    {
        if (name == "valid_loss") return epoch.ValidLoss;
        int m = run.MetricNames.ToList().IndexOf(name);
        return m >= 0 && m < epoch.Metrics.Count ? epoch.Metrics[m] : double.NaN;
    }

    private static string Problems(List<Summary> summaries) => string.Join("\n", summaries.SelectMany(s => s.Runs
        .Where(r => r.Status != RunStatus.Ok)
        .Select(r => $"{s.Label} seed {r.Seed}: {r.Status.ToString().ToLowerInvariant()}: {r.Reason}")));

    private static int IndexOf(IReadOnlyList<string> values, string value)
    {
        for (int i = 0; i < values.Count; i++)
            if (values[i] == value) return i;
        throw new InvalidOperationException($"'{value}' is not a value of the axis ({string.Join(", ", values)})");
    }

    /// <summary>Letters, digits and <c>. , = + -</c> kept; anything else (path separators, quotes, ';') becomes '_'.</summary>
    private static string FileSafe(string text) =>
        string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || ".,=+-".Contains(c, StringComparison.Ordinal) ? c : '_'));
}
