using System.Text.Json;
using Cadence.Cli.Experiments;

namespace Cadence.Cli.Commands;

internal sealed class CompareSettings : ExperimentSettings
{
    [CommandArgument(0, "[SCHEDULE]"), Description("\"POLICY key=value …\", or \"NAME: POLICY key=value …\", with the options of 'cadence schedule POLICY' (keys without dashes); the data fills batches per epoch and, from --epochs, the length")]
    public string[] Schedules { get; set; } = [];

    [CommandOption("--target-accuracy <A>"), Number(0, 1, "Report the epoch (and iteration) at which each run first reached accuracy A, measured at each epoch's end")]
    public double? TargetAccuracy { get; set; }

    public List<PolicyChoice> Choices { get; private set; } = [];

    public override void Check(Check check)
    {
        base.Check(check);
        foreach (var text in Schedules)
        {
            try
            {
                var choice = PolicyChoice.FromText(text);
                choice.CheckText(check, $"SCHEDULE '{text}'");
                Choices.Add(choice);
            }
            catch (UsageException e) { check.Fail(e.Option ?? "SCHEDULE", e.Problem); }
        }
        if (Schedules.Length == 0) check.Fail("SCHEDULE", "give at least one schedule, e.g. \"one-cycle max-lr=0.1\" (see cadence compare --help)");
        if (Choices.GroupBy(s => s.Label).FirstOrDefault(g => g.Count() > 1) is { } dup)
            check.Fail("SCHEDULE", $"two schedules are labelled '{dup.Key}'; name them apart with 'NAME: POLICY …'");
    }
}

/// <summary>
/// <c>cadence compare</c>: trains the same model on the same data with the same seeds under several schedules and
/// tabulates final and best accuracy, validation loss, when each reached a target accuracy, and time. Diverged runs are
/// results (exit 0). With --out: results.csv, results.json, schedules.png, accuracy.png, valid_loss.png, report.html.
/// </summary>
internal sealed class CompareCommand(Io io) : CadenceCommand<CompareSettings>(io)
{
    protected override int Run(CommandContext context, CompareSettings x, CancellationToken ct)
    {
        var stdout = Io.Out;
        var stderr = Io.Err;
        var table = x.Json ? stderr : stdout;
        string setup = x.Setup();
        var schedules = x.Choices;
        if (x.Out is not null) Outputs.Folder("--out", x.Out);
        using var runner = new ExperimentRunner(x, stderr);
        var seeds = x.Seeds;
        var plans = runner.Plan(schedules, seeds[0]);
        var runs = new List<RunRecord>();
        int total = seeds.Count * schedules.Count, n = 0;
        bool cancelled = false;
        try
        {
            // Seed-major: after the first seed every schedule has a result, which is the most useful order to interrupt.
            foreach (var seed in seeds)
                foreach (var spec in schedules)
                {
                    ct.ThrowIfCancellationRequested();
                    string prefix = string.Create(CultureInfo.InvariantCulture, $"[{++n}/{total}] {spec.Label} seed {seed}:");
                    var run = runner.Run(setup, spec, seed, x.TargetAccuracy, prefix, ct);
                    runs.Add(run);
                    stderr.WriteLine(run.Status == RunStatus.Ok
                        ? string.Create(CultureInfo.InvariantCulture, $"{prefix} accuracy {run.Accuracy:F4}, valid_loss {run.ValidLoss:F4} ({run.Seconds:F1} s)")
                        : $"{prefix} {run.Status.ToString().ToLowerInvariant()}: {run.Reason}");
                }
        }
        catch (OperationCanceledException)
        {
            cancelled = true;
        }
        var summaries = schedules.Select(s => new Summary(s.Label, s.Text, seeds.Count, runs.Where(r => r.Label == s.Label).ToList())).ToList();
        PrintTable(table, summaries, x.TargetAccuracy);
        if (x.Out is { } outDir)
        {
            Outputs.Write("--out", outDir, () =>
            {
                ResultsCsv.WriteAll(Path.Combine(outDir, "results.csv"), runs);
                AtomicFile.Write(Path.Combine(outDir, "results.json"), Json.Build(w => WriteResults(w, x, setup, summaries, plans), indented: true));
            });
            table.WriteLine($"results: {Path.Combine(outDir, "results.csv")}, {Path.Combine(outDir, "results.json")}");
        }
        if (x.ChartFolder is { } charts)
        {
            var (header, rows) = Table(summaries, x.TargetAccuracy);
            string option = x.Plots is null ? "--out" : "--plots";
            Outputs.Folder(option, charts);
            List<string> files = [];
            Outputs.Write(option, charts, () => files = ExperimentCharts.Compare(charts, x, x.TargetAccuracy, summaries, plans, header, rows));
            table.WriteLine($"charts: {string.Join(", ", files.Select(f => Path.Combine(charts, f)))}");
        }
        if (x.Json) stdout.WriteLine(System.Text.Encoding.UTF8.GetString(Json.Build(w => WriteSummary(w, setup, seeds, x.TargetAccuracy, summaries, cancelled))));
        if (cancelled)
        {
            stderr.WriteLine($"cadence compare: cancelled after {runs.Count} of {total} runs");
            return ExitCodes.Cancelled;
        }
        return ExitCodes.Ok;
    }

    private static void PrintTable(TextWriter table, List<Summary> summaries, double? target)
    {
        var (header, rows) = Table(summaries, target);
        TextTable.Write(table, header, rows);
        foreach (var s in summaries)
            foreach (var r in s.Runs.Where(r => r.Status != RunStatus.Ok))
                table.WriteLine($"  {s.Label} seed {r.Seed}: {r.Status.ToString().ToLowerInvariant()}: {r.Reason}");
        if (target is not null) table.WriteLine("(target: mean epoch/iteration over the runs that reached it; accuracy is measured at the end of each epoch)");
    }

