using Cadence.TestSupport;
using System.Text.Json;
using Xunit;

namespace Cadence.Cli.Tests;

[Collection(TrainingCollection.Name)]
public sealed class FitCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-fit");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => TestData.Run("fit", args);

    [Theory]
    [InlineData("cadence fit: --bogus: is not an option of cadence fit or of policy fit", "--bogus")]
    [InlineData("cadence fit: --bs: must be a whole number in [1, 1048576], got 0", "--bs", "0")]
    [InlineData("cadence fit: --lr: expects a number or a comma-separated list of numbers, got 'fast'", "--lr", "fast")]
    [InlineData("cadence fit: --model: expected one of mlp, cnn, resnet, resnet18, resnet34, got 'vgg'", "--model", "vgg")]
    [InlineData("cadence fit: --opt: expected sgd, adamw, got 'lamb'", "--opt", "lamb")]
    [InlineData("cadence fit: --target: required with --data csv (the label column)", "--data", "csv", "x.csv")]
    [InlineData("cadence fit: --threads: missing value", "--threads")]
    [InlineData("cadence fit: --epochs: must be a whole number in [1, 100000], got 99999999999", "--epochs", "99999999999")]
    [InlineData("cadence fit: --epochs: expected a number, got 'ten'", "--epochs", "ten")]
    [InlineData("cadence fit: --subset: must be in (0, 1], got 0", "--subset", "0")]
    [InlineData("cadence fit: --data: csv needs a path: --data csv FILE", "--data", "csv", "--target", "label")]
    [InlineData("cadence fit: --schedule: unknown policy 'onecycle' (did you mean one-cycle?)", "--schedule", "onecycle")]
    [InlineData("cadence fit: --lr: expects a number or a comma-separated list of numbers, got 'fast'; --cycles: expects a whole number, got 'x'", "--lr", "fast", "--cycles", "x")]
    public void Usage_errors_exit_2_with_one_line_before_any_data_is_loaded(string message, params string[] args) =>
        TestData.AssertUsageError(Run(args), message);

    [Fact]
    public void A_folder_given_as_the_csv_file_is_a_usage_error_naming_data()
    {
        TestData.AssertUsageError(Run("--data", "csv", _dir, "--target", "label"), $"cadence fit: --data: {_dir} is a folder; --data csv takes a file");
    }

    [Fact]
    public void Missing_data_file_exits_1_naming_it()
    {
        var path = Path.Combine(_dir, "none.csv");
        var (code, _, stderr) = Run("--data", "csv", path, "--target", "label");
        Assert.Equal(1, code);
        Assert.Equal($"cadence fit: --data: {path}: file not found" + Environment.NewLine, stderr);
    }

    [Fact]
    public void Fits_a_csv_file_and_writes_json_history_metrics_and_model()
    {
        var csv = WriteCsv();
        var outDir = Path.Combine(_dir, "out");
        var (code, stdout, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05",
            "--cycle-len", "2", "--use-clr", "10,4,0.95,0.85", "--json", "--out", outDir);
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout.Trim());
        var root = json.RootElement;
        Assert.Equal(2, root.GetProperty("epochs").GetInt32());
        Assert.Equal(2 * 15, root.GetProperty("iterations").GetInt64());
        Assert.True(root.GetProperty("accuracy").GetDouble() > 0.9, stdout);
        foreach (var p in new[] { "train_loss", "valid_loss", "seconds", "images_per_second" }) Assert.True(root.TryGetProperty(p, out _), p);
        Assert.Contains("epoch       train_loss  valid_loss  accuracy    error_rate  time", stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "model.dat")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, "metrics.csv")).Length);
        using var history = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "history.json")));
        var steps = history.RootElement.GetProperty("steps");
        Assert.Equal(30, steps.GetArrayLength());
        Assert.Equal(2, steps[0].GetProperty("lr").GetArrayLength());   // the 13-256-3 MLP has two layer groups
    }

    private string WriteCsv() => TestData.ThreeClassCsv(_dir);

    private static double[][] RecordedLr(string outDir)
    {
        using var history = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "history.json")));
        return history.RootElement.GetProperty("steps").EnumerateArray()
            .Select(s => s.GetProperty("lr").EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
    }

    [Fact]
    public void Schedule_option_trains_any_policy_with_the_values_cadence_schedule_gives()
    {
        var csv = WriteCsv();   // 240 training rows at --bs 16: 15 batches per epoch
        var outDir = Path.Combine(_dir, "one-cycle");
        var (code, stdout, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1",
            "--epochs", "2", "--schedule", "one-cycle", "--max-lr", "0.05", "--pct-start", "0.25", "--json", "--out", outDir);
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(30, json.RootElement.GetProperty("iterations").GetInt64());
        Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() > 0.9, stdout);
        // The same policy and options through the schedule library, with the length the data implies.
        var expected = Cadence.Schedules.Torch.OneCycle([0.05], 30, pctStart: 0.25);
        var lr = RecordedLr(outDir);
        Assert.Equal(30, lr.Length);
        var want = new double[1];
        var mom = new double[1];
        for (int t = 0; t < 30; t++)
        {
            expected.At(t, want, mom);
            Assert.All(lr[t], v => Assert.Equal(want[0], v, 15));
        }
    }

    [Fact]
    public void Schedule_length_sets_the_epochs_when_epochs_is_not_given()
    {
        var csv = WriteCsv();
        var (code, stdout, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1",
            "--schedule", "fit-sgdr", "--lr-max", "0.05", "--n-cycles", "2", "--cycle-len", "1", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(3, json.RootElement.GetProperty("epochs").GetInt32());   // fit_sgdr's cycle_mult=2: 1 + 2 epochs
    }

    [Theory]
    [InlineData("cadence fit: --lr: is not an option of cadence fit or of policy one-cycle", "--lr", "0.1", "--schedule", "one-cycle")]
    [InlineData("cadence fit: --max-lr: is not an option of cadence fit or of policy cosine", "--schedule", "cosine", "--max-lr", "0.1")]
    [InlineData("cadence fit: --iterations: the length comes from --epochs and the data; drop it", "--schedule", "constant", "--lr", "0.1", "--iterations", "5")]
    [InlineData("cadence fit: --epochs: required with cosine (or --t-max: is required", "--schedule", "cosine", "--lr", "0.1")]
    [InlineData("cadence fit: --epochs: required with constant (the policy has no length of its own)", "--schedule", "constant", "--lr", "0.1")]
    [InlineData("cadence fit: --epochs: 2 epochs of 15 batches are 30 steps but the one-cycle schedule is 20 steps long; drop the length options or --epochs", "--epochs", "2", "--schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "20")]
    [InlineData("cadence fit: --epochs: the one-cycle schedule is 20 steps long, not a whole number of epochs of 15 batches; give --epochs instead", "--schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "20")]
    [InlineData("cadence fit: --pct-start: must be in [0, 1], got 2", "--epochs", "1", "--schedule", "one-cycle", "--max-lr", "0.1", "--pct-start", "2")]
    [InlineData("cadence fit: --epochs: 4 epochs of 15 batches are 60 steps but the fit schedule is 45 steps long", "--cycle-len", "3", "--epochs", "4")]
    [InlineData("cadence fit: --cycle-len: is required with use_clr", "--use-clr", "32,5")]
    [InlineData("cadence fit: --use-clr: expects DIV,CUT_DIV or DIV,CUT_DIV,MAX_MOM,MIN_MOM, got 1 values", "--use-clr", "32", "--cycle-len", "1")]
    [InlineData("cadence fit: --lr: the fit schedule has 3 learning rates but mlp has 2 layer groups", "--lr", "0.1,0.2,0.3")]
    public void Schedule_option_errors_exit_2_naming_the_option(string message, params string[] args)
    {
        var csv = WriteCsv();
        var (code, stdout, stderr) = Run(["--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1", .. args]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith(message, stderr.Split(Environment.NewLine)[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "--lr", "0.05", "--cycle-len", "2", "--use-clr-beta", "10,10,0.95")]   // fastai 0.7 ignores a third value
    [InlineData(2, "--lr", "0.05", "--cycle-len", "1", "--use-clr", "32")]
    [InlineData(2, "--lr", "-1")]
    public void The_fastai_flags_and_schedule_fit_accept_and_refuse_the_same(int code, params string[] fitOptions)
    {
        string[] data = ["--data", "csv", WriteCsv(), "--target", "label", "--bs", "16", "--threads", "1", "--seed", "3", "--json"];
        var shorthand = Run([.. data, .. fitOptions]);
        var spelled = Run([.. data, "--schedule", "fit", .. fitOptions]);
        Assert.True(code == shorthand.Code, shorthand.Err);
        Assert.Equal(shorthand.Code, spelled.Code);
        Assert.Equal(shorthand.Out.Length > 0, spelled.Out.Length > 0);
        if (code == 0)
        {
            using var a = JsonDocument.Parse(shorthand.Out);
            using var b = JsonDocument.Parse(spelled.Out);
            Assert.Equal(a.RootElement.GetProperty("valid_loss").GetDouble(), b.RootElement.GetProperty("valid_loss").GetDouble());
        }
        else Assert.Equal(shorthand.Err, spelled.Err);
    }

    [Fact]
    public void Tensorboard_option_writes_an_event_file()
    {
        var csv = WriteCsv();
        var tb = Path.Combine(_dir, "tb");
        var (code, _, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "32", "--threads", "1", "--tensorboard", tb);
        Assert.True(code == 0, stderr);
        var file = Assert.Single(Directory.GetFiles(tb, "events.out.tfevents.*"));
        var text = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(file));
        foreach (var tag in new[] { "train/loss", "lr/group0", "lr/group1", "momentum/group1", "valid/accuracy" }) Assert.Contains(tag, text);
    }

    [Fact]
    public void Live_progress_draws_a_bar_and_the_epoch_rows_on_an_interactive_console()
    {
        var console = new Spectre.Console.Testing.TestConsole();
        console.Profile.Capabilities.Interactive = true;
        console.Profile.Capabilities.Ansi = true;
        var record = new Cadence.Training.EpochRecord(0, 0.5, 0.25, [0.875], 61);
        var result = FitProgressDisplay.Live(console, ["accuracy"], 4, progress =>
        {
            for (int b = 1; b <= 4; b++) progress.Report(new Cadence.Training.FitProgress(0, 1, b, 4, b, 0.5, 0.1, null));
            progress.Report(new Cadence.Training.FitProgress(0, 1, 4, 4, 4, 0.5, 0.1, record));
            return new Cadence.Training.FitResult(1, 4, 0.5, 0.25, new Dictionary<string, double>(), 1, null);
        });
        Assert.Equal(4, result.Iterations);
        Assert.Contains("epoch       train_loss  valid_loss  accuracy    time", console.Output);
        Assert.Contains("1           0.500000    0.250000    0.875000    01:01", console.Output);
    }

    [Fact]
    public void Report_and_plots_are_written_after_training()
    {
        var rng = new Random(3);
        var lines = new List<string> { "a,b,c,label" };
        for (int r = 0; r < 60; r++)
        {
            int c = r % 2;
            lines.Add(string.Join(",", Enumerable.Range(0, 3).Select(_ => (c * 2 + rng.NextDouble()).ToString("F3", System.Globalization.CultureInfo.InvariantCulture)).Append(c == 0 ? "no" : "yes")));
        }
        var csv = Path.Combine(_dir, "tiny.csv");
        File.WriteAllLines(csv, lines);
        var report = Path.Combine(_dir, "new", "folder", "report.html");   // missing folders are created
        var plots = Path.Combine(_dir, "plots");
        var (code, stdout, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05",
            "--cycle-len", "2", "--use-clr", "10,4,0.95,0.85", "--report", report, "--plots", plots);
        Assert.True(code == 0, stderr);
        Assert.Contains("lr by iteration", stdout);   // the terminal chart of the lr used
        // A table: the confusion matrix, no top-losses images.
        Assert.Equal(["confusion-matrix.png", "loss.png", "lr.png", "metrics.png"], Directory.GetFiles(plots).Select(f => Path.GetFileName(f)!).Order().ToArray());
        string html = File.ReadAllText(report);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(html, "<img src=\"data:image/png;base64,").Count);
        Assert.Contains("<th scope=\"row\">use-clr</th><td>10,4,0.95,0.85</td>", html);
        Assert.Contains("fastai 0.7 CircularLR (use_clr)", html);
    }

    [Fact]
    public void A_report_under_a_file_or_with_another_extension_is_refused_before_training()
    {
        var file = _temp.Write("taken", "x");
        TestData.AssertUsageError(Run("--report", Path.Combine(file, "r.html")), $"cadence fit: --report: {file} is a file, not a folder");
        TestData.AssertUsageError(Run("--report", Path.Combine(_dir, "r.pdf")), $"cadence fit: --report: expected a .html file, got '{Path.Combine(_dir, "r.pdf")}'");
        TestData.AssertUsageError(Run("--report", _dir), $"cadence fit: --report: {_dir} is a folder; expected a file");
    }

    [Theory]
    [InlineData("--out")]
    [InlineData("--plots")]
    [InlineData("--tensorboard")]
    public void A_file_where_a_folder_is_wanted_is_refused_before_any_data_is_loaded(string option)
    {
        var file = _temp.Write("taken", "x");
        // Fashion-MNIST is the default data: a refusal in milliseconds shows nothing was loaded.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TestData.AssertUsageError(Run(option, file), $"cadence fit: {option}: {file} is a file; expected a folder");
        Assert.True(clock.ElapsedMilliseconds < 5000, $"{clock.ElapsedMilliseconds} ms");
    }

    [SkippableFact]
    public void An_unwritable_output_folder_exits_1_naming_the_option_before_training()
    {
        // /proc refuses new files even to root (a chmod'ed folder would not stop root, which CI runs as).
        Skip.IfNot(OperatingSystem.IsLinux() && Directory.Exists("/proc/self"), "needs Linux's /proc");
        foreach (var option in new[] { "--out", "--plots", "--tensorboard" })
        {
            var (code, stdout, stderr) = Run(option, "/proc/cadence-run");
            Assert.Equal(1, code);
            Assert.Equal("", stdout);
            Assert.StartsWith($"cadence fit: {option}: cannot write in /proc: ", stderr, StringComparison.Ordinal);
        }
        var (c2, _, e2) = Run("--report", "/proc/report.html");
        Assert.Equal(1, c2);
        Assert.StartsWith("cadence fit: --report: cannot write in /proc: ", e2, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_of_a_schedule_run_refuses_a_changed_policy_option_and_accepts_the_same()
    {
        var csv = WriteCsv();
        var outDir = Path.Combine(_dir, "run");
        var (code, _, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1",
            "--epochs", "1", "--schedule", "one-cycle", "--max-lr", "0.05", "--out", outDir);
        Assert.True(code == 0, stderr);
        var (changed, _, error) = Run("--resume", outDir, "--max-lr", "0.2");
        Assert.Equal(2, changed);
        Assert.StartsWith("cadence fit: --resume: --max-lr 0.2: the checkpoint's run used --max-lr 0.05;", error, StringComparison.Ordinal);
        var (same, _, err2) = Run("--resume", outDir, "--max-lr", "0.05", "--json");
        Assert.True(same == 0, err2);
    }
}
