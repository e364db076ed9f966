using Cadence.Schedules;
using Cadence.TestSupport;
using System.Globalization;
using System.Text.Json;
using Xunit;

namespace Cadence.Cli.Tests;

/// <summary><c>--accumulate</c> and the large-batch options (<c>--scale-lr-from</c>, <c>--scale-warmup-epochs|steps</c>) of the training commands and <c>cadence schedule</c>.</summary>
[Collection(TrainingCollection.Name)]
public sealed class ScaleOptionsTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-scale");

    public void Dispose() => _temp.Dispose();

    private string Csv() => File.Exists(_temp["three.csv"]) ? _temp["three.csv"] : TestData.ThreeClassCsv(_temp.Path);

    [Theory]
    [InlineData("fit", "cadence fit: --accumulate: must be a whole number in [1, 4096], got 0", "--accumulate", "0")]
    [InlineData("lr-find", "cadence lr-find: --accumulate: the range test steps once per batch (it probes one lr per batch); drop it", "--accumulate", "2")]
    [InlineData("fit", "cadence fit: --batch-size: the batch comes from --bs × --accumulate; drop it", "--batch-size", "512")]
    [InlineData("fit", "cadence fit: --scale-lr-from: not with --fine-tune (fine-tune's options: --base-lr, --freeze-epochs, --lr-mult, --pct-start, --div, --moms, --div-final)", "--fine-tune", "2", "--scale-lr-from", "256")]
    [InlineData("compare", "cadence compare: SCHEDULE 'one-cycle batch-size=512': batch-size: the batch comes from --bs × --accumulate; drop it", "one-cycle batch-size=512")]
    public void Usage_errors_name_the_option(string command, string message, params string[] args) =>
        TestData.AssertUsageError(TestData.Run(command, args), message);

    [Theory]
    [InlineData("cadence schedule: --batch-size: required with scale-lr-from (the effective batch the lrs are scaled to)", "--scale-lr-from", "256")]
    [InlineData("cadence schedule: --scale-warmup-steps: only applies with scale-lr-from (the batch size the lrs are for)", "--scale-warmup-steps", "3")]
    [InlineData("cadence schedule: --scale-warmup-epochs: needs the steps per epoch (a training run knows them); give scale-warmup-steps here", "--scale-lr-from", "256", "--batch-size", "1024", "--scale-warmup-epochs", "5")]
    [InlineData("cadence schedule: --scale-warmup-steps: must not exceed the schedule's 20 steps, got 30", "--scale-lr-from", "256", "--batch-size", "1024", "--scale-warmup-steps", "30")]
    [InlineData("cadence schedule: --scale-warmup-epochs: give scale-warmup-epochs or scale-warmup-steps, not both", "--scale-lr-from", "256", "--batch-size", "1024", "--scale-warmup-steps", "3", "--scale-warmup-epochs", "1")]
    public void Large_batch_options_are_validated(string message, params string[] args) =>
        TestData.AssertUsageError(TestData.Run("schedule", ["one-cycle", "--max-lr", "0.1", "--total-steps", "20", .. args]), message);

    [Fact]
    public void Schedule_previews_the_linear_scaling_rule_with_its_warm_up()
    {
        var (code, stdout, stderr) = TestData.Run("schedule", ["one-cycle", "--max-lr", "0.1", "--total-steps", "20", "--scale-lr-from", "256",
            "--batch-size", "1024", "--scale-warmup-steps", "5", "--csv"]);
        Assert.True(code == 0, stderr);
        var rows = stdout.Trim().Split('\n').Skip(1).Select(r => double.Parse(r.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
        var (plain, _) = Torch.OneCycle([0.1], totalSteps: 20).Trace(20);
        Assert.Equal(20, rows.Length);
        for (int t = 0; t < 20; t++)
        {
            double factor = t < 5 ? 1 + 3.0 * t / 5 : 4;   // k = 1024 / 256, from 1 at step 0 to 4 at step 5
            Assert.Equal(plain[0][t] * factor, rows[t], 15);
        }
    }

    [Fact]
    public void Accumulating_counts_optimizer_steps_and_scales_by_the_effective_batch()
    {
        string csv = Csv();
        string plainOut = _temp["plain"], scaledOut = _temp["scaled"];
        string[] common = ["--data", "csv", csv, "--target", "label", "--threads", "1", "--schedule", "one-cycle", "--max-lr", "0.05", "--epochs", "2", "--json"];
        // 240 training rows: 15 batches of 16, in groups of 2 → 8 steps per epoch (the last group is one batch).
        var plain = TestData.Run("fit", [.. common, "--bs", "16", "--accumulate", "2", "--out", plainOut]);
        Assert.True(plain.Code == 0, plain.Err);
        var scaled = TestData.Run("fit", [.. common, "--bs", "16", "--accumulate", "2", "--scale-lr-from", "16", "--scale-warmup-epochs", "1", "--out", scaledOut]);
        Assert.True(scaled.Code == 0, scaled.Err);
        var big = TestData.Run("fit", [.. common, "--bs", "32"]);
        Assert.True(big.Code == 0, big.Err);

        using var a = JsonDocument.Parse(plain.Out.Trim());
        using var b = JsonDocument.Parse(big.Out.Trim());
        Assert.Equal(16, a.RootElement.GetProperty("iterations").GetInt64());
        Assert.Equal(16, b.RootElement.GetProperty("iterations").GetInt64());
        // Batches of 16 in pairs are batches of 32 (the MLP has no batch statistics): the same model up to rounding.
        Assert.Equal(b.RootElement.GetProperty("valid_loss").GetDouble(), a.RootElement.GetProperty("valid_loss").GetDouble(), 4);

        var (lrPlain, lrScaled) = (FitCommandTests.RecordedLr(plainOut), FitCommandTests.RecordedLr(scaledOut));
        Assert.Equal(16, lrScaled.Length);
        for (int t = 0; t < 16; t++)
        {
            double factor = t < 8 ? 1 + 1.0 * t / 8 : 2;   // k = 32 / 16 over an 8-step (1-epoch) warm-up
            for (int g = 0; g < lrPlain[t].Length; g++) Assert.Equal(lrPlain[t][g] * factor, lrScaled[t][g], 15);
        }
    }
}
