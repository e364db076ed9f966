using System.Globalization;
using Cadence.Callbacks;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// A complete training set-up as one record of settings: model, batch size, schedule, epochs and techniques. A
/// command line maps <c>--recipe NAME</c> to one of <see cref="Recipes"/>, prints <see cref="Describe"/> in its
/// header and overrides single settings with <c>with { … }</c>. <see cref="CreateLearner"/> builds everything.
/// </summary>
public sealed record TrainingRecipe
{
    /// <summary>Name shown in headers.</summary>
    public string Name { get; init; } = "custom";

    /// <summary><c>fastnet</c> (<see cref="FastNet"/> with <see cref="FastNet"/> options) or a <see cref="ModelZoo"/> name.</summary>
    public string Model { get; init; } = "fastnet";

    /// <summary>The network's shape when <see cref="Model"/> is <c>fastnet</c>.</summary>
    public FastNetOptions FastNet { get; init; } = new();

    /// <summary>Training batch size.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>Epochs.</summary>
    public int Epochs { get; init; } = 4;

    /// <summary>
    /// Schedule: <c>triangular</c> (linear from lr/<see cref="StartDiv"/> up to lr at <see cref="PctStart"/> of the
    /// steps, then linearly down to lr/(<see cref="StartDiv"/>·<see cref="FinalDiv"/>): PyTorch's OneCycleLR with
    /// linear annealing, airbench's shape) or <c>one-cycle</c> (the same with cosine phases, PyTorch's default).
    /// </summary>
    public string Schedule { get; init; } = "triangular";

    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 0.2;

    /// <summary>Fraction of the steps spent climbing to the peak.</summary>
    public double PctStart { get; init; } = 0.25;

    /// <summary>The schedule starts at lr / StartDiv (OneCycleLR's div_factor).</summary>
    public double StartDiv { get; init; } = 5;

    /// <summary>The schedule ends at lr / (StartDiv · FinalDiv) (OneCycleLR's final_div_factor).</summary>
    public double FinalDiv { get; init; } = 1e4;

    /// <summary>SGD momentum (constant unless <see cref="CycleMomentum"/>).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Cycle momentum 0.95 → 0.85 → 0.95 against the lr (OneCycleLR's default) instead of keeping <see cref="Momentum"/>.</summary>
    public bool CycleMomentum { get; init; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; init; }

    /// <summary>L2 weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Label smoothing ε of the cross-entropy (<see cref="Losses.CrossEntropy"/>).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Factor on the lr of BatchNorm biases (1: none; airbench uses 64).</summary>
    public double BatchNormBiasLr { get; init; } = 1;

    /// <summary>Weight averaging decay (<see cref="WeightAveraging"/>), or null for none.</summary>
    public double? AveragingDecay { get; init; }

    /// <summary>Steps between weight-averaging updates.</summary>
    public int AveragingEvery { get; init; } = 1;

    /// <summary>EMA or Lookahead.</summary>
    public AveragingMode AveragingMode { get; init; } = AveragingMode.Ema;

    /// <summary>Test-time augmentation: average over horizontal mirrors.</summary>
    public bool TtaFlip { get; init; }

    /// <summary>Test-time augmentation: also average over copies shifted by this many pixels (0: none).</summary>
    public int TtaShift { get; init; }

    /// <summary>Training augmentation: mirror half the images.</summary>
    public bool AugmentFlip { get; init; }

    /// <summary>Training augmentation: random shifts of up to this many pixels (0: none).</summary>
    public int AugmentShift { get; init; }

    /// <summary>Images the whitening layer's patch statistics are computed from (the first N training images).</summary>
    public int WhiteningImages { get; init; } = 5000;

    /// <summary>Batch size of the validation loader (evaluation only; larger is faster).</summary>
    public int ValidBatchSize { get; init; } = 500;

