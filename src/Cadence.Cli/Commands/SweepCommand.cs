using Cadence.Cli.Training;
using Cadence.Cli.Experiments;

namespace Cadence.Cli.Commands;

internal sealed class SweepSettings : ExperimentSettings, IPolicySettings
{
    [CommandArgument(0, "<POLICY>"), Description("The policy whose options are swept; then --OPTION VALUES: one value is fixed, 1,3,10 an axis (options that take a list: grid:0.05,0.1; a tuple by component: --use-clr \"div=10,20 cut-div=3,5\")")]
    public string Policy { get; set; } = "";

    [CommandOption("--metric <METRIC>"), OneOf("The table's value: at the last epoch, or the best epoch's accuracy", "accuracy", "best_accuracy", "valid_loss"), DefaultValue("accuracy")]
    public string Metric { get; set; } = "accuracy";

    [CommandOption("--max-minutes <M>"), Number(0, 1e6, "Bound the whole sweep: the run in progress at M minutes is stopped (not recorded) and the cells not reached are listed", MinOpen = true)]
    public double? MaxMinutes { get; set; }

    public SweepGrid Grid { get; private set; } = null!;

    /// <summary>The policy and its options as given (what a merge reruns).</summary>
    public List<string> PolicyArgs { get; private set; } = [];

    public void Read(IRemainingArguments remaining, string command)
    {
        var spec = PolicyChoice.Find(Policy, "POLICY");
        var options = PolicyChoice.FromRemaining(remaining, spec, command, training: true);
        Grid = SweepGrid.Parse(spec.Name, [.. options.Select(kv => (kv.Key, kv.Value))]);
        PolicyArgs = [spec.Name, .. options.SelectMany(kv => new[] { "--" + kv.Key, kv.Value })];
    }

    public override void Check(Check check)
    {
        base.Check(check);
        CheckOut(check, "sweep");
    }
}

