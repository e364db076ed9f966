using Cadence.TestSupport;
using System.Text.Json;
using Cadence.Cli.Experiments;
using static Cadence.Cli.Tests.ExperimentTestData;

namespace Cadence.Cli.Tests;

public sealed class SweepGridTests
{
    private static SweepGrid Parse(string policy, params (string, string)[] given) => SweepGrid.Parse(policy, given);

    [Fact]
    public void Tuple_components_expand_into_every_combination_first_axis_slowest()
    {
        var grid = Parse("fit", ("lr", "0.1"), ("cycle-len", "3"), ("use-clr", "div=10,20,32,40 cut-div=3,5,10"));
        Assert.Equal(["div", "cut-div"], grid.Axes.Select(a => a.Name));
        var cells = grid.Cells();
        Assert.Equal(12, cells.Count);
        Assert.Equal("div=10 cut-div=3", cells[0].Label);
        Assert.Equal("fit lr=0.1 cycle-len=3 use-clr=10,3", cells[0].Schedule.Text);
        Assert.Equal("fit lr=0.1 cycle-len=3 use-clr=10,5", cells[1].Schedule.Text);
        Assert.Equal("fit lr=0.1 cycle-len=3 use-clr=40,10", cells[11].Schedule.Text);
        Assert.Equal("40,10", cells[11].Schedule.Options["use-clr"]);
        Assert.Equal(["40", "10"], cells[11].AxisValues);
        Assert.Equal(12, cells.Select(c => c.Schedule.Text).Distinct().Count());
    }

    [Fact]
    public void Scalar_lists_are_axes_and_list_options_need_grid_or_list()
    {
        var grid = Parse("one-cycle", ("max-lr", "grid:0.05,0.1,0.2"), ("pct-start", "0.25,0.3"), ("anneal-strategy", "cos,linear"), ("base-momentum", "list:0.85"));
        Assert.Equal(["max-lr", "pct-start", "anneal-strategy"], grid.Axes.Select(a => a.Name));
        var cells = grid.Cells();
        Assert.Equal(3 * 2 * 2, cells.Count);
        Assert.Equal("one-cycle max-lr=0.05 pct-start=0.25 anneal-strategy=cos base-momentum=0.85", cells[0].Schedule.Text);
        Assert.Equal("max-lr=0.2 pct-start=0.3 anneal-strategy=linear", cells[^1].Label);

        var lists = Parse("multi-step", ("lr", "list:0.1,0.01"), ("milestones", "grid:30,60;40,80"));
        Assert.Equal(["multi-step lr=0.1,0.01 milestones=30,60", "multi-step lr=0.1,0.01 milestones=40,80"], lists.Cells().Select(c => c.Schedule.Text));

        var fixedTuple = Parse("fit", ("lr", "0.1"), ("cycle-len", "1,2"), ("use-clr", "32,5"));
        Assert.Equal(["fit lr=0.1 cycle-len=1 use-clr=32,5", "fit lr=0.1 cycle-len=2 use-clr=32,5"], fixedTuple.Cells().Select(c => c.Schedule.Text));

        var momentum = Parse("fit", ("lr", "0.1"), ("cycle-len", "2"), ("use-clr", "div=10 cut-div=4 max-mom=0.95 min-mom=0.8,0.85"));
        Assert.Equal(["fit lr=0.1 cycle-len=2 use-clr=10,4,0.95,0.8", "fit lr=0.1 cycle-len=2 use-clr=10,4,0.95,0.85"], momentum.Cells().Select(c => c.Schedule.Text));

        var single = Parse("constant", ("lr", "0.1"));
        Assert.Empty(single.Axes);
        Assert.Equal("constant lr=0.1", Assert.Single(single.Cells()).Label);
    }

