using Cadence.Callbacks;
using Cadence.Data;
using Cadence.Models;
using Cadence.Training;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

/// <summary>The recipe record: validation, description, and a learner built from it that trains.</summary>
public sealed class TrainingRecipeTests
{
    /// <summary>8×8 images: class 1 is brighter in the top half, class 0 in the bottom half (mirroring keeps the class).</summary>
    private static (InMemoryDataset Train, InMemoryDataset Valid) Images()
    {
        TorchRuntime.Configure(seed: 11, threads: 1);
        (InMemoryDataset, int) Make(int n)
        {
            var y = randint(0, 2, [n]);
            var x = randn(n, 1, 8, 8);
            var top = y.to_type(ScalarType.Float32).mul(2).sub(1).reshape(n, 1, 1, 1);
            x.narrow(2, 0, 4).add_(top);
            x.narrow(2, 4, 4).sub_(top);
            return (new InMemoryDataset(x, y, 2), n);
        }
        return (Make(512).Item1, Make(256).Item1);
    }

    [Fact]
    public void Every_bad_setting_is_named_with_its_range()
    {
        var bad = Recipes.Fast with { BatchSize = 0, Epochs = 0, Schedule = "cosine", Lr = -1, PctStart = 1, LabelSmoothing = 1, AveragingDecay = 1, Model = "vgg" };
        var e = Assert.Throws<ArgumentException>(bad.Validate);
        foreach (var part in new[]
        {
            "batch size: must be ≥ 1, got 0", "epochs: must be ≥ 1, got 0", "schedule: must be triangular or one-cycle, got 'cosine'",
            "lr: must be a finite number > 0, got -1", "pct-start: must be in (0, 1), got 1", "label smoothing: must be in [0, 1), got 1",
            "averaging decay: must be in [0, 1), got 1", "model: must be fastnet or one of mlp, cnn, resnet, got 'vgg'",
        })
            Assert.Contains(part, e.Message, StringComparison.Ordinal);
        Assert.Empty(Recipes.Fast.Problems());
        var unknown = Assert.Throws<ArgumentException>(() => Recipes.Get("slow"));
        Assert.StartsWith("unknown recipe 'slow' (expected one of: fast)", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_schedule_is_a_linear_triangle_from_lr_over_start_div_to_the_peak_and_down()
    {
        var r = new TrainingRecipe { Lr = 0.4, Epochs = 2, PctStart = 0.25, StartDiv = 4, FinalDiv = 100 };
        var s = r.CreateSchedule(50);
        Assert.Equal(100, s.Length);
        Assert.Equal(0.1, s.At(0).Lr[0], 1e-12);
        Assert.Equal(0.4, s.At(24).Lr[0], 1e-12);   // OneCycleLR peaks at step pct·T − 1
        Assert.Equal(0.001, s.At(99).Lr[0], 1e-12);
        Assert.Equal((s.At(10).Lr[0] + s.At(14).Lr[0]) / 2, s.At(12).Lr[0], 1e-12);   // linear on the way up
        Assert.Equal((s.At(50).Lr[0] + s.At(70).Lr[0]) / 2, s.At(60).Lr[0], 1e-12);   // and down
        Assert.Null(s.Momentum);
        Assert.NotNull((r with { CycleMomentum = true }).CreateSchedule(50).Momentum);
    }

    [Fact]
    public void The_description_lists_the_settings_and_techniques()
    {
        var lines = (Recipes.Fast with { LabelSmoothing = 0.1, Nesterov = true, BatchNormBiasLr = 64, AveragingDecay = 0.99, TtaFlip = true, TtaShift = 1 }).Describe();
        Assert.StartsWith("recipe fast: model fastnet (widths", lines[0], StringComparison.Ordinal);
        Assert.Contains("techniques: label smoothing 0.1, Nesterov momentum, BatchNorm biases at 64× lr, EMA of the weights (decay 0.99 every 1 steps), test-time augmentation (flip + ±1 px shifts)", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void A_learner_built_from_a_recipe_with_every_technique_trains()
    {
        var (train, valid) = Images();
        var recipe = new TrainingRecipe
        {
            FastNet = new FastNetOptions { Widths = [8, 16], WhiteningPatch = 2, Dirac = true },
            WhiteningImages = 64,
            BatchSize = 64,
            Epochs = 3,
            Lr = 0.2,
            Nesterov = true,
            LabelSmoothing = 0.1,
            BatchNormBiasLr = 8,
            AveragingDecay = 0.9,
            TtaFlip = true,
            TtaShift = 1,
            AugmentFlip = true,
            AugmentShift = 1,
            ValidBatchSize = 100,
        };
        manual_seed(0);
        var (learn, schedule, epochs) = recipe.CreateLearner(train, valid, seed: 1);
        using var _ = learn;
        using var __ = learn.Data;
        Assert.IsType<TestTimeAugmentation>(learn.Model);
        Assert.Single(learn.Callbacks.OfType<WeightAveraging>());
        Assert.Equal(2, learn.HyperParams.Groups);
        Assert.Equal(3, learn.Optimizer.ParamGroups.Count());   // body, the body's BatchNorm biases, head (no BatchNorm there)
        Assert.Equal(3, learn.Data.Valid.BatchCount);
        var fit = learn.Fit(schedule, epochs);
        Assert.Equal(3, fit.Epochs);
        Assert.True(fit.Metrics["accuracy"] > 0.9, $"accuracy {fit.Metrics["accuracy"]}");
    }
}
