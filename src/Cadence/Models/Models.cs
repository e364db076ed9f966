using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Cadence.Models;

/// <summary>A model and its layer groups (body first, head last), as a <see cref="Training.Learner"/> takes them.</summary>
/// <param name="Model">The module.</param>
/// <param name="LayerGroups">Parameters per layer group.</param>
public sealed record ModelSpec(Module<Tensor, Tensor> Model, IReadOnlyList<IReadOnlyList<Parameter>> LayerGroups)
{
    /// <summary>
    /// The model moved to <paramref name="device"/> with its layer groups re-read from the moved model (TorchSharp
    /// replaces the parameters it moves, so the groups of this spec are stale afterwards: use the returned one).
    /// </summary>
    public ModelSpec To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return this with { LayerGroups = Training.ParameterGroups.MoveTo(Model, LayerGroups, device) };
    }
}

/// <summary>The built-in models, sized from the data: input shape and number of classes.</summary>
public static class ModelZoo
{
    /// <summary>The built-in models' names (<see cref="Create"/> also takes <see cref="TorchVisionNames"/>).</summary>
    public static IReadOnlyList<string> Names { get; } = ["mlp", "cnn", "resnet"];

    /// <summary>torchvision's architectures <see cref="Create"/> takes (see <see cref="TorchVisionResNet"/>); they load PyTorch weights.</summary>
    public static IReadOnlyList<string> TorchVisionNames { get; } = ["resnet18", "resnet34"];

    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> AllNames { get; } = [.. Names, .. TorchVisionNames];

    /// <summary>Creates a built-in model by name.</summary>
    /// <param name="name"><c>mlp</c>, <c>cnn</c>, <c>resnet</c>, or torchvision's <c>resnet18</c>/<c>resnet34</c> (see <see cref="TorchVisionResNet"/>).</param>
    /// <param name="sampleShape">Shape of one sample: [features] or [channels, height, width] (or [height, width]).</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="device">Where the model lives (null: where TorchSharp creates it, the CPU). Weights are drawn on the
    /// CPU from the global generator either way, so a seed gives the same initial model on every device.</param>
    public static ModelSpec Create(string name, long[] sampleShape, int classes, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        var spec = name switch
        {
            "mlp" => Mlp(sampleShape.Aggregate(1L, (a, b) => a * b), classes),
            "cnn" => Cnn(ImageShape(name, sampleShape), classes),
            "resnet" => ResNet(ImageShape(name, sampleShape), classes),
            "resnet18" or "resnet34" => TorchVision(name, ImageShape(name, sampleShape), classes),
            _ => throw new ArgumentException($"unknown model '{name}' (expected one of: {string.Join(", ", AllNames)})", nameof(name)),
        };
        return device is null ? spec : spec.To(device);
    }

    private static (long C, long H, long W) ImageShape(string model, long[] shape) => shape.Length switch
    {
        2 => (1, shape[0], shape[1]),
        3 => (shape[0], shape[1], shape[2]),
        _ => throw new ArgumentException($"model '{model}' needs image data ([channels,] height, width); this data has samples of shape [{string.Join(", ", shape)}] (use --model mlp)"),
    };

    /// <summary><c>inputs-hidden-ReLU-classes</c> (784-256-10 on Fashion-MNIST); groups: hidden layer, output layer.</summary>
    public static ModelSpec Mlp(long inputs, int classes, int hidden = 256)
    {
        var hiddenLayer = Linear(inputs, hidden);
        var output = Linear(hidden, classes);
        var model = Sequential(("flatten", Flatten()), ("fc1", hiddenLayer), ("relu", ReLU()), ("fc2", output));
        return new ModelSpec(model, [hiddenLayer.parameters().ToArray(), output.parameters().ToArray()]);
    }

    /// <summary>
    /// Conv 1→32 3×3 pad 1, BN, ReLU, MaxPool 2; Conv 32→64 3×3 pad 1, BN, ReLU, MaxPool 2; Linear 64·H/4·W/4→128, ReLU,
    /// Linear 128→classes (3136→128 on 28×28). Groups: convolutional body, classifier head.
    /// </summary>
    public static ModelSpec Cnn((long C, long H, long W) shape, int classes)
    {
        var body = Sequential(
            ("conv1", Conv2d(shape.C, 32, 3, padding: 1)), ("bn1", BatchNorm2d(32)), ("relu1", ReLU()), ("pool1", MaxPool2d(2)),
            ("conv2", Conv2d(32, 64, 3, padding: 1)), ("bn2", BatchNorm2d(64)), ("relu2", ReLU()), ("pool2", MaxPool2d(2)));
        var head = Sequential(("flatten", Flatten()), ("fc1", Linear(64 * (shape.H / 4) * (shape.W / 4), 128)), ("relu", ReLU()),
            ("fc2", Linear(128, classes)));
        var model = Sequential(("reshape", new Reshape(shape.C, shape.H, shape.W)), ("body", body), ("head", head));
        return new ModelSpec(model, [body.parameters().ToArray(), head.parameters().ToArray()]);
    }

    /// <summary>
    /// A small ResNet: stem conv 3×3 → 32, residual stages of 32, 64 (stride 2) and 128 (stride 2) channels, global
    /// average pool, linear. Groups: stem + first stage, later stages, head.
    /// </summary>
    public static ModelSpec ResNet((long C, long H, long W) shape, int classes)
    {
        var stem = Sequential(("conv", Conv2d(shape.C, 32, 3, padding: 1, bias: false)), ("bn", BatchNorm2d(32)), ("relu", ReLU()),
            ("block1", new ResNetBasicBlock(32, 32, 1)));
        var stages = Sequential(("block2", new ResNetBasicBlock(32, 64, 2)), ("block3", new ResNetBasicBlock(64, 128, 2)));
        var head = Sequential(("pool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()), ("fc", Linear(128, classes)));
        var model = Sequential(("reshape", new Reshape(shape.C, shape.H, shape.W)), ("stem", stem), ("stages", stages), ("head", head));
        return new ModelSpec(model, [stem.parameters().ToArray(), stages.parameters().ToArray(), head.parameters().ToArray()]);
    }

    /// <summary>torchvision's ResNet-18/34 for images of C channels (its own names, fastai's three layer groups).</summary>
    public static ModelSpec TorchVision(string name, (long C, long H, long W) shape, int classes)
    {
        var model = new TorchVisionResNet(name, checked((int)shape.C), classes);
        return new ModelSpec(model, model.LayerGroups());
    }

    /// <summary>Reshapes a batch of flat or image samples to [N, C, H, W].</summary>
    private sealed class Reshape : Module<Tensor, Tensor>
    {
        private readonly long[] _shape;

        public Reshape(long c, long h, long w) : base(nameof(Reshape)) => _shape = [-1, c, h, w];

        public override Tensor forward(Tensor input) => input.reshape(_shape);
    }
}