    [Theory]
    [InlineData("--max-lr: takes a list itself (X[,X…]), so '0.05,0.1' could be a grid or one list; write grid:0.05,0.1 to sweep single values, or list:0.05,0.1 for one fixed list", "one-cycle", "max-lr", "0.05,0.1")]
    [InlineData("--pct-start: takes one value, not a list; write 1,2,3 (or grid:1,2,3) to sweep it", "one-cycle", "pct-start", "list:0.2,0.3")]
    [InlineData("--pct-start: takes one value, so a grid alternative cannot be the list '0.2,0.3'", "one-cycle", "pct-start", "grid:0.2,0.3;0.4")]
    [InlineData("--pct-start: the value 0.3 is given twice", "one-cycle", "pct-start", "0.3,0.3")]
    [InlineData("--pct-start: an empty value in '0.3,'", "one-cycle", "pct-start", "0.3,")]
    [InlineData("--use-clr: give div cut-div or div cut-div max-mom min-mom, got div", "fit", "use-clr", "div=10,20")]
    [InlineData("--use-clr: expected div=V[,V…] cut-div=V[,V…] max-mom=V[,V…] min-mom=V[,V…], got 'pct=3'", "fit", "use-clr", "div=10 pct=3")]
    [InlineData("--use-clr: cut-div=3 is given twice", "fit", "use-clr", "div=10 cut-div=3,3")]
    [InlineData("--schedulers: takes free text and cannot be swept; give one value", "sequential", "schedulers", "grid:a;b")]
    public void Ambiguous_or_unknown_values_are_usage_errors_naming_the_option(string message, string policy, string option, string value)
    {
        var e = Assert.Throws<UsageException>(() => Parse(policy, (option, value)));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }
}

