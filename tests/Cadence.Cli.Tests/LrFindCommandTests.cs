using Cadence.TestSupport;
using System.Globalization;
using System.Text.Json;
using Xunit;

namespace Cadence.Cli.Tests;

public sealed class LrFindCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-lrfind");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => TestData.Run(args[0], args[1..]);

    private string Csv() => TestData.ThreeClassCsv(_dir);

    [Theory]
    [InlineData("cadence lr-find: --bogus: unknown option (see cadence lr-find --help)", "--bogus")]
    [InlineData("cadence lr-find: --num-it: must be a whole number in [1, 1000000], got 0", "--num-it", "0")]
    [InlineData("cadence lr-find: --num-it: must be a whole number in [1, 1000000], got 0", "--iterations", "0")]
    [InlineData("cadence lr-find: --start-lr: expected a number, got 'low'", "--start-lr", "low")]
    [InlineData("cadence lr-find: --end-lr: must be a finite number above the start lr (1E-07), got 1E-08", "--end-lr", "1e-8")]
    [InlineData("cadence lr-find: --end-lr: must be a finite number above the start lr (1E-05), got 1E-06", "--mode", "fastai07", "--end-lr", "1e-6")]
    [InlineData("cadence lr-find: --suggest: expected a comma list of minimum, steep, valley, slide, all, got 'best'", "--suggest", "valley,best")]
    [InlineData("cadence lr-find: --mode: expected fastai2, fastai07, got 'v1'", "--mode", "v1")]
    [InlineData("cadence lr-find: --target: required with --data csv (the label column)", "--data", "csv", "x.csv")]
    [InlineData("cadence lr-find: --bs: missing value", "--bs")]
    [InlineData("cadence lr-find: --plots: expected a folder or a .png or .svg file, got 'curve.jpg'", "--plot", "curve.jpg")]
    public void Usage_errors_exit_2_with_one_line(string message, params string[] args)
    {
        var (code, stdout, stderr) = Run(["lr-find", .. args]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal(message + Environment.NewLine, stderr);
    }

    [Fact]
    public void Group_lrs_must_match_the_models_layer_groups()
    {
        var (code, _, stderr) = Run("lr-find", "--data", "csv", Csv(), "--target", "label", "--threads", "1", "--group-lrs", "1,2,3");
        Assert.Equal(2, code);
        Assert.Equal("cadence lr-find: --group-lrs: give one lr per layer group (2), got 3" + Environment.NewLine, stderr);
    }

    [Fact]
    public void Json_has_the_curve_the_requested_suggestions_and_the_stop()
    {
        var (code, stdout, stderr) = Run("lr-find", "--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1",
            "--num-it", "40", "--suggest", "minimum,valley,slide", "--json");
        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout.Trim());
        var root = json.RootElement;
        int n = root.GetProperty("lrs").GetArrayLength();
        Assert.Equal(40, n);   // 15 batches an epoch: 3 epochs, cut at 40
        Assert.Equal(n, root.GetProperty("losses").GetArrayLength());
        Assert.Equal(n, root.GetProperty("smoothed").GetArrayLength());
        Assert.Equal(1e-7, root.GetProperty("lrs")[0].GetDouble());
        Assert.Equal(JsonValueKind.False, root.GetProperty("stopped_early").ValueKind);
        var suggestions = root.GetProperty("suggestions");
        Assert.Equal(["minimum", "valley", "slide"], suggestions.EnumerateObject().Select(p => p.Name));
        double valley = suggestions.GetProperty("valley").GetDouble();
        Assert.Contains(valley, root.GetProperty("lrs").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal(JsonValueKind.Number, suggestions.GetProperty("slide").ValueKind);   // 40//10 … −5: 31 points, more than 15
    }

    [Fact]
    public void Plot_saves_the_curve_as_png_with_the_old_spelling_and_svg_into_plots()
    {
        var png = Path.Combine(Path.GetDirectoryName(Csv())!, "lr-find.png");
        var (code, _, stderr) = Run("lr-find", "--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1",
            "--num-it", "40", "--suggest", "all", "--json", "--plot", png);
        Assert.True(code == 0, stderr);
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.True(bytes.Length > 5000, $"{bytes.Length} bytes");
        var plots = Path.Combine(_dir, "plots");
        (code, _, stderr) = Run("lr-find", "--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1",
            "--num-it", "40", "--json", "--plots", plots, "--plot-format", "svg");
        Assert.True(code == 0, stderr);
        Assert.Equal("svg", System.Xml.Linq.XDocument.Load(Path.Combine(plots, "lr-find.svg")).Root!.Name.LocalName);
    }

    [Fact]
    public void Text_output_draws_the_curve_and_one_line_per_suggestion()
    {
        var (code, stdout, stderr) = Run("lr-find", "--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--suggest", "all");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n');
        Assert.StartsWith("LR range test (fastai v2): 100 points, lr 1E-07 to 8.3176", lines[0], StringComparison.Ordinal);
        Assert.Contains("smoothed loss by lr (log)", stdout, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains('V', StringComparison.Ordinal) && l.Trim().All(c => c is 'M' or 'S' or 'V' or 'L' or '+' or ' '));
        foreach (var m in new[] { "M minimum", "S steep", "V valley", "L slide" })
            Assert.Contains(lines, l => l.StartsWith("  " + m, StringComparison.Ordinal));
    }

    [Fact]
    public void Fastai07_mode_says_when_an_epoch_is_too_short_for_suggestions()
    {
        var (code, stdout, stderr) = Run("lr-find", "--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--mode", "fastai07");
        Assert.True(code == 0, stderr);
        Assert.Contains("swept one epoch (15 batches)", stdout, StringComparison.Ordinal);
        Assert.Contains("valley   -           too few points: the suggestions read 0 (from point 10; the last 6", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_with_lr_auto_says_which_lr_it_chose_and_trains_with_it()
    {
        var csv = Csv();
        var (code, stdout, stderr) = Run("fit", "--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1",
            "--lr", "auto", "--cycle-len", "1", "--use-clr", "10,4", "--json");
        Assert.True(code == 0, stderr);
        var said = Assert.Single(stderr.Split('\n'), l => l.StartsWith("cadence fit: lr auto: ", StringComparison.Ordinal));
        Assert.Contains("the valley suggestion of an LR range test over 100 batches", said, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(15, json.RootElement.GetProperty("iterations").GetInt64());

        (code, _, stderr) = Run("fit", "--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1",
            "--epochs", "1", "--schedule", "fit-one-cycle", "--lr-max", "auto");
        Assert.True(code == 0, stderr);
        Assert.Contains("cadence fit: lr auto: ", stderr, StringComparison.Ordinal);

        (code, _, stderr) = Run("fit", "--data", "csv", csv, "--target", "label", "--threads", "1",
            "--epochs", "1", "--schedule", "cyclic", "--base-lr", "auto", "--max-lr", "0.1", "--step-size-up", "5");
        Assert.Equal(2, code);
        Assert.Equal("cadence fit: --base-lr: auto is only for --lr, --max-lr and --lr-max" + Environment.NewLine, stderr);
    }
}