    /// <summary>Every problem with the settings, each naming the setting and its allowed range (empty when valid).</summary>
    public IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        if (Model != "fastnet" && !ModelZoo.Names.Contains(Model)) p.Add($"model: must be fastnet or one of {string.Join(", ", ModelZoo.Names)}, got '{Model}'");
        if (BatchSize < 1) p.Add($"batch size: must be ≥ 1, got {BatchSize}");
        if (Epochs < 1) p.Add($"epochs: must be ≥ 1, got {Epochs}");
        if (Schedule is not ("triangular" or "one-cycle")) p.Add($"schedule: must be triangular or one-cycle, got '{Schedule}'");
        if (!(Lr > 0) || double.IsInfinity(Lr)) p.Add($"lr: must be a finite number > 0, got {Lr}");
        if (!(PctStart > 0 && PctStart < 1)) p.Add($"pct-start: must be in (0, 1), got {PctStart}");
        if (!(StartDiv >= 1) || double.IsInfinity(StartDiv)) p.Add($"start-div: must be ≥ 1, got {StartDiv}");
        if (!(FinalDiv >= 1) || double.IsInfinity(FinalDiv)) p.Add($"final-div: must be ≥ 1, got {FinalDiv}");
        if (!(Momentum >= 0 && Momentum < 1)) p.Add($"momentum: must be in [0, 1), got {Momentum}");
        if (Nesterov && Momentum == 0 && !CycleMomentum) p.Add("nesterov: needs momentum > 0");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) p.Add($"weight decay: must be ≥ 0, got {WeightDecay}");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) p.Add($"label smoothing: must be in [0, 1), got {LabelSmoothing}");
        if (!(BatchNormBiasLr > 0) || double.IsInfinity(BatchNormBiasLr)) p.Add($"bn-bias-lr: must be a finite number > 0, got {BatchNormBiasLr}");
        if (AveragingDecay is { } d && !(d >= 0 && d < 1)) p.Add($"averaging decay: must be in [0, 1), got {d}");
        if (AveragingEvery < 1) p.Add($"averaging every: must be ≥ 1, got {AveragingEvery}");
        if (TtaShift < 0) p.Add($"tta shift: must be ≥ 0, got {TtaShift}");
        if (AugmentShift < 0) p.Add($"augment shift: must be ≥ 0, got {AugmentShift}");
        if (WhiteningImages < 1) p.Add($"whitening images: must be ≥ 1, got {WhiteningImages}");
        if (ValidBatchSize < 1) p.Add($"valid batch size: must be ≥ 1, got {ValidBatchSize}");
        return p;
    }

    /// <summary>Throws when <see cref="Problems"/> finds any, naming all of them.</summary>
    /// <exception cref="ArgumentException">The settings are invalid.</exception>
    public void Validate()
    {
        var p = Problems();
        if (p.Count > 0) throw new ArgumentException($"recipe '{Name}': {string.Join("; ", p)}");
    }

    /// <summary>The schedule for <paramref name="batchesPerEpoch"/> batches per epoch (one group for every layer group).</summary>
    public Schedule CreateSchedule(long batchesPerEpoch)
    {
        Validate();
        return Torch.OneCycle([Lr], checked(Epochs * batchesPerEpoch), PctStart, linear: Schedule == "triangular",
            cycleMomentum: CycleMomentum, divFactor: StartDiv, finalDivFactor: FinalDiv);
    }

    /// <summary>The settings, one line each (for a command's header).</summary>
    public IReadOnlyList<string> Describe()
    {
        string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        var techniques = new List<string>();
        if (LabelSmoothing > 0) techniques.Add($"label smoothing {F(LabelSmoothing)}");
        if (Nesterov) techniques.Add("Nesterov momentum");
        if (BatchNormBiasLr != 1) techniques.Add($"BatchNorm biases at {F(BatchNormBiasLr)}× lr");
        if (AveragingDecay is { } d) techniques.Add($"{(AveragingMode == AveragingMode.Ema ? "EMA" : "Lookahead")} of the weights (decay {F(d)} every {AveragingEvery} steps)");
        if (TtaFlip || TtaShift > 0) techniques.Add($"test-time augmentation ({string.Join(" + ", new[] { TtaFlip ? "flip" : null, TtaShift > 0 ? $"±{TtaShift} px shifts" : null }.Where(s => s is not null))})");
        if (AugmentFlip || AugmentShift > 0) techniques.Add($"training augmentation ({string.Join(" + ", new[] { AugmentFlip ? "flip" : null, AugmentShift > 0 ? $"±{AugmentShift} px shifts" : null }.Where(s => s is not null))})");
        if (WeightDecay > 0) techniques.Add($"weight decay {F(WeightDecay)}");
        return
        [
            $"recipe {Name}: model {Model}{(Model == "fastnet" ? $" ({FastNet})" : "")}, batch {BatchSize}, {Epochs} epochs",
            $"schedule {Schedule}: lr {F(Lr / StartDiv)} → {F(Lr)} at {F(PctStart * 100)}% of the steps → {F(Lr / StartDiv / FinalDiv)}; SGD momentum {(CycleMomentum ? "0.95 → 0.85 → 0.95" : F(Momentum))}",
            $"techniques: {(techniques.Count == 0 ? "none" : string.Join(", ", techniques))}",
        ];
    }

    /// <summary>
    /// Builds the learner for <paramref name="train"/> and <paramref name="valid"/> (image datasets, [N, C, H, W] or
    /// [N, H, W]; any data for a zoo model without augmentation): the model (with training augmentation first and
    /// test-time augmentation around it, as set), the loss, the optimizer with its lr multipliers, the weight averaging callback; the loaders (owned by the learner's
    /// <see cref="Learner.Data"/>) shuffle with <paramref name="seed"/> and carry <paramref name="classNames"/>; the
    /// learner reports <paramref name="metrics"/> (default: accuracy) and trains on <paramref name="device"/> (default:
    /// <see cref="ComputeDevice.Auto"/>, as for <see cref="Learner"/>). Seed
    /// TorchSharp's generator before calling.
    /// </summary>
    /// <returns>The learner, its schedule and the epochs to pass to <see cref="Learner.Fit(Schedules.Schedule, int, CancellationToken)"/>.</returns>
    public (Learner Learner, Schedule Schedule, int Epochs) CreateLearner(InMemoryDataset train, InMemoryDataset valid, long seed = 0,
        IEnumerable<Callback>? callbacks = null, IReadOnlyList<string>? classNames = null, IEnumerable<Metric>? metrics = null,
        ComputeDevice? device = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(valid);
        Validate();
        var s = train.SampleShape;
        // Only the image techniques need an image shape: label smoothing, Nesterov, lr multipliers and averaging work on any data.
        bool imageTechniques = Model == "fastnet" || AugmentFlip || AugmentShift > 0 || TtaFlip || TtaShift > 0;
        (long C, long H, long W) shape = s.Length switch
        {
            2 => (1, s[0], s[1]),
            3 => (s[0], s[1], s[2]),
            _ when !imageTechniques => (0, 0, 0),
            _ => throw new ArgumentException($"recipe '{Name}' needs image data ([channels,] height, width) for {(Model == "fastnet" ? "fastnet" : "augmentation")}; this data has samples of shape [{string.Join(", ", s)}]", nameof(train)),
        };
        int classes = Math.Max(train.Classes, valid.Classes);
        ModelSpec spec;
        if (Model == "fastnet")
        {
            // A view of the first images (no dispose scope here: the model's parameters must outlive this call).
            using var images = FastNet.WhiteningPatch is null ? null : train.Features.narrow(0, 0, Math.Min(WhiteningImages, train.Count)).reshape(-1, shape.C, shape.H, shape.W);
            spec = Models.FastNet.Create(shape, classes, FastNet, images);
        }
        else spec = ModelZoo.Create(Model, s, classes);

        nn.Module<Tensor, Tensor> model = spec.Model;
        if (AugmentFlip || AugmentShift > 0) model = nn.Sequential(("augment", new RandomFlipShift(shape, AugmentFlip, AugmentShift)), ("net", model));
        if (TtaFlip || TtaShift > 0) model = new TestTimeAugmentation(model, shape, TtaFlip, TtaShift);

        OptimizerFactory optimizer = OptimizerFactory.Sgd(Momentum, Nesterov, WeightDecay) with
        {
            LrMultipliers = BatchNormBiasLr == 1 ? [] : [new LrMultiplier("batchnorm-bias", ParameterKinds.BatchNormBiases(spec.Model), BatchNormBiasLr)],
        };
        var all = new List<Callback>();
        if (AveragingDecay is { } decay) all.Add(new WeightAveraging(decay, AveragingEvery, AveragingMode));
        if (callbacks is not null) all.AddRange(callbacks);
        var data = new DataLoaders(new DataLoader(train, BatchSize, shuffle: true, seed: seed), new DataLoader(valid, ValidBatchSize), classNames);
        var learner = new Learner(model, data, Losses.CrossEntropy(LabelSmoothing), optimizer, metrics: metrics, layerGroups: spec.LayerGroups, callbacks: all, device: device);
        return (learner, CreateSchedule(data.Train.BatchCount), Epochs);
    }
}

