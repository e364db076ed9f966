using System.Globalization;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cadence.Cli.Experiments;
using Cadence.TestSupport;
using Xunit.Abstractions;
using static Cadence.Cli.Tests.ExperimentTestData;

namespace Cadence.Cli.Tests;

public sealed class ShardSpecTests
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars)
    {
        var d = vars.ToDictionary(v => v.Key, v => v.Value);
        return k => d.GetValueOrDefault(k);
    }

    [Theory]
    [InlineData("1/1", 1, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData("100000/100000", 100000, 100000)]
    public void K_of_n_is_read_as_typed(string text, int k, int n) =>
        Assert.Equal(new ShardSpec(k, n), ShardSpec.Parse(text, Env()).Shard);

    [Theory]
    [InlineData("0/3", "the shard must be in [1, 3], got 0 (shards are numbered from 1)")]
    [InlineData("4/3", "the shard must be in [1, 3], got 4 (shards are numbered from 1)")]
    [InlineData("1/0", "the number of shards must be in [1, 100000], got 0")]
    [InlineData("2", "expected K/N (the K-th of N shards, 1 ≤ K ≤ N) or auto, got '2'")]
    [InlineData("-1/3", "expected K/N (the K-th of N shards, 1 ≤ K ≤ N) or auto, got '-1/3'")]
    [InlineData("auto", "auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard K/N")]
    public void Bad_shards_say_what_is_allowed(string text, string problem) =>
        Assert.Equal(problem, ShardSpec.Parse(text, Env()).Problem);

    [Fact]
    public void Auto_reads_slurm_arrays_from_0_or_1_and_refuses_arrays_with_steps()
    {
        Assert.Equal(new ShardSpec(1, 8), ShardSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_COUNT", "8"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_MAX", "7"))).Shard);
        Assert.Equal(new ShardSpec(8, 8), ShardSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_COUNT", "8"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_MAX", "8"))).Shard);
        Assert.Equal("auto: the Slurm array 0-12 has 4 tasks, not 13: submit a range without steps or gaps (--array=0-3)",
            ShardSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_MAX", "12"))).Problem);
        Assert.StartsWith("auto: SLURM_ARRAY_TASK_ID is '3' but SLURM_ARRAY_TASK_COUNT, _MIN and _MAX are not all whole numbers",
            ShardSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "3"))).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_reads_a_kubernetes_indexed_job_with_the_count_it_is_given()
    {
        Assert.Equal(new ShardSpec(3, 5), ShardSpec.Parse("auto", Env(("JOB_COMPLETION_INDEX", "2"), (ShardSpec.CountVariable, "5"))).Shard);
        Assert.Equal("auto: a Kubernetes Indexed Job gives the index but not the count; set CADENCE_SHARD_COUNT to the Job's completions (got '')",
            ShardSpec.Parse("auto", Env(("JOB_COMPLETION_INDEX", "2"))).Problem);
        Assert.Equal("auto: JOB_COMPLETION_INDEX + 1 gives shard 6, outside [1, 5]",
            ShardSpec.Parse("auto", Env(("JOB_COMPLETION_INDEX", "5"), (ShardSpec.CountVariable, "5"))).Problem);
    }

    [Fact]
    public void Equal_costs_are_dealt_round_robin()
    {
        Assert.Equal([0, 1, 2, 0, 1, 2, 0, 1], ShardPlan.Assign([.. Enumerable.Repeat(90L, 8)], 3));
        Assert.Equal([0, 0, 0], ShardPlan.Assign([5, 5, 5], 1));
        Assert.Equal([0, 1], ShardPlan.Assign([5, 5], 4));   // more shards than runs: the last shards get none
    }

    [Fact]
    public void Unequal_costs_are_balanced_within_one_run_of_the_mean_and_every_run_is_dealt_once()
    {
        // A sweep whose last axis is cycle-len 10, 1, 1, 1 (150 or 15 steps), 9 cells × 4 on 4 shards.
        long[] costs = [.. Enumerable.Range(0, 36).Select(i => i % 4 == 0 ? 150L : 15)];
        var shardOf = ShardPlan.Assign(costs, 4);
        Assert.Equal(shardOf, ShardPlan.Assign(costs, 4));   // deterministic
        var load = Enumerable.Range(0, 4).Select(s => costs.Where((_, i) => shardOf[i] == s).Sum()).ToArray();
        Assert.Equal(costs.Sum(), load.Sum());
        Assert.True(load.Max() - load.Min() <= costs.Max(), string.Join(", ", load));
        // Round-robin would put every 150-step run on shard 0: 1,350 steps against 135.
        var roundRobin = Enumerable.Range(0, 4).Select(s => costs.Where((_, i) => i % 4 == s).Sum()).ToArray();
        Assert.True(load.Max() < roundRobin.Max(), $"{string.Join(", ", load)} vs round-robin {string.Join(", ", roundRobin)}");
    }
}

