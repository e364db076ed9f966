using System.Text.Json;
using Cadence.TestSupport;
using Cadence.Training;
using Xunit;

namespace Cadence.Cli.Tests;

/// <summary><c>cadence fit --recipe</c> and the technique options (issue 17), on tiny generated data.</summary>
[Collection(TrainingCollection.Name)]
public sealed class FitRecipeTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-recipe");

    public void Dispose() => _temp.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => TestData.Run("fit", args);

    [Theory]
    [InlineData("cadence fit: --recipe: expected fast, got 'slow'", "--recipe", "slow")]
    [InlineData("cadence fit: --label-smoothing: must be in [0, 1), got 1", "--label-smoothing", "1")]
    [InlineData("cadence fit: --ema: must be in [0, 1), got 1.5", "--ema", "1.5")]
    [InlineData("cadence fit: --bn-bias-lr: must be in (0, 1000], got 0", "--bn-bias-lr", "0")]
    [InlineData("cadence fit: --nesterov: expected true, false, got 'yes'", "--nesterov", "yes")]
    [InlineData("cadence fit: --tta: expected a comma list of flip, shift, got 'flop'", "--tta", "flip,flop")]
    [InlineData("cadence fit: --aug: not with --recipe or the technique options (they build their own model and training)", "--recipe", "fast", "--aug", "cifar")]
    [InlineData("cadence fit: --whitening: expected frozen, trainable, none, got 'zca'", "--recipe", "fast", "--whitening", "zca")]
    [InlineData("cadence fit: --whitening: only for the fast recipe's model (--recipe fast without --model)", "--whitening", "none")]
    [InlineData("cadence fit: --dirac: only for the fast recipe's model (--recipe fast without --model)", "--recipe", "fast", "--model", "cnn", "--dirac", "false")]
    [InlineData("cadence fit: --opt: the recipes and the technique options train with SGD (drop --opt adamw)", "--recipe", "fast", "--opt", "adamw")]
    [InlineData("cadence fit: --lr: is not an option of cadence fit or of policy one-cycle", "--recipe", "fast", "--lr", "0.1")]
    [InlineData("cadence fit: --label-smoothing: must be in [0, 1), got -0.1; --ema: must be in [0, 1), got 1", "--label-smoothing", "-0.1", "--ema", "1")]
    public void Bad_recipe_and_technique_options_are_usage_errors_naming_the_range(string message, params string[] args) =>
        TestData.AssertUsageError(Run(args), message);

    [Fact]
    public void Image_techniques_need_image_data()
    {
        var csv = TestData.ThreeClassCsv(_temp.Path);
        TestData.AssertUsageError(Run("--data", "csv", csv, "--target", "label", "--tta", "flip"), "cadence fit: --tta: needs image data (not --data csv)");
        TestData.AssertUsageError(Run("--data", "csv", csv, "--target", "label", "--recipe", "fast"), "cadence fit: --recipe: its model is for images; with --data csv give --model mlp");
    }

    [Fact]
    public void Recipe_fast_trains_its_model_with_its_schedule_and_prints_its_settings()
    {
        var images = GeneratedData.TwoClassImages(_temp.Path);   // 64 training images: 4 batches of 16
        var outDir = Path.Combine(_temp.Path, "run");
        var (code, stdout, stderr) = Run("--recipe", "fast", "--data", "idx", images, "--bs", "16", "--threads", "1", "--json", "--out", outDir);
        Assert.True(code == 0, stderr);
        var lines = stderr.Split(Environment.NewLine);
        Assert.Equal("recipe fast: model fastnet (widths 16,32,64 ×1, relu, flatten head, whitening 2×2 frozen, dirac), batch 16, 2 epochs", lines[0]);
        Assert.Equal("schedule triangular: lr 0.04 → 0.2 at 25% of the steps → 4E-06; SGD momentum 0.9", lines[1]);
        Assert.Equal("techniques: label smoothing 0.1, Nesterov momentum, BatchNorm biases at 64× lr", lines[2]);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(2, json.RootElement.GetProperty("epochs").GetInt32());   // the recipe's epochs
        Assert.Equal(8, json.RootElement.GetProperty("iterations").GetInt64());
        Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() >= 0.9, stdout);

        // The lr the learner used at every step is the recipe's own schedule, as the library builds it.
        var expected = Recipes.Fast.CreateSchedule(4);
        using var history = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "history.json")));
        var steps = history.RootElement.GetProperty("steps").EnumerateArray().ToArray();
        Assert.Equal(8, steps.Length);
        var want = new double[1];
        var mom = new double[1];
        for (int t = 0; t < steps.Length; t++)
        {
            expected.At(t, want, mom);
            Assert.All(steps[t].GetProperty("lr").EnumerateArray(), v => Assert.Equal(want[0], v.GetDouble(), 15));
        }
    }

    [Fact]
    public void Options_given_override_the_recipe()
    {
        var images = GeneratedData.TwoClassImages(_temp.Path);
        var (code, stdout, stderr) = Run("--recipe", "fast", "--data", "idx", images, "--bs", "32", "--epochs", "1", "--max-lr", "0.05",
            "--label-smoothing", "0", "--nesterov", "false", "--whitening", "none", "--ema", "0.9", "--tta", "flip", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var lines = stderr.Split(Environment.NewLine);
        Assert.Equal("recipe fast: model fastnet (widths 16,32,64 ×1, relu, flatten head, dirac), batch 32, 1 epochs", lines[0]);
        Assert.StartsWith("schedule triangular: lr 0.01 → 0.05 at 25% of the steps", lines[1]);
        Assert.Equal("techniques: BatchNorm biases at 64× lr, EMA of the weights (decay 0.9 every 1 steps), test-time augmentation (flip)", lines[2]);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(2, json.RootElement.GetProperty("iterations").GetInt64());
    }

    [Fact]
    public void Technique_options_apply_to_a_built_in_model_with_any_schedule()
    {
        var csv = TestData.ThreeClassCsv(_temp.Path);   // 240 training rows at --bs 16: 15 batches
        var (code, stdout, stderr) = Run("--data", "csv", csv, "--target", "label", "--model", "mlp", "--bs", "16", "--threads", "1",
            "--epochs", "2", "--schedule", "one-cycle", "--max-lr", "0.05", "--label-smoothing", "0.1", "--nesterov", "true", "--ema", "0.9", "--json");
        Assert.True(code == 0, stderr);
        Assert.Equal("techniques: label smoothing 0.1, Nesterov momentum, EMA of the weights (decay 0.9 every 1 steps)", stderr.Split(Environment.NewLine)[0]);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(30, json.RootElement.GetProperty("iterations").GetInt64());
        Assert.True(json.RootElement.GetProperty("accuracy").GetDouble() > 0.9, stdout);
    }
}