/// <summary>
/// <c>cadence sweep</c>: a grid over one policy's options, each cell trained with every seed; a table of the chosen
/// metric (mean ± std over seeds). Runs go on after a cell diverges; each finished run is appended to sweep.csv at once,
/// so an interrupted sweep keeps what it measured and <c>--resume DIR</c> skips it. Exit 0 also when --max-minutes
/// left cells unreached. With --out: sweep.csv, results.json, heat-maps and report.html.
/// </summary>
internal sealed class SweepCommand(Io io) : CadenceCommand<SweepSettings>(io)
{
    protected override int Run(CommandContext context, SweepSettings o, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (stdout, stderr) = (Io.Out, Io.Err);
        var x = o;
        var table = x.Json ? stderr : stdout;
        string setup = x.Setup();
        var seeds = x.Seeds;
        var cells = o.Grid.Cells();
        var configurations = cells.Select(c => new ShardConfiguration(c.Label, c.Schedule.Text)).ToList();
        string? csvPath = x.Out is null ? null : Path.Combine(x.Out, "sweep.csv");
        var rows = new List<RunRecord>();
        // A shard's identity is checked before anything is written into its folder; then one writer holds --out
        // (before sweep.csv is read: one sweep writes it).
        var shardManifest = x.MergeFrom is null && x.ShardOf is not null ? ShardStart.Check(x, "sweep", configurations, $"metric {o.Metric}", o.PolicyArgs) : null;
        using var outLock = x.Out is null ? null : Outputs.Lock("--out", x.Out);
        var unreached = new List<(SweepCell Cell, long Seed)>();
        bool cancelled = false;
        int todoCount = 0;
        if (x.MergeFrom is { } shards) rows = ShardSet.MergeInto(x, shards, "sweep", "sweep.csv", configurations, $"metric {o.Metric}").Rows;
        else
        {
            ResultsCsv? csv = null;
            if (x.Out is not null)
            {
                if (o.Resuming)
                {
                    (csv, rows) = ResultsCsv.Resume(csvPath!, setup, warning => stderr.WriteLine($"cadence sweep: {warning}"));
                    stderr.WriteLine($"cadence sweep: resuming {csvPath}: {rows.Count} runs already recorded");
                }
                else csv = ResultsCsv.Create(csvPath!);
            }
            using var runner = new ExperimentRunner(x, stderr, "sweep");
            var plans = runner.Plan([.. cells.Select(c => c.Schedule)], seeds[0]);   // every cell is checked before the first run
            x.Announce(stderr, "sweep");
            var done = rows.Select(r => (r.Spec, r.Seed)).ToHashSet();
            var runs = seeds.SelectMany(seed => cells.Select(cell => (Cell: cell, Seed: seed)));
            if (shardManifest is not null)
            {
                var mine = ShardStart.Deal(x, shardManifest, plans)
                    .Select(r => (r.Label, r.Seed)).ToHashSet();
                runs = runs.Where(t => mine.Contains((t.Cell.Label, t.Seed)));
            }
            var todo = runs.Where(t => !done.Contains((t.Cell.Schedule.Text, t.Seed))).ToList();
            todoCount = todo.Count;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (o.MaxMinutes is { } minutes)
            {
                var left = TimeSpan.FromMinutes(minutes) - clock.Elapsed;
                if (left <= TimeSpan.Zero) deadline.Cancel(); else deadline.CancelAfter(left);
            }
            int n = 0;
            foreach (var (cell, seed) in todo)
            {
                if (deadline.IsCancellationRequested)
                {
                    cancelled |= ct.IsCancellationRequested;
                    unreached.Add((cell, seed));
                    continue;
                }
                string prefix = string.Create(CultureInfo.InvariantCulture, $"[{++n}/{todo.Count}] {cell.Label} seed {seed}:");
                RunRecord run;
                try { run = runner.Run(setup, cell.Schedule, seed, null, prefix, deadline.Token); }
                catch (OperationCanceledException)
                {
                    cancelled |= ct.IsCancellationRequested;
                    unreached.Add((cell, seed));
                    continue;
                }
                if (csv is not null) Outputs.Write("--out", csv.Path, () => csv.Append(run));
                rows.Add(run);
                stderr.WriteLine(run.Status == RunStatus.Ok
                    ? string.Create(CultureInfo.InvariantCulture, $"{prefix} {o.Metric} {run.Metric(o.Metric):F4} ({run.Seconds:F1} s)")
                    : $"{prefix} {run.Status.ToString().ToLowerInvariant()}: {run.Reason}");
            }
        }
        string why = cancelled ? "cancelled" : string.Create(CultureInfo.InvariantCulture, $"--max-minutes {o.MaxMinutes} reached");
        if (x.ShardOf is { } shard)
        {
            var shardReport = new ShardReport(shard.ToString(), x.Out!, rows.Count, rows.Count + unreached.Count, unreached.Count == 0);
            table.WriteLine($"shard {shard}: {rows.Count} of {rows.Count + unreached.Count} runs recorded in {csvPath}");
            if (unreached.Count > 0)
                table.WriteLine($"not reached ({why}): {string.Join("; ", unreached.Select(u => $"{u.Cell.Label} seed {u.Seed}"))}; rerun with --resume to do them");
            else table.WriteLine($"when every shard is done: cadence sweep merge --out {x.ExperimentFolder}");
            if (x.Json) stdout.WriteLine(Json.Serialize(shardReport));
            return cancelled ? ExitCodes.Cancelled : ExitCodes.Ok;
        }
        var seedSet = seeds.ToHashSet();
        var summaries = cells.Select(c => new Summary(c.Label, c.Schedule.Text, seeds.Count,
            rows.Where(r => r.Spec == c.Schedule.Text && seedSet.Contains(r.Seed)).OrderBy(r => r.Seed).ToList())).ToList();
        PrintTables(table, o, cells, summaries);
        if (unreached.Count > 0)
        {
            table.WriteLine($"not reached ({why}): {unreached.Count} of {todoCount} runs; {(x.Out is null ? "rerun" : $"rerun with --resume {x.Out}")} to do them:");
            foreach (var g in unreached.GroupBy(u => u.Cell.Label))
                table.WriteLine($"  {g.Key}: seed{(g.Count() > 1 ? "s" : "")} {string.Join(", ", g.Select(u => u.Seed))}");
        }
        byte[] Document(bool indented) => Json.Bytes(GridJson.Of(o, setup, cells, summaries, unreached), indented);
        if (x.Out is { } outDir)
        {
            Outputs.Write("--out", outDir, () => AtomicFile.Write(Path.Combine(outDir, "results.json"), Document(indented: true)));
            table.WriteLine($"results: {csvPath}, {Path.Combine(outDir, "results.json")}");
        }
        if (x.ChartFolder is { } charts)
        {
            var (header, tableRows) = Table(o, cells, summaries);
            string? notes = unreached.Count == 0 ? null
                : $"not reached ({(cancelled ? "cancelled" : "--max-minutes")}): {string.Join("; ", unreached.Select(u => $"{u.Cell.Label} seed {u.Seed}"))}";
            string option = x.Plots is null ? "--out" : "--plots";
            Outputs.Folder(option, charts);
            List<string> files = [];
            Outputs.Write(option, charts, () => files = ExperimentCharts.Sweep(charts, x, o.Grid.Policy, o.Metric, o.Grid.Axes, cells, summaries, header, tableRows, notes));
            table.WriteLine($"charts: {string.Join(", ", files.Select(f => Path.Combine(charts, f)))}");
        }
        if (x.Json) stdout.WriteLine(System.Text.Encoding.UTF8.GetString(Document(indented: false)));
        return cancelled ? ExitCodes.Cancelled : ExitCodes.Ok;
    }

