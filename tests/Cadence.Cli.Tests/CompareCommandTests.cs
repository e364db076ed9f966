using Cadence.TestSupport;
using System.Text.Json;
using static Cadence.Cli.Tests.ExperimentTestData;

namespace Cadence.Cli.Tests;

[Collection(TrainingCollection.Name)]
public sealed class CompareCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-compare");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => TestData.Run("compare", args);

    [Fact]
    public void Compares_schedules_over_seeds_and_writes_one_csv_row_per_run_and_histories_in_json()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "out");
        var (code, stdout, stderr) = Run([.. CsvData(csv), "--epochs", "2", "--seeds", "2", "--out", outDir, "--json",
            "clr: fit lr=0.05 cycle-len=2 use-clr=10,4", "one-cycle max-lr=0.05", "constant lr=0.01"]);
        Assert.True(code == 0, stderr);

        // The table (stderr with --json): one line per schedule, labelled by name or by its text.
        var table = stderr.Split(Environment.NewLine).SkipWhile(l => !l.StartsWith("schedule", StringComparison.Ordinal)).ToArray();
        Assert.StartsWith("schedule               runs  accuracy", table[0], StringComparison.Ordinal);
        Assert.StartsWith("clr                    2/2   0.", table[1], StringComparison.Ordinal);
        Assert.StartsWith("one-cycle max-lr=0.05  2/2   0.", table[2], StringComparison.Ordinal);
        Assert.StartsWith("constant lr=0.01       2/2   0.", table[3], StringComparison.Ordinal);
        Assert.Contains(" ± ", table[1]);

        using var summary = JsonDocument.Parse(stdout.Trim());
        var schedules = summary.RootElement.GetProperty("schedules").EnumerateArray().ToArray();
        Assert.Equal(["clr", "one-cycle max-lr=0.05", "constant lr=0.01"], schedules.Select(s => s.GetProperty("label").GetString()));

        var rows = File.ReadAllLines(Path.Combine(outDir, "results.csv"));
        Assert.Equal(1 + 3 * 2, rows.Length);
        Assert.StartsWith("setup,label,spec,seed,status,", rows[0], StringComparison.Ordinal);
        Assert.Contains(",clr,\"fit lr=0.05 cycle-len=2 use-clr=10,4\",0,ok,2,30,", rows[1]);

        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        foreach (var (s, i) in results.RootElement.GetProperty("schedules").EnumerateArray().Select((s, i) => (s, i)))
        {
            Assert.Equal(2 * 15, s.GetProperty("lr").GetArrayLength());   // 2 epochs of 15 batches, one lr per iteration
            var runs = s.GetProperty("runs").EnumerateArray().ToArray();
            Assert.Equal([0L, 1L], runs.Select(r => r.GetProperty("seed").GetInt64()));
            // The mean in the summary is the mean of the runs' final accuracies, each the last epoch of its history.
            var finals = runs.Select(r => r.GetProperty("history").EnumerateArray().Last().GetProperty("accuracy").GetDouble()).ToArray();
            Assert.Equal(finals, runs.Select(r => r.GetProperty("accuracy").GetDouble()));
            Assert.Equal(finals.Average(), s.GetProperty("accuracy").GetProperty("mean").GetDouble(), 12);
            Assert.Equal(schedules[i].GetProperty("accuracy").GetProperty("mean").GetDouble(), s.GetProperty("accuracy").GetProperty("mean").GetDouble());
        }
        // one-cycle has momentum (inverse to the lr); constant has none.
        var all = results.RootElement.GetProperty("schedules");
        Assert.Equal(JsonValueKind.Array, all[1].GetProperty("momentum").ValueKind);
        Assert.Equal(JsonValueKind.Null, all[2].GetProperty("momentum").ValueKind);
    }

    [Theory]
    [InlineData("fit lr=0.05 cycle-len=2 use-clr=10,4", new[] { "--lr", "0.05", "--cycle-len", "2", "--use-clr", "10,4" })]
    [InlineData("one-cycle max-lr=0.05", new[] { "--epochs", "2", "--schedule", "one-cycle", "--max-lr", "0.05" })]
    public void A_run_gives_exactly_what_cadence_fit_gives_with_the_same_options_and_seed(string schedule, string[] fitArgs)
    {
        var csv = NoisyCsv(_dir);
        string[] common = [.. CsvData(csv), "--subset", "0.8"];
        var fitOut = new StringWriter();
        var fitErr = new StringWriter();
        Assert.True(Program.Run(["fit", .. common, "--seed", "1", "--json", .. fitArgs], fitOut, fitErr, CancellationToken.None) == 0, fitErr.ToString());
        using var fit = JsonDocument.Parse(fitOut.ToString().Trim());

        var (code, stdout, stderr) = Run([.. common, "--epochs", "2", "--seed-list", "1", "--json", schedule]);
        Assert.True(code == 0, stderr);
        using var compare = JsonDocument.Parse(stdout.Trim());
        var s = compare.RootElement.GetProperty("schedules")[0];
        Assert.Equal(fit.RootElement.GetProperty("accuracy").GetDouble(), s.GetProperty("accuracy").GetProperty("mean").GetDouble());
        Assert.Equal(fit.RootElement.GetProperty("valid_loss").GetDouble(), s.GetProperty("valid_loss").GetProperty("mean").GetDouble());
    }

    [Fact]
    public void Target_accuracy_is_the_first_epoch_that_reached_it_and_the_table_counts_who_did()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "target");
        var (code, stdout, stderr) = Run([.. CsvData(csv), "--epochs", "3", "--seeds", "2", "--target-accuracy", "0.84", "--out", outDir,
            "slow: constant lr=0.0005", "fast: constant lr=0.002"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("reached 0.84  at epoch  at iteration", stdout);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        int reachedLate = 0, missed = 0;
        foreach (var s in results.RootElement.GetProperty("schedules").EnumerateArray())
        {
            int reached = 0;
            foreach (var r in s.GetProperty("runs").EnumerateArray())
            {
                var acc = r.GetProperty("history").EnumerateArray().Select(e => e.GetProperty("accuracy").GetDouble()).ToList();
                int first = acc.FindIndex(a => a >= 0.84);
                if (first < 0)
                {
                    missed++;
                    Assert.Equal(JsonValueKind.Null, r.GetProperty("target_epoch").ValueKind);
                    continue;
                }
                reached++;
                if (first > 0) reachedLate++;
                Assert.Equal(first + 1, r.GetProperty("target_epoch").GetInt32());
                Assert.Equal((first + 1) * 15, r.GetProperty("target_iteration").GetInt64());
            }
            Assert.Equal(reached, s.GetProperty("target").GetProperty("reached").GetInt32());
            var label = s.GetProperty("label").GetString()!;
            Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(label)}\s.*\s{reached}/2\s", stdout);
        }
        Assert.True(reachedLate > 0 && missed > 0, "the data should make some runs reach the target late and some never: " + stderr);
    }

    [Fact]
    public void Ctrl_c_stops_and_keeps_the_finished_runs()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "cancel");
        using var cts = new CancellationTokenSource();
        var stderr = new CancelOnLine(cts, "[1/4] constant lr=0.01 seed 0: accuracy");
        int code = Program.Run(["compare", .. CsvData(csv), "--epochs", "1", "--seeds", "2", "--out", outDir, "constant lr=0.01", "constant lr=0.02"],
            new StringWriter(), stderr, cts.Token);
        Assert.True(code == 130, stderr.ToString());
        Assert.Contains("cadence compare: cancelled after 1 of 4 runs", stderr.ToString());
        Assert.Equal(2, File.ReadAllLines(Path.Combine(outDir, "results.csv")).Length);   // header + the finished run
    }

    [Theory]
    [InlineData("cadence compare: SCHEDULE: give at least one schedule, e.g. \"one-cycle max-lr=0.1\" (see cadence compare --help)")]
    [InlineData("cadence compare: --bogus: unknown option (see cadence compare --help)", "--bogus", "constant lr=0.1")]
    [InlineData("cadence compare: SCHEDULE 'fit lr': expects key=value after the policy name, got 'lr'", "fit lr")]
    [InlineData("cadence compare: SCHEDULE 'one-cycle foo=1': foo: is not an option of cadence compare or of policy one-cycle", "one-cycle foo=1")]
    [InlineData("cadence compare: SCHEDULE 'warp lr=1': unknown policy 'warp'", "warp lr=1")]
    [InlineData("cadence compare: SCHEDULE 'one-cycle max-lr=fast': max-lr: expects a number", "one-cycle max-lr=fast")]
    [InlineData("cadence compare: SCHEDULE 'constant lr=0.1 iterations=5': iterations: the length comes from --epochs and the data; drop it", "constant lr=0.1 iterations=5")]
    [InlineData("cadence compare: --seeds: must be a whole number in [1, 10000], got 0", "--seeds", "0", "constant lr=0.1")]
    [InlineData("cadence compare: --seeds: give one of --seed, --seeds and --seed-list, not --seed too", "--seed", "1", "--seeds", "2", "constant lr=0.1")]
    [InlineData("cadence compare: --seed-list: a seed is given twice in '1,1'", "--seed-list", "1,1", "constant lr=0.1")]
    [InlineData("cadence compare: --target-accuracy: must be in [0, 1], got 2", "--target-accuracy", "2", "constant lr=0.1")]
    [InlineData("cadence compare: SCHEDULE: two schedules are labelled 'a'; name them apart with 'NAME: POLICY …'", "a: constant lr=0.1", "a: constant lr=0.2")]
    [InlineData("cadence compare: schedule 'cosine lr=0.1': --epochs: required with cosine (or --t-max: is required", "cosine lr=0.1")]
    [InlineData("cadence compare: schedule 'big' (one-cycle max-lr=-1): max-lr: must be", "--epochs", "1", "big: one-cycle max-lr=-1")]
    [InlineData("cadence compare: schedule 'fit lr=0.1 cycle-len=2': --epochs: 3 epochs of 15 batches are 45 steps but the fit schedule is 30 steps long", "--epochs", "3", "fit lr=0.1 cycle-len=2")]
    public void Usage_errors_exit_2_with_one_line_naming_the_option(string message, params string[] args) =>
        TestData.AssertUsageError(Run([.. CsvData(NoisyCsv(_dir)), .. args]), message);
}
