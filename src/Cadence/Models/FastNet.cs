using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Cadence.Models;

/// <summary>
/// The shape of a <see cref="FastNet"/>: a small airbench-style convolutional network for fast training on small
/// images. Validated by <see cref="FastNet.Create"/>.
/// </summary>
public sealed record FastNetOptions
{
    /// <summary>Output channels of each convolution group; every group halves the resolution (default 24, 48, 96).</summary>
    public IReadOnlyList<int> Widths { get; init; } = [24, 48, 96];

    /// <summary>3×3 convolutions per group (1 or 2; the second keeps the width and the resolution).</summary>
    public int ConvsPerGroup { get; init; } = 1;

    /// <summary>
    /// Side k of a patch-whitening first layer (<see cref="Initialization.PatchWhitening"/>, k×k, no padding,
    /// 2·C·k² channels, then the activation), or null for none.
    /// </summary>
    public int? WhiteningPatch { get; init; }

    /// <summary>Whether the whitening layer trains (false: frozen, as in airbench, and in no layer group).</summary>
    public bool WhiteningTrainable { get; init; }

    /// <summary>ε of the whitening layer (added to the patch covariance's eigenvalues).</summary>
    public double WhiteningEps { get; init; } = 5e-4;

    /// <summary>Dirac-initialise every 3×3 convolution whose input is the previous convolution's output (<see cref="Initialization.Dirac"/>).</summary>
    public bool Dirac { get; init; }

    /// <summary><c>relu</c> or <c>gelu</c>.</summary>
    public string Activation { get; init; } = "relu";

    /// <summary>BatchNorm running-statistics momentum (PyTorch's convention: weight of the new batch).</summary>
    public double BatchNormMomentum { get; init; } = 0.1;

    /// <summary><c>flatten</c> (a linear layer over every position of the last feature map) or <c>max</c> (global max pooling first).</summary>
    public string Head { get; init; } = "flatten";

    /// <summary>Factor on the logits (airbench: 1/9).</summary>
    public double LogitScale { get; init; } = 1;

    /// <summary>A one-line summary for headers, e.g. <c>widths 24,48,96 ×1, relu, flatten head</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"widths {string.Join(",", Widths)} ×{ConvsPerGroup}, {Activation}, {Head} head{(WhiteningPatch is { } k ? $", whitening {k}×{k}{(WhiteningTrainable ? " trainable" : " frozen")}" : "")}{(Dirac ? ", dirac" : "")}{(LogitScale != 1 ? $", logits ×{LogitScale:G4}" : "")}");
}

/// <summary>
/// A small, fast convolutional network: [a frozen patch-whitening layer →] groups of conv 3×3 (no bias) → max-pool 2 →
/// BatchNorm → activation (pooling before the normalisation, as airbench does, so BatchNorm and the activation run
/// on a quarter of the positions) → a linear head. Layer groups: body (convolutions and their BatchNorms), head.
/// </summary>
public static class FastNet
{
    /// <summary>Builds the network for images of <paramref name="shape"/>.</summary>
    /// <param name="shape">Channels, height, width of one image.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="options">The shape of the network.</param>
    /// <param name="whiteningImages">Training images [N, C, H, W] for the whitening layer (needed when it has one).</param>
    /// <exception cref="ArgumentException">An option is out of range (every bad option is named), or the images are missing.</exception>
    public static ModelSpec Create((long C, long H, long W) shape, int classes, FastNetOptions options, Tensor? whiteningImages = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(shape, classes, options, whiteningImages);
        var layers = new List<(string, Module<Tensor, Tensor>)> { ("reshape", new ReshapeImages(shape.C, shape.H, shape.W)) };
        var frozen = new List<Parameter>();
        long channels = shape.C, h = shape.H, w = shape.W;
        if (options.WhiteningPatch is { } k)
        {
            var whiten = Conv2d(channels, 2 * channels * k * k, k, bias: false);
            Initialization.PatchWhitening(whiten, whiteningImages!, options.WhiteningEps);
            if (!options.WhiteningTrainable)
            {
                whiten.weight!.requires_grad = false;
                frozen.Add(whiten.weight);
            }
            layers.Add(("whiten", whiten));
            layers.Add(("whiten_act", Activation(options.Activation)));
            (channels, h, w) = (2 * channels * k * k, h - k + 1, w - k + 1);
        }
        var convs = new List<Conv2d>();
        for (int g = 0; g < options.Widths.Count; g++)
        {
            long width = options.Widths[g];
            var group = new List<(string, Module<Tensor, Tensor>)>();
            for (int i = 0; i < options.ConvsPerGroup; i++)
            {
                var conv = Conv2d(i == 0 ? channels : width, width, 3, padding: 1, bias: false);
                convs.Add(conv);
                group.Add(($"conv{i + 1}", conv));
                if (i == 0) group.Add(("pool", MaxPool2d(2)));
                group.Add(($"bn{i + 1}", BatchNorm2d(width, momentum: options.BatchNormMomentum)));
                group.Add(($"act{i + 1}", Activation(options.Activation)));
            }
            layers.Add(($"group{g + 1}", Sequential(group)));
            (channels, h, w) = (width, h / 2, w / 2);
        }
        // The first convolution sees the image (or the whitening layer), not a previous convolution: no identity to keep.
        if (options.Dirac) foreach (var conv in convs.Skip(1)) Initialization.Dirac(conv);
        Module<Tensor, Tensor> head = options.Head == "max"
            ? Sequential(("pool", AdaptiveMaxPool2d([1, 1])), ("flatten", Flatten()), ("fc", Linear(channels, classes, hasBias: false)))
            : Sequential(("flatten", Flatten()), ("fc", Linear(channels * h * w, classes, hasBias: false)));
        if (options.LogitScale != 1) head = Sequential(("linear", head), ("scale", new Scale(options.LogitScale)));
        layers.Add(("head", head));
        var model = Sequential(layers);
        var frozenHandles = frozen.Select(p => p.Handle).ToHashSet();
        var body = layers.Where(l => l.Item1 != "head").SelectMany(l => l.Item2.parameters()).Where(p => !frozenHandles.Contains(p.Handle)).ToArray();
        return new ModelSpec(model, [body, head.parameters().ToArray()]);
    }

