using System.Text.Json.Serialization;
using Cadence.Cli.Training;
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
        CheckOut(check, "compare");
        if (Resuming && Shard is null) check.Fail("--resume", "only a shard resumes (with --shard K/N); an unsharded compare writes its results when it ends");
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
        var seeds = x.Seeds;
        var configurations = schedules.Select(s => new ShardConfiguration(s.Label, s.Text)).ToList();
        string identity = x.TargetAccuracy is { } target ? $"target accuracy {NumberFormat.Exact(target)}" : "no target accuracy";
        // A shard's identity is checked before anything is written into its folder; then one writer holds --out.
        var shardManifest = x.MergeFrom is null && x.ShardOf is not null ? ShardStart.Check(x, "compare", configurations, identity, x.Schedules) : null;
        using var outLock = x.Out is null ? null : Outputs.Lock("--out", x.Out);
        var runs = new List<RunRecord>();
        int total = seeds.Count * schedules.Count, n = 0, shardRuns = 0;
        bool cancelled = false;
        Dictionary<string, (Schedule Schedule, int Epochs, long BatchesPerEpoch)> plans;
        if (x.MergeFrom is { } shards)
        {
            var set = ShardSet.MergeInto(x, shards, "compare", "results.csv", configurations, identity);
            runs = [.. set.Rows.Select(set.WithHistory)];
            long bpe = set.Manifest.BatchesPerEpoch;
            plans = [];
            foreach (var s in schedules)
            {
                var (schedule, epochs) = s.Build(bpe, (int?)x.Epochs, x.EffectiveBatch);
                plans[s.Label] = (schedule, epochs, bpe);
            }
        }
        else
        {
            using var runner = new ExperimentRunner(x, stderr, "compare");
            plans = runner.Plan(schedules, seeds[0]);
            x.Announce(stderr, "compare");
            // Seed-major: after the first seed every schedule has a result, which is the most useful order to interrupt.
            var todo = seeds.SelectMany(seed => schedules.Select(spec => (Spec: spec, Seed: seed)));
            ShardLog? log = null;
            if (shardManifest is not null)
            {
                var mine = ShardStart.Deal(x, shardManifest, plans);
                (log, runs) = ShardLog.Open(x.Out!, setup, x.Resuming, warning => stderr.WriteLine($"cadence compare: {warning}"));
                var done = runs.Select(r => (r.Label, r.Seed)).ToHashSet();
                var own = mine.Select(r => (r.Label, r.Seed)).ToHashSet();
                todo = todo.Where(t => own.Contains((t.Spec.Label, t.Seed)) && !done.Contains((t.Spec.Label, t.Seed)));
                (shardRuns, total) = (mine.Count, mine.Count - runs.Count);
            }
            try
            {
                foreach (var (spec, seed) in todo)
                {
                    ct.ThrowIfCancellationRequested();
                    string prefix = string.Create(CultureInfo.InvariantCulture, $"[{++n}/{total}] {spec.Label} seed {seed}:");
                    var run = runner.Run(setup, spec, seed, x.TargetAccuracy, prefix, ct);
                    if (log is not null) Outputs.Write("--out", x.Out!, () => log.Append(run));
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
        }
        if (x.ShardOf is { } shard)
        {
            table.WriteLine($"shard {shard}: {runs.Count} of {shardRuns} runs recorded in {Path.Combine(x.Out!, "results.csv")}" + (cancelled ? "; cancelled: rerun with --resume to finish it" : ""));
            if (!cancelled) table.WriteLine($"when every shard is done: cadence compare merge --out {x.ExperimentFolder}");
            if (x.Json) stdout.WriteLine(Json.Serialize(new ShardReport(shard.ToString(), x.Out!, runs.Count, shardRuns, runs.Count == shardRuns)));
            return cancelled ? ExitCodes.Cancelled : ExitCodes.Ok;
        }
        var summaries = schedules.Select(s => new Summary(s.Label, s.Text, seeds.Count, runs.Where(r => r.Label == s.Label).ToList())).ToList();
        PrintTable(table, summaries, x.TargetAccuracy);
        if (x.Out is { } outDir)
        {
            Outputs.Write("--out", outDir, () =>
            {
                ResultsCsv.WriteAll(Path.Combine(outDir, "results.csv"), runs);
                AtomicFile.Write(Path.Combine(outDir, "results.json"), Json.Bytes(new ResultsJson(setup, x.Seeds, x.TargetAccuracy,
                    [.. summaries.Select(s => ScheduleResultJson.Of(s, x.TargetAccuracy, plans[s.Label]))]), indented: true));
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
        if (x.Json) stdout.WriteLine(Json.Serialize(new SummaryJson(setup, seeds, x.TargetAccuracy, !cancelled, [.. summaries.Select(s => ScheduleJson.Of<ScheduleJson>(s, x.TargetAccuracy))])));
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

    /// <summary>One schedule in <c>--json</c> and results.json: its runs summarized (means over the finished ones).</summary>
    private class ScheduleJson
    {
        public string Label { get; init; } = "";
        public string Spec { get; init; } = "";
        public virtual int Runs { get; init; }
        public int Expected { get; init; }
        public int Diverged { get; init; }
        public int Failed { get; init; }
        public StatJson Accuracy { get; init; } = null!;
        public StatJson BestAccuracy { get; init; } = null!;
        public StatJson ValidLoss { get; init; } = null!;
        public StatJson BestValidLoss { get; init; } = null!;

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public TargetJson? Target { get; init; }

        public double SecondsMean { get; init; }

        public static T Of<T>(Summary s, double? target) where T : ScheduleJson, new() => new()
        {
            Label = s.Label,
            Spec = s.Spec,
            Runs = s.Runs.Count,
            Expected = s.Expected,
            Diverged = s.Diverged,
            Failed = s.Failed,
            Accuracy = StatJson.Of(s, r => r.Accuracy),
            BestAccuracy = StatJson.Of(s, r => r.BestAccuracy),
            ValidLoss = StatJson.Of(s, r => r.ValidLoss),
            BestValidLoss = StatJson.Of(s, r => r.BestValidLoss),
            Target = target is null ? null : TargetJson.Of(s),
            SecondsMean = s.Runs.Count == 0 ? double.NaN : Math.Round(s.Runs.Average(r => r.Seconds), 3),
        };
    }

    /// <summary>A schedule in results.json: also its lr and momentum per iteration (the last group, as fastai plots it; every group when several) and every run.</summary>
    private sealed class ScheduleResultJson : ScheduleJson
    {
        public string Policy { get; private set; } = "";
        public string Reference { get; private set; } = "";
        public int Epochs { get; private set; }
        public long BatchesPerEpoch { get; private set; }
        public double[] Lr { get; private set; } = [];
        public double[]? Momentum { get; private set; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public double[][]? LrGroups { get; private set; }

        /// <summary>results.json lists the runs themselves under "runs" (their count is its length).</summary>
        [JsonIgnore]
        public override int Runs { get => base.Runs; init => base.Runs = value; }

        [JsonPropertyName("runs")]
        public IReadOnlyList<RunJson> RunsJson { get; private set; } = [];

        public static ScheduleResultJson Of(Summary s, double? target, (Schedule Schedule, int Epochs, long BatchesPerEpoch) plan)
        {
            var (lr, momentum) = plan.Schedule.Trace(plan.Epochs * plan.BatchesPerEpoch);
            var json = Of<ScheduleResultJson>(s, target);
            (json.Policy, json.Reference, json.Epochs, json.BatchesPerEpoch) = (plan.Schedule.Policy, plan.Schedule.Reference, plan.Epochs, plan.BatchesPerEpoch);
            (json.Lr, json.Momentum, json.LrGroups) = (lr[^1], momentum?[^1], lr.Length > 1 ? lr : null);
            json.RunsJson = [.. s.Runs.Select(RunJson.Of)];
            return json;
        }
    }

    private sealed record StatJson(double Mean, double Std, int N)
    {
        public static StatJson Of(Summary s, Func<RunRecord, double> value)
        {
            var values = s.Values(value);
            var (mean, std) = Stats.Of(values);
            return new(mean, std, values.Count);
        }
    }

    private sealed record TargetJson(int Reached, double EpochMean, double IterationMean)
    {
        public static TargetJson Of(Summary s)
        {
            var (reached, epoch, iteration) = s.Target();
            return new(reached, epoch, iteration);
        }
    }

    /// <summary>The <c>--json</c> document: the summary of every schedule.</summary>
    private sealed record SummaryJson(string Setup, IReadOnlyList<long> Seeds, double? TargetAccuracy, bool Complete, IReadOnlyList<ScheduleJson> Schedules);

    /// <summary>results.json: everything a chart needs (lr and momentum per iteration, metrics per epoch per run).</summary>
    private sealed record ResultsJson(string Setup, IReadOnlyList<long> Seeds, double? TargetAccuracy, IReadOnlyList<ScheduleResultJson> Schedules);
}
