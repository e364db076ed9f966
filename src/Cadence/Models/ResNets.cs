using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Cadence.Models;

/// <summary>
/// torchvision's ResNet-18 and ResNet-34 (<c>torchvision.models.resnet18/34</c>): the same modules in the same order with
/// the same parameter and buffer names (<c>conv1.weight</c>, <c>layer2.0.downsample.1.running_mean</c>, <c>fc.bias</c>, …),
/// so a PyTorch state dict loads as it is and an exported one loads into torchvision. Unlike TorchVision.NET's
/// <c>ResNet</c>, the number of input channels is a parameter (fastai's <c>n_in</c>) and the head is a plain
/// <c>fc</c> sized to the data's classes. Initialization is torchvision's: Kaiming-normal (fan-out, ReLU) convolutions,
/// BatchNorm weight 1 and bias 0, PyTorch's default <c>Linear</c>.
/// </summary>
public sealed class TorchVisionResNet : Module<Tensor, Tensor>
{
    // Field names are the state dict's names: do not rename.
#pragma warning disable IDE1006, SA1306
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Module<Tensor, Tensor> relu, maxpool;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly Module<Tensor, Tensor> avgpool;
    private readonly Linear fc;
#pragma warning restore IDE1006, SA1306

    /// <summary>Creates the network with random (torchvision) initialization.</summary>
    /// <param name="architecture"><c>resnet18</c> or <c>resnet34</c>.</param>
    /// <param name="inChannels">Channels of the input images (3 for ImageNet weights; 1 for grey images).</param>
    /// <param name="classes">Outputs of the head.</param>
    public TorchVisionResNet(string architecture, int inChannels = 3, int classes = 1000) : base(architecture)
    {
        int[] blocks = architecture switch
        {
            "resnet18" => [2, 2, 2, 2],
            "resnet34" => [3, 4, 6, 3],
            _ => throw new ArgumentException($"unknown ResNet '{architecture}' (expected resnet18 or resnet34)", nameof(architecture)),
        };
        if (inChannels < 1) throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, "must be ≥ 1");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "must be ≥ 1");
        (Architecture, InChannels, Classes) = (architecture, inChannels, classes);
        conv1 = Conv2d(inChannels, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = BatchNorm2d(64);
        relu = ReLU();
        maxpool = MaxPool2d(3, stride: 2, padding: 1);
        layer1 = Stage(64, 64, blocks[0], 1);
        layer2 = Stage(64, 128, blocks[1], 2);
        layer3 = Stage(128, 256, blocks[2], 2);
        layer4 = Stage(256, 512, blocks[3], 2);
        avgpool = AdaptiveAvgPool2d(1);
        fc = Linear(512, classes);
        RegisterComponents();
        using (no_grad())
        {
            foreach (var (_, m) in named_modules())
            {
                if (m is Conv2d conv) init.kaiming_normal_(conv.weight, mode: init.FanInOut.FanOut, nonlinearity: init.NonlinearityType.ReLU);
                else if (m is BatchNorm2d bn) { init.constant_(bn.weight, 1); init.constant_(bn.bias, 0); }
            }
        }
    }

    /// <summary><c>resnet18</c> or <c>resnet34</c>.</summary>
    public string Architecture { get; }

    /// <summary>Input channels of <c>conv1</c>.</summary>
    public int InChannels { get; }

    /// <summary>Outputs of <c>fc</c>.</summary>
    public int Classes { get; }

    /// <summary>
    /// fastai's split of a ResNet (<c>_resnet_split</c> after <c>create_body(cut=-2)</c>): the stem with
    /// <c>layer1</c>–<c>layer2</c>, then <c>layer3</c>–<c>layer4</c>, then the head.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<Parameter>> LayerGroups() =>
    [
        [.. conv1.parameters(), .. bn1.parameters(), .. layer1.parameters(), .. layer2.parameters()],
        [.. layer3.parameters(), .. layer4.parameters()],
        [.. fc.parameters()],
    ];

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return fc.forward(Features(input)).MoveToOuterDisposeScope();
    }

    /// <summary>What the head sees: the body (fastai's <c>create_body</c>, cut before the pooling) and the average pool, [N, 512].</summary>
    public Tensor Features(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var x = maxpool.forward(relu.forward(bn1.forward(conv1.forward(input))));
        x = layer4.forward(layer3.forward(layer2.forward(layer1.forward(x))));
        return avgpool.forward(x).flatten(1).MoveToOuterDisposeScope();
    }

    private static Sequential Stage(int inPlanes, int planes, int blocks, int stride)
    {
        var stage = Sequential();
        stage.append(new ResNetBasicBlock(inPlanes, planes, stride));
        for (int i = 1; i < blocks; i++) stage.append(new ResNetBasicBlock(planes, planes, 1));
        return stage;
    }
}

/// <summary>
/// torchvision's <c>BasicBlock</c>: two 3×3 convolutions with BatchNorm, identity or 1×1 projection shortcut. Also the
/// block of <see cref="ModelZoo.ResNet"/>, whose state dict therefore uses torchvision's names too.
/// </summary>
internal sealed class ResNetBasicBlock : Module<Tensor, Tensor>
{
#pragma warning disable IDE1006, SA1306
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Sequential? downsample;
#pragma warning restore IDE1006, SA1306

    public ResNetBasicBlock(int inPlanes, int planes, int stride) : base("BasicBlock")
    {
        conv1 = Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        if (stride != 1 || inPlanes != planes) downsample = Sequential(Conv2d(inPlanes, planes, 1, stride: stride, bias: false), BatchNorm2d(planes));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var y = functional.relu(bn1.forward(conv1.forward(input)));
        y = bn2.forward(conv2.forward(y));
        var identity = downsample is null ? input : downsample.forward(input);
        return functional.relu(y.add_(identity)).MoveToOuterDisposeScope();
    }
}