    private static void Validate((long C, long H, long W) shape, int classes, FastNetOptions o, Tensor? images)
    {
        var errors = new List<string>();
        if (o.Widths is null || o.Widths.Count == 0 || o.Widths.Any(v => v < 1)) errors.Add("Widths: one or more channel counts ≥ 1");
        if (o.ConvsPerGroup is < 1 or > 2) errors.Add($"ConvsPerGroup: must be 1 or 2, got {o.ConvsPerGroup}");
        if (o.WhiteningPatch is { } k && (k < 1 || k > Math.Min(shape.H, shape.W))) errors.Add($"WhiteningPatch: must be in [1, {Math.Min(shape.H, shape.W)}], got {k}");
        if (o.WhiteningPatch is not null && images is null) errors.Add("WhiteningPatch: needs training images to compute the patch statistics");
        if (!(o.WhiteningEps > 0)) errors.Add($"WhiteningEps: must be > 0, got {o.WhiteningEps}");
        if (o.Activation is not ("relu" or "gelu")) errors.Add($"Activation: must be relu or gelu, got '{o.Activation}'");
        if (!(o.BatchNormMomentum > 0 && o.BatchNormMomentum <= 1)) errors.Add($"BatchNormMomentum: must be in (0, 1], got {o.BatchNormMomentum}");
        if (o.Head is not ("flatten" or "max")) errors.Add($"Head: must be flatten or max, got '{o.Head}'");
        if (!(o.LogitScale > 0) || double.IsInfinity(o.LogitScale)) errors.Add($"LogitScale: must be a finite number > 0, got {o.LogitScale}");
        if (classes < 2) errors.Add($"classes: must be ≥ 2, got {classes}");
        long side = Math.Min(shape.H, shape.W) - (o.WhiteningPatch ?? 1) + 1;
        if (o.Widths is { Count: > 0 } && side >> o.Widths.Count < 1)
            errors.Add($"Widths: {o.Widths.Count} groups halve {shape.H}×{shape.W} images below 1 pixel; use at most {Math.Max(0, (int)Math.Log2(Math.Max(side, 1)))}");
        if (errors.Count > 0) throw new ArgumentException("FastNet: " + string.Join("; ", errors), nameof(o));
    }

    private static Module<Tensor, Tensor> Activation(string name) => name == "gelu" ? GELU() : ReLU();

    /// <summary>Multiplies its input by a constant.</summary>
    private sealed class Scale(double factor) : Module<Tensor, Tensor>(nameof(Scale))
    {
        public override Tensor forward(Tensor input) => input.mul(factor);
    }
}

/// <summary>Reshapes a batch of flat or image samples to [N, C, H, W].</summary>
internal sealed class ReshapeImages : Module<Tensor, Tensor>
{
    private readonly long[] _shape;

    public ReshapeImages(long c, long h, long w) : base("Reshape") => _shape = [-1, c, h, w];

    public override Tensor forward(Tensor input) => input.reshape(_shape);
}
