using System.Globalization;
using System.Text.Json;
using Cadence.Cli.Experiments;
using Cadence.Schedules;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence compare</c>: trains the same model on the same data with the same seeds under several schedules and
/// tabulates final and best accuracy, validation loss, when each reached a target accuracy, and time.
/// Exit codes: 0 done (diverged runs are results), 1 failure, 2 usage error, 130 cancelled.
/// </summary>
internal static class CompareCommand
{
    public const string Help = """
        usage: cadence compare [options] SCHEDULE SCHEDULE …
          SCHEDULE               "POLICY key=value …" with the options of `cadence schedule POLICY` (keys without
                                 dashes), optionally named "NAME: POLICY key=value …", e.g.
                                 cadence compare --epochs 5 --seeds 3 --target-accuracy 0.91 \
                                   "clr: fit lr=0.1 cycle-len=5 use-clr=32,5" "one-cycle max-lr=0.1" "constant lr=0.01"
                                 The data fills batches/steps per epoch and, from --epochs, epochs/total-steps/t-max.
        """ + "\n" + TrainingOptions.Help + "\n" + ExperimentOptions.Help + "\n" + """
          --target-accuracy A    report the epoch (and iteration) at which each run first reached accuracy A;
                                 accuracy is measured at the end of each epoch
        With --out DIR: results.csv (one row per run: seed, status, accuracy, best accuracy, valid loss, target
        epoch/iteration, seconds, reason) and results.json (per schedule its lr and momentum per iteration and a
        summary; per run its per-epoch history), written when the comparison ends or is interrupted; charts
        schedules.png (lr per iteration), accuracy.png and valid_loss.png (per epoch, mean ± std over seeds) and
        report.html (configuration, table, each schedule explained, the charts; one self-contained file).
        Every schedule and seed trains exactly what `cadence fit` trains with the same options and --seed.
        Ctrl+C stops the run in progress (it is not recorded) and writes what finished.
        """;

    private sealed class Options
    {
        public ExperimentOptions Experiment { get; } = new();
        public double? TargetAccuracy { get; set; }
        public List<ScheduleSpec> Schedules { get; } = [];
    }

    /// <summary>Runs <c>cadence compare</c>; <paramref name="args"/> are the arguments after <c>compare</c>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        if (args.Contains("--help") || args.Contains("-h")) { stdout.WriteLine(Help); return ExitCodes.Ok; }
        return CommandErrors.Run("compare", stderr, () => Compare(Parse(args), stdout, stderr, ct));
    }

    private static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => OptionValues.ValueAfter(args, ref i);
            if (o.Experiment.TryParse(a, Next)) continue;
            if (a == "--target-accuracy") { o.TargetAccuracy = OptionValues.Number(a, Next(), 0, 1, exclusive: false); continue; }
            if (OptionValues.IsOption(a)) throw new UsageException($"unknown option '{a}' (see cadence compare --help)");
            o.Schedules.Add(ParseSchedule(a));
        }
        o.Experiment.Validate();
        if (o.Schedules.Count == 0) throw new UsageException("SCHEDULE: give at least one schedule, e.g. \"one-cycle max-lr=0.1\" (see cadence compare --help)");
        if (o.Schedules.GroupBy(s => s.Label).FirstOrDefault(g => g.Count() > 1) is { } dup)
            throw new UsageException($"SCHEDULE: two schedules are labelled '{dup.Key}'; name them apart with 'NAME: POLICY …'");
        return o;
    }

    /// <summary>Parses <c>"[NAME:] POLICY key=value …"</c>, checking the policy and its option names (values are checked with the data).</summary>
    internal static ScheduleSpec ParseSchedule(string text)
    {
        string label = text.Trim(), body = label;
        int space = label.IndexOf(' ', StringComparison.Ordinal);
        string first = space < 0 ? label : label[..space];
        if (first.EndsWith(':') && first.Length > 1)
        {
            label = first[..^1];
            body = label.Length < text.Trim().Length ? text.Trim()[(first.Length)..].Trim() : "";
        }
        try
        {
            var (policy, options) = PolicyCatalog.ParseSpec(body);
            var spec = PolicyCatalog.Find(policy);
            foreach (var key in options.Keys)
            {
                if (key == "iterations") throw new UsageException($"SCHEDULE '{text}': iterations: the length comes from --epochs and the data; drop it");
                if (!spec.Options.Any(p => p.Name == key) && !PolicyCatalog.Common.Any(p => p.Name == key))
                    throw new UsageException($"SCHEDULE '{text}': '{key}' is not an option of policy {spec.Name} (its options: {string.Join(", ", spec.Options.Select(p => p.Name))})");
            }
            return new ScheduleSpec(label, body, policy, options);
        }
        catch (ScheduleValidationException e)
        {
            throw new UsageException($"SCHEDULE '{text}': {string.Join("; ", e.Errors.Select(x => x.Message))}");
        }
    }

    private static int Compare(Options o, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var x = o.Experiment;
        var table = x.Json ? stderr : stdout;
        string setup = x.Setup();
        if (x.Out is not null) Directory.CreateDirectory(x.Out);
        using var runner = new ExperimentRunner(x, stderr);
        var seeds = x.Seeds;
        var plans = runner.Plan(o.Schedules, seeds[0]);
        var runs = new List<RunRecord>();
        int total = seeds.Count * o.Schedules.Count, n = 0;
        bool cancelled = false;
        try
        {
            // Seed-major: after the first seed every schedule has a result, which is the most useful order to interrupt.
            foreach (var seed in seeds)
                foreach (var spec in o.Schedules)
                {
                    ct.ThrowIfCancellationRequested();
                    string prefix = string.Create(CultureInfo.InvariantCulture, $"[{++n}/{total}] {spec.Label} seed {seed}:");
                    var run = runner.Run(setup, spec, seed, o.TargetAccuracy, prefix, ct);
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
        var summaries = o.Schedules.Select(s => new Summary(s.Label, s.Text, seeds.Count, runs.Where(r => r.Label == s.Label).ToList())).ToList();
        PrintTable(table, summaries, o.TargetAccuracy);
        if (x.Out is not null)
        {
            ResultsCsv.WriteAll(Path.Combine(x.Out, "results.csv"), runs);
            AtomicFile.Write(Path.Combine(x.Out, "results.json"), Json.Build(w => WriteResults(w, o, setup, summaries, plans), indented: true));
            table.WriteLine($"results: {Path.Combine(x.Out, "results.csv")}, {Path.Combine(x.Out, "results.json")}");
            var (header, rows) = Table(summaries, o.TargetAccuracy);
            var files = ExperimentCharts.Compare(x.Out, x, o.TargetAccuracy, summaries, plans, header, rows);
            table.WriteLine($"charts: {string.Join(", ", files.Select(f => Path.Combine(x.Out, f)))}");
        }
        if (x.Json) stdout.WriteLine(System.Text.Encoding.UTF8.GetString(Json.Build(w => WriteSummary(w, setup, seeds, o.TargetAccuracy, summaries, cancelled))));
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
    private static void WriteResults(Utf8JsonWriter w, Options o, string setup, List<Summary> summaries,
        Dictionary<string, (Schedule Schedule, int Epochs, long BatchesPerEpoch)> plans)
    {
        w.WriteStartObject();
        w.WriteString("setup", setup);
        w.WriteStartArray("seeds");
        foreach (var s in o.Experiment.Seeds) w.WriteNumberValue(s);
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