    /// <summary>The metric of a cell as a table shows it: mean ± std, or why there is none.</summary>
    private static string CellText(Summary s, string metric)
    {
        int finished = s.Finished.Count();
        if (s.Runs.Count == 0) return "not run";
        if (finished == 0) return s.Diverged > 0 ? "diverged" : "failed";
        string text = Stats.Format(s.Values(r => r.Metric(metric)));
        return finished < s.Expected ? $"{text} ({finished}/{s.Expected})" : text;
    }

    private static void PrintTables(TextWriter table, SweepSettings o, IReadOnlyList<SweepCell> cells, List<Summary> summaries)
    {
        var axes = o.Grid.Axes;
        var (header, rows) = Table(o, cells, summaries);
        TextTable.Write(table, header, rows);
        if (axes.Count >= 2)
        {
            // The last two axes as a grid (the heat-map's layout: one axis down, one across), one grid per value of the others.
            int k = axes.Count;
            foreach (var group in cells.Select((c, i) => (c, i)).GroupBy(x => string.Join(" ", x.c.AxisValues.Take(k - 2).Select((v, j) => $"{axes[j].Name}={v}"))))
            {
                table.WriteLine();
                if (group.Key.Length > 0) table.WriteLine($"{group.Key}:");
                var pivot = new List<IReadOnlyList<string>>();
                foreach (var down in axes[k - 2].Values)
                {
                    var line = new List<string> { $"{axes[k - 2].Name}={down}" };
                    foreach (var across in axes[k - 1].Values)
                        line.Add(CellText(summaries[group.Single(x => x.c.AxisValues[k - 2] == down && x.c.AxisValues[k - 1] == across).i], o.Metric));
                    pivot.Add(line);
                }
                TextTable.Write(table, [o.Metric, .. axes[k - 1].Values.Select(v => $"{axes[k - 1].Name}={v}")], pivot);
            }
        }
        var best = summaries.Where(s => s.Values(r => r.Metric(o.Metric)).Count > 0)
            .Select(s => (s, Stats.Of(s.Values(r => r.Metric(o.Metric))).Mean)).ToList();
        if (best.Count > 1)
        {
            var top = o.Metric == "valid_loss" ? best.MinBy(b => b.Mean) : best.MaxBy(b => b.Mean);
            table.WriteLine($"best: {top.s.Label}: {o.Metric} {CellText(top.s, o.Metric)}");
        }
        foreach (var s in summaries)
            foreach (var r in s.Runs.Where(r => r.Status != RunStatus.Ok))
                table.WriteLine($"  {s.Label} seed {r.Seed}: {r.Status.ToString().ToLowerInvariant()}: {r.Reason}");
    }