    /// <summary>The results table's header and rows, as the terminal and the HTML report show them.</summary>
    internal static (List<string> Header, List<IReadOnlyList<string>> Rows) Table(List<Summary> summaries, double? target)
    {
        var header = new List<string> { "schedule", "runs", "accuracy", "best accuracy", "valid loss" };
        string t = target is { } a ? a.ToString("0.####", CultureInfo.InvariantCulture) : "";
        if (target is not null) header.AddRange([$"reached {t}", "at epoch", "at iteration"]);
        header.Add("time/run");
        var rows = new List<IReadOnlyList<string>>();
        foreach (var s in summaries)
        {
            var row = new List<string>
            {
                s.Label, s.RunsCell(), Stats.Format(s.Values(r => r.Accuracy)), Stats.Format(s.Values(r => r.BestAccuracy)),
                Stats.Format(s.Values(r => r.ValidLoss)),
            };
            if (target is not null)
            {
                var (reached, epoch, iteration) = s.Target();
                row.Add($"{reached}/{s.Runs.Count}");
                row.Add(reached == 0 ? "—" : epoch.ToString("0.##", CultureInfo.InvariantCulture));
                row.Add(reached == 0 ? "—" : iteration.ToString("0", CultureInfo.InvariantCulture));
            }
            row.Add(TextTable.Seconds(s.Runs.Count == 0 ? double.NaN : s.Runs.Average(r => r.Seconds)));
            rows.Add(row);
        }
        return (header, rows);
    }

    private static void WriteSummaryFields(Utf8JsonWriter w, Summary s, double? target)
    {
        w.WriteString("label", s.Label);
        w.WriteString("spec", s.Spec);
        w.WriteNumber("runs", s.Runs.Count);
        w.WriteNumber("expected", s.Expected);
        w.WriteNumber("diverged", s.Diverged);
        w.WriteNumber("failed", s.Failed);
        s.WriteStat(w, "accuracy", r => r.Accuracy);
        s.WriteStat(w, "best_accuracy", r => r.BestAccuracy);
        s.WriteStat(w, "valid_loss", r => r.ValidLoss);
        s.WriteStat(w, "best_valid_loss", r => r.BestValidLoss);
        if (target is not null)
        {
            var (reached, epoch, iteration) = s.Target();
            w.WriteStartObject("target");
            w.WriteNumber("reached", reached);
            Json.Number(w, "epoch_mean", epoch);
            Json.Number(w, "iteration_mean", iteration);
            w.WriteEndObject();
        }
        Json.Number(w, "seconds_mean", s.Runs.Count == 0 ? double.NaN : Math.Round(s.Runs.Average(r => r.Seconds), 3));
    }

    private static void WriteSummary(Utf8JsonWriter w, string setup, IReadOnlyList<long> seeds, double? target, List<Summary> summaries, bool cancelled)
    {
        w.WriteStartObject();
        w.WriteString("setup", setup);
        w.WriteStartArray("seeds");
        foreach (var s in seeds) w.WriteNumberValue(s);
        w.WriteEndArray();
        if (target is { } t) w.WriteNumber("target_accuracy", t); else w.WriteNull("target_accuracy");
        w.WriteBoolean("complete", !cancelled);
        w.WriteStartArray("schedules");
        foreach (var s in summaries)
        {
            w.WriteStartObject();
            WriteSummaryFields(w, s, target);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>results.json: everything a chart needs (lr and momentum per iteration, metrics per epoch per run).</summary>
    private static void WriteResults(Utf8JsonWriter w, CompareSettings o, string setup, List<Summary> summaries,
        Dictionary<string, (Schedule Schedule, int Epochs, long BatchesPerEpoch)> plans)
    {
        w.WriteStartObject();
        w.WriteString("setup", setup);
        w.WriteStartArray("seeds");
        foreach (var s in o.Seeds) w.WriteNumberValue(s);
        w.WriteEndArray();
        if (o.TargetAccuracy is { } t) w.WriteNumber("target_accuracy", t); else w.WriteNull("target_accuracy");
        w.WriteStartArray("schedules");
        foreach (var s in summaries)
        {
            var (schedule, epochs, bpe) = plans[s.Label];
            var (lr, momentum) = schedule.Trace(epochs * bpe);
            w.WriteStartObject();
            WriteSummaryFields(w, s, o.TargetAccuracy);
            w.WriteString("policy", schedule.Policy);
            w.WriteString("reference", schedule.Reference);
            w.WriteNumber("epochs", epochs);
            w.WriteNumber("batches_per_epoch", bpe);
            // lr and momentum per iteration of the last parameter group (the one fastai plots), all groups when several.
            Series(w, "lr", lr[^1]);
            if (momentum is null) w.WriteNull("momentum"); else Series(w, "momentum", momentum[^1]);
            if (lr.Length > 1)
            {
                w.WriteStartArray("lr_groups");
                foreach (var g in lr) Series(w, null, g);
                w.WriteEndArray();
            }
            w.WriteStartArray("runs");
            foreach (var r in s.Runs) Json.Run(w, r);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void Series(Utf8JsonWriter w, string? name, double[] values)
    {
        if (name is null) w.WriteStartArray(); else w.WriteStartArray(name);
        foreach (var v in values) Json.Value(w, v);
        w.WriteEndArray();
    }
}