[Collection(TrainingCollection.Name)]
public sealed class SweepCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-sweep");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => TestData.Run("sweep", args);

    private static string[] Rows(string outDir) => File.ReadAllLines(Path.Combine(outDir, "sweep.csv"))[1..];

    [Fact]
    public void A_diverging_cell_is_marked_and_the_sweep_goes_on()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "diverge");
        var (code, stdout, stderr) = Run([.. CsvData(csv), "fit", "--lr", "grid:0.05,1e4", "--cycle-len", "1", "--use-clr", "div=10 cut-div=3,5",
            "--seeds", "2", "--out", outDir]);
        Assert.True(code == 0, stderr);
        var lines = stdout.Split(Environment.NewLine);
        Assert.Equal("lr    cut-div  accuracy         runs              time/run", lines[0]);
        Assert.Matches(@"^0\.05  3        0\.\d{4} ± 0\.\d{4}  2/2 ", lines[1]);
        Assert.StartsWith("1e4   3        diverged         0/2 (2 diverged)", lines[3], StringComparison.Ordinal);
        // The two-axis grid, as the heat-map lays it out.
        Assert.Contains(stdout.Split(Environment.NewLine), l => l.StartsWith("lr=1e4    diverged", StringComparison.Ordinal));
        Assert.Contains("lr=1e4 cut-div=3 seed 0: diverged: loss is NaN", stdout);
        Assert.StartsWith("best: lr=0.05 cut-div=", stdout.Split(Environment.NewLine).Single(l => l.StartsWith("best:", StringComparison.Ordinal)), StringComparison.Ordinal);
        var rows = Rows(outDir);
        Assert.Equal(4 * 2, rows.Length);
        Assert.Equal(4, rows.Count(r => r.Contains(",diverged,", StringComparison.Ordinal)));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var cells = results.RootElement.GetProperty("cells").EnumerateArray().ToArray();
        Assert.Equal(["ok", "ok", "diverged", "diverged"], cells.Select(c => c.GetProperty("status").GetString()));
        Assert.Equal("1e4", cells[2].GetProperty("at").GetProperty("lr").GetString());
        Assert.Equal(["lr", "cut-div"], results.RootElement.GetProperty("axes").EnumerateArray().Select(a => a.GetProperty("name").GetString()));
        // The heat-map of the two axes, diverged cells included (grey, "—"), and the report holding it.
        ExperimentChartsTests.AssertPng(Path.Combine(outDir, "heatmap.png"));
        var html = ExperimentChartsTests.AssertReport(outDir, 1);
        Assert.Contains("lr=1e4 cut-div=3 seed 0: diverged: loss is NaN", html);
    }

    [Fact]
    public void Resume_skips_the_runs_in_the_csv_and_runs_only_new_cells()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "resume");
        string[] common = [.. CsvData(csv), "constant", "--epochs", "1", "--seeds", "2", "--out", outDir];
        var (code, _, stderr) = Run([.. common, "--lr", "grid:0.01,0.02"]);
        Assert.True(code == 0, stderr);
        var first = Rows(outDir);
        Assert.Equal(4, first.Length);

        (code, var stdout, stderr) = Run([.. common, "--lr", "grid:0.01,0.02,0.05", "--resume"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("resuming " + Path.Combine(outDir, "sweep.csv") + ": 4 runs already recorded", stderr);
        Assert.Contains("[2/2] lr=0.05 seed 1:", stderr);
        Assert.DoesNotContain("[3/", stderr);
        var all = Rows(outDir);
        Assert.Equal(first, all[..4]);   // the old rows untouched, two new ones appended
        Assert.Equal(2, all[4..].Count(r => r.Contains("constant lr=0.05", StringComparison.Ordinal)));
        Assert.Equal(3, stdout.Split(Environment.NewLine).Count(l => l.Contains("  2/2  ", StringComparison.Ordinal)));   // every cell, old and new

        // Everything done: a third resume (spelled as fit spells it, --resume DIR) trains nothing.
        (code, _, stderr) = Run([.. common, "--lr", "grid:0.01,0.02,0.05", "--resume", outDir]);
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain("[1/", stderr);
        Assert.Equal(6, Rows(outDir).Length);
    }

    [Fact]
    public void Resume_refuses_a_csv_of_another_setup_and_a_fresh_sweep_refuses_to_overwrite()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "setup");
        var (code, _, stderr) = Run([.. CsvData(csv), "constant", "--lr", "0.01", "--epochs", "1", "--out", outDir]);
        Assert.True(code == 0, stderr);

        (code, var stdout, stderr) = Run(["--data", "csv", csv, "--target", "label", "--bs", "8", "constant", "--lr", "0.01", "--epochs", "1", "--out", outDir, "--resume"]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"cadence sweep: --resume: {Path.Combine(outDir, "sweep.csv")} line 2 was run with a different setup (", stderr, StringComparison.Ordinal);
        Assert.Contains("bs=16", stderr);

        (code, _, stderr) = Run([.. CsvData(csv), "constant", "--lr", "0.01", "--epochs", "1", "--out", outDir]);
        Assert.Equal(2, code);
        Assert.Equal($"cadence sweep: --out: {Path.Combine(outDir, "sweep.csv")} exists; pass --resume DIR to continue that sweep, or choose another --out" + Environment.NewLine, stderr);
    }

    [Fact]
    public void Resume_drops_a_last_line_cut_short_and_redoes_that_run()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "torn");
        string[] args = [.. CsvData(csv), "constant", "--lr", "0.01", "--epochs", "1", "--seeds", "2", "--out", outDir];
        Assert.Equal(0, Run(args).Code);
        var path = Path.Combine(outDir, "sweep.csv");
        var lines = File.ReadAllLines(path);
        File.WriteAllText(path, string.Join("\n", lines[..2]) + "\n" + lines[2][..20]);   // a crash in the middle of the last row
        var (code, _, stderr) = Run([.. args, "--resume"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("dropping an incomplete last line", stderr);
        Assert.Contains("[1/1] constant lr=0.01 seed 1:", stderr);
        var after = File.ReadAllLines(path);
        Assert.Equal(lines[..2], after[..2]);
        Assert.Equal(3, after.Length);
        Assert.Contains(",constant lr=0.01,0,ok,", after[1]);
        Assert.Contains(",constant lr=0.01,1,ok,", after[2]);
    }

    [Fact]
    public void Max_minutes_reports_the_cells_it_did_not_reach()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "time");
        var (code, stdout, stderr) = Run([.. CsvData(csv), "constant", "--lr", "grid:0.01,0.02", "--epochs", "1", "--seeds", "2",
            "--max-minutes", "0.00001", "--out", outDir]);
        Assert.True(code == 0, stderr);
        Assert.Contains($"not reached (--max-minutes 1E-05 reached): 4 of 4 runs; rerun with --resume {outDir} to do them:", stdout);
        Assert.Contains("  lr=0.01: seeds 0, 1", stdout);
        Assert.Contains("not run", stdout);
        Assert.Empty(Rows(outDir));
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        Assert.False(results.RootElement.GetProperty("complete").GetBoolean());
        Assert.Equal(4, results.RootElement.GetProperty("unreached").GetArrayLength());
    }

    [Fact]
    public void Ctrl_c_keeps_the_finished_rows_and_resume_completes_the_sweep()
    {
        var csv = NoisyCsv(_dir);
        var outDir = Path.Combine(_dir, "cancel");
        string[] args = [.. CsvData(csv), "constant", "--lr", "grid:0.01,0.02", "--epochs", "1", "--seeds", "2", "--out", outDir];
        using var cts = new CancellationTokenSource();
        var stderr = new CancelOnLine(cts, "[2/4] lr=0.02 seed 0: accuracy");
        int code = Program.Run(["sweep", .. args], new StringWriter(), stderr, cts.Token);
        Assert.True(code == 130, stderr.ToString());
        Assert.Equal(2, Rows(outDir).Length);
        var (again, _, err) = Run([.. args, "--resume"]);
        Assert.True(again == 0, err);
        Assert.Equal(4, Rows(outDir).Length);
        Assert.Equal(4, Rows(outDir).Select(r => string.Join(',', r.Split(',')[2..4])).Distinct().Count());   // (spec, seed) once each
    }

    [Theory]
    [InlineData("cadence sweep: POLICY: required (see cadence sweep --help)", "--lr", "0.1")]
    [InlineData("cadence sweep: unexpected argument '0.2'", "constant", "--lr", "0.1", "0.2")]
    [InlineData("cadence sweep: --metric: expected accuracy, best_accuracy, valid_loss, got 'f1'", "constant", "--lr", "0.1", "--metric", "f1")]
    [InlineData("cadence sweep: --resume: needs the sweep's folder: --resume DIR", "constant", "--lr", "0.1", "--resume")]
    [InlineData("cadence sweep: --max-minutes: must be in (0, 1000000], got 0", "constant", "--lr", "0.1", "--max-minutes", "0")]
    [InlineData("cadence sweep: --lr: takes a list itself", "constant", "--lr", "0.1,0.2")]
    [InlineData("cadence sweep: --lr: missing value", "constant", "--lr")]
    [InlineData("cadence sweep: --lr: given twice", "constant", "--lr", "0.1", "--lr", "0.2")]
    [InlineData("cadence sweep: --cut-div: is not an option of cadence sweep or of policy fit", "fit", "--cut-div", "3,5")]
    [InlineData("cadence sweep: --iterations: the length comes from --epochs and the data; drop it", "constant", "--lr", "0.1", "--iterations", "5")]
    [InlineData("cadence sweep: POLICY: unknown policy 'warp'", "warp", "--lr", "0.1")]
    [InlineData("cadence sweep: schedule 'cut-div=0' (fit lr=0.1 cycle-len=1 use-clr=10,0): use-clr: ", "fit", "--lr", "0.1", "--cycle-len", "1", "--use-clr", "div=10 cut-div=3,0")]
    public void Usage_errors_exit_2_with_one_line_naming_the_option(string message, params string[] args) =>
        TestData.AssertUsageError(Run([.. CsvData(NoisyCsv(_dir)), .. args]), message);
}