/// <summary>The named recipes (<c>--recipe NAME</c>).</summary>
public static class Recipes
{
    /// <summary>
    /// <c>fast</c>: time to 91% test accuracy on Fashion-MNIST on a CPU (issue 17). Chosen by the search recorded in
    /// bench/results/fast (see docs/fast-training.md).
    /// </summary>
    public static TrainingRecipe Fast { get; } = new()
    {
        Name = "fast",
        Model = "fastnet",
        FastNet = new FastNetOptions { Widths = [16, 32, 64], WhiteningPatch = 2, Dirac = true },
        BatchSize = 256,
        Epochs = 2,
        Schedule = "triangular",
        Lr = 0.2,
        PctStart = 0.25,
        StartDiv = 5,
        FinalDiv = 1e4,
        Momentum = 0.9,
        Nesterov = true,
        LabelSmoothing = 0.1,
        BatchNormBiasLr = 64,
    };

    /// <summary>Names accepted by <see cref="Get"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["fast"];

    /// <summary>The recipe called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No recipe has that name.</exception>
    public static TrainingRecipe Get(string name) => name switch
    {
        "fast" => Fast,
        _ => throw new ArgumentException($"unknown recipe '{name}' (expected one of: {string.Join(", ", Names)})", nameof(name)),
    };
}
