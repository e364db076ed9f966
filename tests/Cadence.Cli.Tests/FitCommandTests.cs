using System.Text.Json;
using Cadence.Cli.Commands;
using Xunit;

namespace Cadence.Cli.Tests;

public sealed class FitCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cadence-fit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = FitCommand.Run(args, stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("cadence fit: unknown option '--bogus' (see cadence fit --help)", "--bogus")]
    [InlineData("cadence fit: --bs: must be in [1, 1048576], got 0", "--bs", "0")]
    [InlineData("cadence fit: --lr: expected a number, got 'fast'", "--lr", "fast")]
    [InlineData("cadence fit: --model: expected one of mlp, cnn, resnet, got 'vgg'", "--model", "vgg")]
    [InlineData("cadence fit: --opt: expected sgd or adamw, got 'lamb'", "--opt", "lamb")]
    [InlineData("cadence fit: --use-clr: expected DIV,CUT_DIV[,MAX_MOM,MIN_MOM], got '32'", "--use-clr", "32", "--cycle-len", "1")]
    [InlineData("cadence fit: --cycle-len: required with --use-clr (it sets the length of a cycle)", "--use-clr", "32,5")]
    [InlineData("cadence fit: --target: required with --data csv (the label column)", "--data", "csv", "x.csv")]
    [InlineData("cadence fit: --epochs: the fit options give 3 epochs (cycles × cycle-len, geometric with cycle-mult), not 4", "--cycle-len", "3", "--epochs", "4")]
    [InlineData("cadence fit: --threads: missing value", "--threads")]
    public void Usage_errors_exit_2_with_one_line(string message, params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal(message + Environment.NewLine, stderr);
    }

    [Fact]
    public void Missing_data_file_exits_1_naming_it()
    {
        var path = Path.Combine(_dir, "none.csv");
        var (code, _, stderr) = Run("--data", "csv", path, "--target", "label");
        Assert.Equal(1, code);
        Assert.Equal($"cadence fit: {path}: file not found" + Environment.NewLine, stderr);
    }

    [Fact]
    public void Fits_a_csv_file_and_writes_json_history_metrics_and_model()
    {
        var rng = new Random(5);
        var lines = new List<string> { string.Join(",", Enumerable.Range(0, 13).Select(i => $"f{i}").Append("label")) };
        string[] names = ["alpha", "beta", "gamma"];
        for (int r = 0; r < 300; r++)
        {
            int c = r % 3;
            lines.Add(string.Join(",", Enumerable.Range(0, 13).Select(i => (c * (i % 3 == c ? 3.0 : 0.5) + rng.NextDouble()).ToString("F3", System.Globalization.CultureInfo.InvariantCulture)).Append(names[c])));
        }
        var csv = Path.Combine(_dir, "wine.csv");
        File.WriteAllLines(csv, lines);
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
        Assert.Contains("epoch       train_loss  valid_loss  accuracy    time", stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "model.dat")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, "metrics.csv")).Length);
        using var history = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "history.json")));
        var steps = history.RootElement.GetProperty("steps");
        Assert.Equal(30, steps.GetArrayLength());
        Assert.Equal(2, steps[0].GetProperty("lr").GetArrayLength());   // the 13-256-3 MLP has two layer groups
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
        var report = Path.Combine(_dir, "report.html");
        var plots = Path.Combine(_dir, "plots");
        var (code, stdout, stderr) = Run("--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05",
            "--cycle-len", "2", "--use-clr", "10,4,0.95,0.85", "--report", report, "--plots", plots);
        Assert.True(code == 0, stderr);
        Assert.Contains("lr by iteration", stdout);   // the terminal chart of the lr used
        Assert.Equal(["loss.png", "lr.png", "metrics.png"], Directory.GetFiles(plots).Select(f => Path.GetFileName(f)!).Order().ToArray());
        string html = File.ReadAllText(report);
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Matches(html, "<img src=\"data:image/png;base64,").Count);
        Assert.Contains("<th scope=\"row\">use-clr</th><td>10,4,0.95,0.85</td>", html);
        Assert.Contains("fastai 0.7 CircularLR (use_clr)", html);
    }

    [Fact]
    public void Report_in_a_missing_folder_is_refused_before_training()
    {
        var (code, _, stderr) = Run("--report", Path.Combine(_dir, "nope", "r.html"));
        Assert.Equal(2, code);
        Assert.StartsWith("cadence fit: --report: the folder ", stderr);
    }
}
