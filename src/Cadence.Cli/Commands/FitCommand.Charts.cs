using System.Globalization;
using Cadence.Plots;
using Cadence.Schedules;
using Cadence.Training;

namespace Cadence.Cli.Commands;

/// <summary>The pictures of <c>cadence fit</c>: the terminal lr chart, <c>--plots DIR</c> and <c>--report FILE.html</c>.</summary>
internal static partial class FitCommand
{
    /// <summary>A file to write after training: its folder must exist now, so a typo fails before a long run, not after.</summary>
    private static string OutputFile(string option, string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new UsageException($"{option}: the folder {dir} does not exist");
        return path;
    }

    private static void WriteCharts(Options o, Learner learn, Schedule schedule, string modelName, TextWriter? terminal)
    {
        var history = TrainingHistory.From(learn.Recorder);
        if (history.Steps.Count == 0) return;
        if (terminal is not null)
        {
            terminal.WriteLine();
            terminal.Write(TerminalChart.Render(history.Steps.Select(s => s.Lr[^1]).ToArray(), "lr", TerminalChart.UnicodeAllowed(terminal)));
        }
        if (o.Plots is not null)
        {
            Directory.CreateDirectory(o.Plots);
            Plots.Plots.LrChart(history).Save(Path.Combine(o.Plots, "lr.png"));
            Plots.Plots.LossChart(history).Save(Path.Combine(o.Plots, "loss.png"));
            if (history.MetricNames.Count > 0 && history.Epochs.Count > 0)
                Plots.Plots.MetricsChart(history).Save(Path.Combine(o.Plots, "metrics.png"));
        }
        if (o.Report is not null)
            Report.ForFit(history, schedule, Configuration(o, learn, modelName, history), $"cadence fit — {modelName}").Save(o.Report);
    }

    private static List<KeyValuePair<string, string>> Configuration(Options o, Learner learn, string modelName, TrainingHistory history)
    {
        static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string Mom(double? max, double? min) => max is { } a && min is { } b ? $",{N(a)},{N(b)}" : "";
        var t = o.Training;
        var c = new List<KeyValuePair<string, string>>
        {
            new("data", t.DataPath is null ? t.Data : $"{t.Data} {t.DataPath}"),
            new("model", $"{modelName} ({learn.LayerGroups.Count} layer groups)"),
            new("optimizer", t.Opt == "adamw" ? $"adamw, weight decay {N(t.Wd ?? 0.01)}" : $"sgd, momentum 0.9, weight decay {N(t.Wd ?? 0)}"),
            new("batch size", t.BatchSize.ToString(CultureInfo.InvariantCulture)),
        };
        if (t.Subset < 1) c.Add(new("subset", N(t.Subset)));
        if (o.Policy is not null)
        {
            c.Add(new("schedule", o.Policy));
            c.AddRange(o.PolicyOptions.Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value)));
        }
        else
        {
            c.Add(new("lr", string.Join(",", o.Lr.Select(N))));
            c.Add(new("cycles", o.Cycles.ToString(CultureInfo.InvariantCulture)));
            if (o.CycleLen is { } len) c.Add(new("cycle-len", len.ToString(CultureInfo.InvariantCulture)));
            if (o.CycleMult != 1) c.Add(new("cycle-mult", o.CycleMult.ToString(CultureInfo.InvariantCulture)));
            if (o.UseClr is { } u) c.Add(new("use-clr", $"{N(u.Div)},{N(u.CutDiv)}{Mom(u.MaxMom, u.MinMom)}"));
            if (o.UseClrBeta is { } ub) c.Add(new("use-clr-beta", $"{N(ub.Div)},{N(ub.Pct)}{Mom(ub.MaxMom, ub.MinMom)}"));
        }
        c.Add(new("epochs run", history.Epochs.Count.ToString(CultureInfo.InvariantCulture)));
        c.Add(new("iterations run", history.Steps.Count.ToString(CultureInfo.InvariantCulture)));
        c.Add(new("seed", t.Seed.ToString(CultureInfo.InvariantCulture)));
        return c;
    }
}
