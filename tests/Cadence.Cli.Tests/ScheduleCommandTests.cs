using Cadence.TestSupport;
using System.Text.Json;
using Cadence.Cli;

namespace Cadence.Cli.Tests;

public class ScheduleCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = Program.Run(args, o, e, CancellationToken.None);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Json_has_the_promised_shape_and_round_trip_numbers()
    {
        var (code, output, _) = Run("schedule", "one-cycle", "--max-lr", "0.01", "--total-steps", "10", "--json");
        Assert.Equal(0, code);
        Assert.Equal(output, Run("schedule", "one-cycle", "--max-lr", "0.01", "--total-steps", "10", "--format", "json").Out);   // the old spelling
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal("one-cycle", root.GetProperty("policy").GetString());
        Assert.Equal(10, root.GetProperty("iterations").GetInt32());
        var lr = root.GetProperty("lr").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Equal(10, lr.Length);
        Assert.Equal(Schedules.Torch.OneCycle([0.01], 10).At(3).Lr[0], lr[3]);   // exact, not rounded
        Assert.Equal(10, root.GetProperty("momentum").GetArrayLength());
        Assert.False(root.TryGetProperty("lr_groups", out _));
    }

    [Fact]
    public void Several_groups_add_lr_groups_and_momentum_is_null_when_unscheduled()
    {
        var (code, output, _) = Run("schedule", "cosine", "--lr", "0.1,0.01", "--t-max", "5", "--json");
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("momentum").ValueKind);
        var groups = root.GetProperty("lr_groups");
        Assert.Equal(2, groups.GetArrayLength());
        Assert.Equal(0.01, groups[1][0].GetDouble());
        Assert.Equal(0.01, root.GetProperty("lr")[0].GetDouble());   // "lr" is the last group, as fastai plots it
    }

    [Fact]
    public void The_seed_call_is_explained_in_plain_words()
    {
        var (code, output, _) = Run("schedule", "fit", "--lr", "0.01", "--cycle-len", "3", "--use-clr", "32,5", "--batches-per-epoch", "100", "--explain");
        Assert.Equal(0, code);
        Assert.Contains("fastai 0.7 CircularLR (use_clr)", output);
        Assert.Contains("1/32 of the peak", output);
        Assert.Contains("lr by iteration", output);   // the terminal chart
    }

    [Fact]
    public void Csv_has_a_header_and_one_row_per_step()
    {
        var (code, output, _) = Run("schedule", "step", "--lr", "0.1", "--step-size", "2", "--iterations", "4", "--csv", "--momentum", "0.9");
        Assert.Equal(0, code);
        var lines = output.Trim().Split('\n');
        Assert.Equal("step,lr,momentum", lines[0]);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("2,0.010000000000000002,0.9", lines[3]);
    }

    [Theory]
    [InlineData(new[] { "schedule", "nope" }, "unknown policy 'nope'")]
    [InlineData(new[] { "schedule", "one-cycle", "--max-lr", "0.1" }, "--total-steps: is required")]
    [InlineData(new[] { "schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "10", "--pct-start", "1.5" }, "--pct-start: must be in [0, 1], got 1.5")]
    [InlineData(new[] { "schedule", "one-cycle", "--max-lr", "-1", "--total-steps", "10" }, "--max-lr: must be a positive finite number, got -1")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--bogus", "1" }, "--bogus: is not an option of cadence schedule or of policy cosine")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1" }, "--t-max: is required")]
    [InlineData(new[] { "schedule", "cyclic", "--base-lr", "0.1", "--max-lr", "1", "--mode", "zigzag", "--iterations", "5" }, "--mode: must be one of triangular, triangular2, exp_range")]
    [InlineData(new[] { "schedule", "cyclic", "--base-lr", "0.1", "--max-lr", "1" }, "--iterations: required for cyclic (it has no length of its own)")]
    [InlineData(new[] { "schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "10", "--three-phase", "yes" }, "--three-phase: expects true or false")]
    [InlineData(new[] { "schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "10", "--iterations", "12" }, "--iterations: one-cycle is defined for steps 0…10")]
    [InlineData(new[] { "schedule", "fit", "--lr", "0.01", "--use-clr", "32,5", "--batches-per-epoch", "100" }, "--cycle-len: is required with use_clr")]
    [InlineData(new[] { "schedule", "fit", "--lr", "0.01", "--cycle-len", "1", "--use-clr", "20,5", "--batches-per-epoch", "4" }, "--use-clr: cut_div 5 leaves no iteration to climb")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--iterations", "abc" }, "--iterations: expects a whole number, got 'abc'")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--iterations", "0" }, "--iterations: must be a whole number ≥ 1, got 0")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--optimizer", "rmsprop" }, "--optimizer: must be one of sgd, adam")]
    [InlineData(new[] { "frobnicate" }, "cadence: unknown command 'frobnicate'")]
    [InlineData(new[] { "fti" }, "cadence: unknown command 'fti' (did you mean fit?)")]
    [InlineData(new[] { "schedule", "onecycle" }, "cadence schedule: POLICY: unknown policy 'onecycle' (did you mean one-cycle?)")]
    [InlineData(new[] { "schedule" }, "cadence schedule: POLICY: required")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--json", "--csv" }, "cadence schedule: --csv: give --json or --csv, not both")]
    [InlineData(new[] { "schedule", "cosine", "--lr", "0.1", "--t-max", "5", "--format", "yaml" }, "cadence schedule: --format: expected table, json, csv, got 'yaml'")]
    [InlineData(new[] { "policies", "extra" }, "cadence policies: unknown command 'extra'")]
    public void Usage_errors_exit_2_with_one_clear_line(string[] args, string message)
    {
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.DoesNotContain("   at ", err);   // never a stack trace
        Assert.Single(err.Trim().Split('\n'));
        Assert.Equal("", output);
    }

    [Fact]
    public void Help_lists_policy_options_with_reference_defaults()
    {
        var (code, output, _) = Run("schedule", "one-cycle", "--help");
        Assert.Equal(0, code);
        Assert.Matches(@"--pct-start X\s+0\.3\s+Fraction of steps spent warming up", output);
        Assert.Matches(@"--max-lr X\[,X…\]\s+required\s", output);
        Assert.Contains("one-cycle — PyTorch OneCycleLR", output);
        Assert.DoesNotContain("Options of", Run("schedule", "--help").Out);   // no policy: the command's help and the list of policies
        Assert.Contains("POLICY: fit, one-cycle, cyclic", Run("schedule", "--help").Out);
        var (c2, list, _) = Run("policies");
        Assert.Equal(0, c2);
        foreach (var name in new[] { "fit", "one-cycle", "cyclic", "fit-one-cycle", "wsd", "inverse-sqrt", "sequential" }) Assert.Contains(name, list);
    }

    [Fact]
    public void Every_golden_trace_matches_through_the_command_line()
    {
        // The same cases as the library's golden tests, through argv and JSON, i.e. what a user sees.
        var root = Repo.Root;
        int checkedCases = 0;
        foreach (var file in new[] { "pytorch", "fastai07", "fastai2", "hf_transformers" })
        {
            var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "bench", "reference", file + ".json"))).RootElement;
            foreach (var c in doc.GetProperty("cases").EnumerateArray())
            {
                var lr = c.GetProperty("lr").EnumerateArray().Select(g => g.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();
                if (lr.Any(g => g.Any(v => v < 0))) continue;   // refused past the end; covered by the library tests
                var args = new List<string> { "schedule", c.GetProperty("policy").GetString()! };
                args.AddRange(c.GetProperty("args").EnumerateArray().Select(a => a.GetString()!));
                args.AddRange(["--iterations", c.GetProperty("iterations").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), "--json"]);
                var (code, output, err) = Run([.. args]);
                if (code == 2 && err.Contains("--milestones")) continue;   // deliberate refusals, see GoldenTraceTests.Refused
                Assert.True(code == 0, $"{c.GetProperty("name")}: exit {code}: {err}");
                var json = JsonDocument.Parse(output).RootElement;
                var got = lr.Length == 1
                    ? [json.GetProperty("lr").EnumerateArray().Select(x => x.GetDouble()).ToArray()]
                    : json.GetProperty("lr_groups").EnumerateArray().Select(g => g.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();
                for (int g = 0; g < lr.Length; g++)
                    for (int t = 0; t < lr[g].Length; t++)
                    {
                        double e = lr[g][t], a = got[g][t];
                        double rel = e == a ? 0 : Math.Abs(a - e) / Math.Max(Math.Abs(e), Math.Abs(a));
                        Assert.True(rel <= 1e-11, $"{c.GetProperty("name")} group {g} step {t}: {e:R} vs {a:R}");
                    }
                checkedCases++;
            }
        }
        Assert.True(checkedCases > 200, $"only {checkedCases} cases checked");
    }

    [Fact]
    public void Schedule_fine_tune_previews_both_phases_of_fastais_fine_tune()
    {
        // bench/reference/fastai2_fine_tune.json: fastai's own fine_tune, both fits, every group; its args are this command's.
        var doc = JsonDocument.Parse(File.ReadAllText(Repo.File("bench", "reference", "fastai2_fine_tune.json"))).RootElement;
        int cases = 0;
        foreach (var c in doc.GetProperty("cases").EnumerateArray())
        {
            var (code, output, err) = Run(["schedule", "fine-tune", .. c.GetProperty("args").EnumerateArray().Select(a => a.GetString()!), "--json"]);
            Assert.True(code == 0, $"{c.GetProperty("name")}: exit {code}: {err}");
            var json = JsonDocument.Parse(output).RootElement;
            foreach (var key in new[] { "lr", "momentum" })
            {
                double[][] Phase(string phase) => c.GetProperty(phase).ValueKind == JsonValueKind.Null ? []
                    : [.. c.GetProperty(phase).GetProperty(key).EnumerateArray().Select(g => g.EnumerateArray().Select(x => x.GetDouble()).ToArray())];
                var frozen = Phase("frozen");
                var expected = Phase("unfrozen").Select((g, i) => (frozen.Length > 0 ? frozen[i] : []).Concat(g).ToArray()).ToArray();
                var got = json.GetProperty(key + "_groups").EnumerateArray().Select(g => g.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();
                Assert.Equal(expected.Length, got.Length);
                for (int g = 0; g < expected.Length; g++)
                {
                    Assert.Equal(expected[g].Length, got[g].Length);
                    for (int t = 0; t < expected[g].Length; t++)
                    {
                        double e = expected[g][t], a = got[g][t];
                        double rel = e == a ? 0 : Math.Abs(a - e) / Math.Max(Math.Abs(e), Math.Abs(a));
                        Assert.True(rel <= 1e-12, $"{c.GetProperty("name")} {key} group {g} step {t}: {e:R} vs {a:R}");
                    }
                }
            }
            cases++;
        }
        Assert.Equal(7, cases);
        var (code2, text, _) = Run("schedule", "fine-tune", "--epochs", "3", "--batches-per-epoch", "7", "--groups", "3");
        Assert.Equal(0, code2);
        Assert.StartsWith("fine-tune — fastai v2 fine_tune: ", text, StringComparison.Ordinal);
        Assert.Contains("28 iterations (4 epochs of 7), 3 parameter groups", text);
    }
}

public sealed class SchedulePlotTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-plot");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = Program.Run(args, o, e, CancellationToken.None);
        return (code, o.ToString(), e.ToString());
    }

    [Theory]
    [InlineData("s.png")]
    [InlineData("s.svg")]
    public void Plot_writes_the_chart_and_keeps_the_table(string name)
    {
        var path = Path.Combine(_dir, name);
        var (code, output, err) = Run("schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "100", "--plot", path);
        Assert.True(code == 0, err);
        Assert.Contains("lr by iteration", output);
        Assert.EndsWith($"Chart written to {path}.{Environment.NewLine}", output);
        var bytes = File.ReadAllBytes(path);
        if (name.EndsWith(".png", StringComparison.Ordinal))
        {
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
            // PNG IHDR: width and height, big-endian, at bytes 16–23.
            Assert.Equal(800, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
            Assert.Equal(500, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        }
        else Assert.Equal("svg", System.Xml.Linq.XDocument.Parse(System.Text.Encoding.UTF8.GetString(bytes)).Root!.Name.LocalName);
    }

    [Fact]
    public void Plot_keeps_json_output_clean()
    {
        var path = Path.Combine(_dir, "s.svg");
        var (code, output, _) = Run("schedule", "cosine", "--lr", "0.1", "--t-max", "20", "--format", "json", "--plot", path);
        Assert.Equal(0, code);
        Assert.Equal(20, JsonDocument.Parse(output).RootElement.GetProperty("iterations").GetInt32());
        Assert.True(File.Exists(path));
    }

    [Theory]
    [InlineData("s.jpg", "cadence schedule: --plots: expected a folder or a .png or .svg file, got '")]
    [InlineData("file/s.png", "cadence schedule: --plots: ")]
    public void Bad_plot_paths_are_usage_errors(string name, string message)
    {
        if (name.StartsWith("file/", StringComparison.Ordinal)) File.WriteAllText(Path.Combine(_dir, "file"), "not a folder");
        var (code, output, err) = Run("schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "10", "--plot", Path.Combine(_dir, name));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith(message, err);
        Assert.Equal(name.StartsWith("file/", StringComparison.Ordinal) ? 1 : 0, Directory.GetFileSystemEntries(_dir).Length);   // nothing written
    }

    [Fact]
    public void Plots_into_a_missing_folder_creates_it()
    {
        var dir = Path.Combine(_dir, "new", "charts");
        var (code, output, err) = Run("schedule", "cosine", "--lr", "0.1", "--t-max", "20", "--plots", dir, "--plot-format", "svg");
        Assert.True(code == 0, err);
        Assert.EndsWith($"Chart written to {Path.Combine(dir, "schedule.svg")}.{Environment.NewLine}", output);
        Assert.True(File.Exists(Path.Combine(dir, "schedule.svg")));
    }
}