/// <summary>The unsharded sweep of <see cref="ShardProcessTests"/>, run once in its own process for both tests.</summary>
public sealed class UnshardedSweep : IDisposable
{
    private readonly Lazy<string> _dir;

    public UnshardedSweep()
    {
        Temp = new TempDirectory("cadence-shards");
        _dir = new(() =>
        {
            string full = Temp["full"];
            using var p = new CadenceProcess(Sweep(full));
            var (code, _, err) = p.Wait();
            Assert.True(code == 0, err);
            return full;
        });
    }

    public TempDirectory Temp { get; }

    /// <summary>The unsharded sweep's folder.</summary>
    public string Dir => _dir.Value;

    /// <summary>2 × 2 cells × 2 seeds of fastai's use_clr on the noisy CSV: 8 runs of 90 steps (6 epochs of 15 batches).</summary>
    public string[] Sweep(string outDir) =>
        ["sweep", "fit", .. CsvData(Csv()), "--lr", "grid:0.05,0.1", "--cycle-len", "6", "--use-clr", "div=10,32 cut-div=3", "--seeds", "2", "--out", outDir];

    private string Csv() => File.Exists(Temp["noisy.csv"]) ? Temp["noisy.csv"] : NoisyCsv(Temp.Path);

    public void Dispose() => Temp.Dispose();
}