    /// <summary>The table of every cell, as the terminal and the HTML report show it.</summary>
    private static (List<string> Header, List<IReadOnlyList<string>> Rows) Table(SweepSettings o, IReadOnlyList<SweepCell> cells, List<Summary> summaries)
    {
        var axes = o.Grid.Axes;
        var header = axes.Select(a => a.Name).Append(o.Metric).Append("runs").Append("time/run").ToList();
        if (axes.Count == 0) header.Insert(0, "spec");
        var rows = new List<IReadOnlyList<string>>();
        for (int i = 0; i < cells.Count; i++)
        {
            var s = summaries[i];
            var row = cells[i].AxisValues.ToList();
            if (axes.Count == 0) row.Add(cells[i].Schedule.Text);
            row.Add(CellText(s, o.Metric));
            row.Add(s.RunsCell());
            row.Add(TextTable.Seconds(s.Runs.Count == 0 ? double.NaN : s.Runs.Average(r => r.Seconds)));
            rows.Add(row);
        }
        return (header, rows);
    }

    /// <summary>results.json: the grid's axes and, per cell, the metric over seeds (the heat-map's data).</summary>
    /// <summary>results.json and <c>--json</c>: the grid's axes and, per cell, the metric over seeds (the heat-map's data).</summary>
    private sealed record GridJson(string Policy, string Setup, string Metric, IReadOnlyList<long> Seeds, bool Complete,
        IReadOnlyList<SweepParameter> Axes, IReadOnlyList<CellJson> Cells, IReadOnlyList<UnreachedJson> Unreached)
    {
        public static GridJson Of(SweepSettings o, string setup, IReadOnlyList<SweepCell> cells, List<Summary> summaries, List<(SweepCell Cell, long Seed)> unreached) =>
            new(o.Grid.Policy, setup, o.Metric, o.Seeds, unreached.Count == 0, o.Grid.Axes,
                [.. cells.Select((c, i) => CellJson.Of(o, c, summaries[i]))], [.. unreached.Select(u => new UnreachedJson(u.Cell.Label, u.Seed))]);
    }

    private sealed record CellJson(string Label, string Spec, Dictionary<string, string> At, string Status, double Mean, double Std, int N, int Expected, IReadOnlyList<RunJson> Runs)
    {
        public static CellJson Of(SweepSettings o, SweepCell cell, Summary s)
        {
            var values = s.Values(r => r.Metric(o.Metric));
            var (mean, std) = Stats.Of(values);
            string status = s.Runs.Count == 0 ? "not run" : values.Count == 0 ? (s.Diverged > 0 ? "diverged" : "failed") : s.Finished.Count() < s.Expected ? "partial" : "ok";
            return new(cell.Label, cell.Schedule.Text, o.Grid.Axes.Select((a, k) => (a.Name, cell.AxisValues[k])).ToDictionary(), status, mean, std,
                values.Count, s.Expected, [.. s.Runs.Select(r => RunJson.Of(r with { History = null }))]);
        }
    }

    private sealed record UnreachedJson(string Label, long Seed);
}

/// <summary>What a shard prints with <c>--json</c>: which shard, where, and how many of its runs are recorded.</summary>
internal sealed record ShardReport(string Shard, string Out, int Recorded, int Runs, bool Complete);