/// <summary>
/// Sharded sweeps in separate processes, as a cluster runs them: three shards and their merge give the unsharded sweep
/// cell for cell (every number but times), also when a shard is killed with SIGKILL mid-run and resumed.
/// </summary>
public sealed class ShardProcessTests(UnshardedSweep sweep, ITestOutputHelper log) : IClassFixture<UnshardedSweep>
{
    private string[] Sweep(string outDir) => sweep.Sweep(outDir);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = Program.Run(args, o, e, CancellationToken.None);
        return (code, o.ToString(), e.ToString());
    }

    private static void RunShards(string outDir, Func<string, string[]> sweep, params int[] shards)
    {
        var processes = shards.Select(k => new CadenceProcess([.. sweep(outDir), "--shard", $"{k}/3"])).ToList();
        foreach (var p in processes)
        {
            var (code, _, err) = p.Wait();
            Assert.True(code == 0, err);
            p.Dispose();
        }
    }

    [Fact]
    public void Three_shard_processes_and_their_merge_equal_the_unsharded_sweep_cell_for_cell()
    {
        if (!OperatingSystem.IsLinux()) return;
        string full = sweep.Dir;
        string sharded = sweep.Temp["sharded"];
        var clock = Stopwatch.StartNew();
        RunShards(sharded, Sweep, 1, 2, 3);
        log.WriteLine($"3 shards in parallel: {clock.Elapsed.TotalSeconds:F1} s");
        // Round-robin over 8 equal runs: 3, 3 and 2.
        Assert.Equal([3, 3, 2], Enumerable.Range(1, 3).Select(k => File.ReadAllLines(Path.Combine(sharded, $"shard-{k}-of-3", "sweep.csv")).Length - 1));
        var (mergeCode, stdout, stderr) = Run("sweep", "merge", "--out", sharded);
        Assert.True(mergeCode == 0, stderr);
        Assert.Contains("cadence sweep merge: 3 shards, 8 runs, all present; writing " + sharded, stderr);
        Assert.Contains("best: ", stdout);
        AssertSameSweep(full, sharded);
    }

    [Fact]
    public void A_shard_killed_with_sigkill_mid_run_and_resumed_still_merges_to_the_unsharded_sweep()
    {
        if (!OperatingSystem.IsLinux()) return;
        string full = sweep.Dir;
        string sharded = sweep.Temp["killed"];
        string csv = Path.Combine(sharded, "shard-2-of-3", "sweep.csv");
        // Shard 2 is killed as soon as its first run is recorded, while its second run trains (a run takes ~0.1 s or more).
        bool killedWhileRunning;
        using (var victim = new CadenceProcess([.. Sweep(sharded), "--shard", "2/3"]))
        {
            var clock = Stopwatch.StartNew();
            while (!(File.Exists(csv) && File.ReadAllLines(csv).Length >= 2) && !victim.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) Thread.Sleep(2);
            killedWhileRunning = !victim.HasExited;
            victim.Kill();
            var (code, _, err) = victim.Wait();
            Assert.True(killedWhileRunning, "the shard finished before it could be killed: " + err);
            Assert.NotEqual(0, code);
        }
        Assert.Equal(2, File.ReadAllLines(csv).Length);   // header and the first run
        RunShards(sharded, Sweep, 1, 3);

        var (refused, _, why) = Run("sweep", "merge", "--out", sharded);
        Assert.Equal(1, refused);
        Assert.Equal("cadence sweep merge: SHARD_DIR: shard 2/3 lacks 2 runs: 'lr=0.05 div=10' seed 1, 'lr=0.1 div=32' seed 1; " +
                     "finish them (cadence sweep … --shard K/N --resume) and merge again" + Environment.NewLine, why);

        using (var resumed = new CadenceProcess([.. Sweep(sharded), "--shard", "2/3", "--resume"]))
        {
            var (again, _, resumeErr) = resumed.Wait();
            Assert.True(again == 0, resumeErr);
            Assert.Contains($"resuming {csv}: 1 runs already recorded", resumeErr);
            Assert.Contains("[2/2] ", resumeErr);
        }
        var (merged, _, mergeErr) = Run("sweep", "merge", "--out", sharded);
        Assert.True(merged == 0, mergeErr);
        AssertSameSweep(full, sharded);
    }

    /// <summary>The same sweep.csv (but for the seconds column), results.json (but for times) and heat-map, pixel for pixel.</summary>
    internal static void AssertSameSweep(string expectedDir, string actualDir)
    {
        static string[] Rows(string dir) => [.. File.ReadAllLines(Path.Combine(dir, "sweep.csv")).Select(l =>
        {
            var f = RunRecord.SplitCsv(l);
            f.RemoveAt(RunRecord.Columns.ToList().IndexOf("seconds"));
            return string.Join('|', f);
        })];
        Assert.Equal(Rows(expectedDir), Rows(actualDir));
        Assert.Equal(WithoutTimes(Path.Combine(expectedDir, "results.json")), WithoutTimes(Path.Combine(actualDir, "results.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(expectedDir, "heatmap.png")), File.ReadAllBytes(Path.Combine(actualDir, "heatmap.png")));
        Assert.True(File.Exists(Path.Combine(actualDir, "report.html")));
    }

    /// <summary>A results.json with every <c>seconds</c> and <c>seconds_mean</c> removed, as text.</summary>
    internal static string WithoutTimes(string path)
    {
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        void Strip(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                o.Remove("seconds");
                o.Remove("seconds_mean");
                foreach (var (_, v) in o.ToList()) Strip(v);
            }
            else if (n is JsonArray a) foreach (var v in a) Strip(v);
        }
        Strip(node);
        return node.ToJsonString();
    }
}

/// <summary>What a merge refuses, and what a shard refuses on a second start; shards made in this process (tiny runs).</summary>
[Collection(TrainingCollection.Name)]
public sealed class ShardMergeTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-merge");

    public void Dispose() => _temp.Dispose();

    /// <summary>4 runs (lr 0.01 and 0.02 × seeds 0 and 1) of one epoch, dealt round-robin to 2 shards: shard 1 has lr=0.01, shard 2 lr=0.02.</summary>
    private string[] Sweep(string outDir, string lrs = "grid:0.01,0.02") =>
        ["sweep", "constant", .. CsvData(Csv()), "--lr", lrs, "--epochs", "1", "--seeds", "2", "--out", outDir];

    private string Csv() => File.Exists(_temp["noisy.csv"]) ? _temp["noisy.csv"] : NoisyCsv(_temp.Path);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = Program.Run(args, o, e, CancellationToken.None);
        return (code, o.ToString(), e.ToString());
    }

    private string Shards(string name, string lrs = "grid:0.01,0.02")
    {
        string dir = _temp[name];
        foreach (var k in new[] { "1/2", "2/2" })
        {
            var (code, _, err) = Run([.. Sweep(dir, lrs), "--shard", k]);
            Assert.True(code == 0, err);
        }
        return dir;
    }

    private static string S1(string dir) => Path.Combine(dir, "shard-1-of-2");

    private static string S2(string dir) => Path.Combine(dir, "shard-2-of-2");

    private void AssertRefused(string message, params string[] args)
    {
        var (code, stdout, stderr) = Run(["sweep", "merge", .. args]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal($"cadence sweep merge: SHARD_DIR: {message}" + Environment.NewLine, stderr);
    }

    [Fact]
    public void A_merge_names_foreign_missing_and_duplicated_runs_and_writes_nothing()
    {
        string good = Shards("good");
        string other = Shards("other", "grid:0.01,0.03");
        string merged = _temp["merged"];

        AssertRefused($"{S2(other)} belongs to another experiment than {S1(good)}: its grid has 'lr=0.03', which this one has not", "--out", merged, S1(good), S2(other));
        AssertRefused($"shard 2/2 not given (2 runs: 'lr=0.02' seed 0, 'lr=0.02' seed 1); finish them (cadence sweep … --shard K/N --resume) and merge again",
            "--out", merged, S1(good));
        AssertRefused($"shard 1/2 is given twice: {S1(good)} and {S1(good)}", "--out", merged, S1(good), S1(good), S2(good));
        AssertRefused($"{_temp.Path} is not a shard folder: it has no shard.json (cadence sweep --shard K/N --out DIR writes DIR/shard-K-of-N)", "--out", merged, _temp.Path);

        // A run lost (its row deleted), then a run recorded twice (shard 1's first row copied into shard 2).
        string lost = _temp["lost"];
        CopyTree(good, lost);
        var csv2 = Path.Combine(S2(lost), "sweep.csv");
        var lines = File.ReadAllLines(csv2);
        File.WriteAllLines(csv2, lines[..^1]);
        AssertRefused("shard 2/2 lacks 1 run: 'lr=0.02' seed 1; finish them (cadence sweep … --shard K/N --resume) and merge again", "--out", merged, S1(lost), S2(lost));
        File.AppendAllLines(csv2, [lines[^1], File.ReadAllLines(Path.Combine(S1(lost), "sweep.csv"))[1]]);
        AssertRefused($"1 run is recorded more than once: 'lr=0.01' seed 0 (in {S1(lost)} and {S2(lost)})", "--out", merged, S1(lost), S2(lost));
        Assert.False(Directory.Exists(merged));

        // The good shards merge (found in --out), once: a second merge does not overwrite the first.
        var (code, _, err) = Run("sweep", "merge", "--out", good);
        Assert.True(code == 0, err);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(good, "sweep.csv")).Length);
        TestData.AssertUsageError(Run("sweep", "merge", "--out", good),
            $"cadence sweep merge: --out: {Path.Combine(good, "sweep.csv")} exists; a merge writes a new folder (remove it to merge again, or choose another --out)");
        TestData.AssertUsageError(Run("sweep", "merge", "--out", _temp["empty"]),
            $"cadence sweep merge: SHARD_DIR: no shard folders given, and {_temp["empty"]} holds no shard-K-of-N folder with a shard.json");
        log.WriteLine("refusals checked");
    }

    [Fact]
    public void A_shard_refuses_a_second_start_and_a_resume_of_another_experiment_and_resumes_its_own()
    {
        string dir = Shards("twice");
        TestData.AssertUsageError(Run([.. Sweep(dir), "--shard", "1/2"]),
            $"cadence sweep: --out: {S1(dir)} holds shard 1/2 already; pass --resume to continue it, or choose another --out");
        TestData.AssertUsageError(Run([.. Sweep(dir, "grid:0.01,0.05"), "--shard", "1/2", "--resume"]),
            $"cadence sweep: --resume: {S1(dir)} holds a shard of another experiment: its grid has 'lr=0.02', which this one has not; choose another --out");
        var (code, _, err) = Run([.. Sweep(dir), "--shard", "1/2", "--resume"]);
        Assert.True(code == 0, err);
        Assert.Contains("2 runs already recorded", err);
        Assert.DoesNotContain("[1/", err);
        TestData.AssertUsageError(Run([.. Sweep(dir), "--shard", "3/2"]), "cadence sweep: --shard: the shard must be in [1, 2], got 3");
        TestData.AssertUsageError(Run(["sweep", "constant", .. CsvData(Csv()), "--lr", "0.1", "--shard", "1/2"]),
            "cadence sweep: --shard: needs --out DIR, the experiment's folder");
        TestData.AssertUsageError(Run(["compare", .. CsvData(Csv()), "--resume", dir, "constant lr=0.1"]),
            "cadence compare: --resume: only a shard resumes (with --shard K/N)");
    }

    [Fact]
    public void A_sharded_compare_merges_to_the_unsharded_compare_with_every_epoch()
    {
        string[] Compare(string outDir) =>
            ["compare", .. CsvData(Csv()), "--epochs", "2", "--seeds", "2", "--target-accuracy", "0.5", "--out", outDir, "clr: fit lr=0.05 cycle-len=2 use-clr=32,5", "constant lr=0.02"];
        string full = _temp["compare-full"], sharded = _temp["compare-sharded"];
        Assert.Equal(0, Run(Compare(full)).Code);
        foreach (var k in new[] { "1/3", "2/3", "3/3" })
        {
            var (code, _, err) = Run([.. Compare(sharded), "--shard", k]);
            Assert.True(code == 0, err);
        }
        var (merged, _, mergeErr) = Run("compare", "merge", "--out", sharded);
        Assert.True(merged == 0, mergeErr);
        static string[] Rows(string dir) => [.. File.ReadAllLines(Path.Combine(dir, "results.csv")).Select(l => string.Join('|', RunRecord.SplitCsv(l).Where((_, i) => i != 14)))];
        Assert.Equal(Rows(full), Rows(sharded));
        string json = ShardProcessTests.WithoutTimes(Path.Combine(sharded, "results.json"));
        Assert.Equal(ShardProcessTests.WithoutTimes(Path.Combine(full, "results.json")), json);
        Assert.Contains("\"history\":[{\"epoch\":1,", json);   // the epochs came through the shards' histories.jsonl
        foreach (var chart in new[] { "schedules.png", "accuracy.png", "valid_loss.png" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(full, chart)), File.ReadAllBytes(Path.Combine(sharded, chart)));
    }

    [Fact]
    public void A_merge_of_1000_cells_takes_seconds_and_loads_no_data()
    {
        // Four shard folders of a 10 × 10 × 10 grid (one seed), written as shards write them but with made-up metrics: the
        // merge checks and joins 1,000 rows and draws 10 heat-maps and the report. No data is read: the CSV file is removed.
        string csv = Csv(), dir = _temp["big"];
        string[] values = [.. Enumerable.Range(1, 10).Select(i => i.ToString(CultureInfo.InvariantCulture))];
        var policyArgs = new[] { "fit", "--lr", "grid:" + string.Join(',', values.Select(v => "0.0" + v)), "--cycle-len", "1", "--use-clr", $"div={string.Join(',', values)} cut-div={string.Join(',', values)}" };
        var grid = SweepGrid.Parse("fit", [("lr", policyArgs[2]), ("cycle-len", "1"), ("use-clr", policyArgs[6])]);
        var cells = grid.Cells();
        Assert.Equal(1000, cells.Count);
        string setup = $"data=csv:{csv} target=label valid-pct=0.2 subset=1 model=auto bs=16 opt=sgd wd=default epochs=auto";
        var configurations = cells.Select(c => new ShardConfiguration(c.Label, c.Schedule.Text)).ToList();
        var runs = ShardSet.Canonical(configurations, [0]);
        var shardOf = ShardPlan.Assign([.. runs.Select(_ => 15L)], 4);
        string[] args = [.. policyArgs, "--metric", "accuracy", "--seed", "0", "--data", $"csv {csv}", "--target", "label", "--bs", "16"];
        for (int s = 0; s < 4; s++)
        {
            var mine = runs.Where((_, i) => shardOf[i] == s).ToList();
            string shard = Path.Combine(dir, $"shard-{s + 1}-of-4");
            Directory.CreateDirectory(shard);
            new ShardManifest(ShardManifest.CurrentFormat, "sweep", s + 1, 4, setup, "sha256:0", configurations, [0], "metric accuracy", args, 1, 15, mine).Write(shard);
            ResultsCsv.WriteAll(Path.Combine(shard, "sweep.csv"), mine.Select((r, i) => new RunRecord(setup, r.Label, r.Spec, 0, RunStatus.Ok, 1, 15,
                0.5, 0.6, 0.5 + i % 7 * 0.05, 0.8, 0.55, null, null, 0.1, null)));
        }
        File.Delete(csv);
        var clock = Stopwatch.StartNew();
        var (code, _, err) = Run("sweep", "merge", "--out", dir);
        double seconds = clock.Elapsed.TotalSeconds;
        Assert.True(code == 0, err);
        log.WriteLine($"merge of 1000 cells: {seconds:F2} s (under load; the target is < 5 s on a quiet machine)");
        Assert.Equal(1001, File.ReadAllLines(Path.Combine(dir, "sweep.csv")).Length);
        Assert.Equal(10, Directory.GetFiles(dir, "heatmap-*.png").Length);
        Assert.True(seconds < 30, $"merge of 1000 cells took {seconds:F1} s");
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to, StringComparison.Ordinal));
    }
}
