using System.Globalization;
using Cadence.Data;
using Cadence.Models;
using Cadence.Tests.Data;
using Cadence.TestSupport;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Cadence.Tests.Models;

public sealed class ResNetTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-resnet");

    public ResNetTests() => TorchRuntime.Configure(seed: 0, threads: 2);

    public void Dispose() => _dir.Dispose();

    /// <summary>A fixed input every language can rebuild: x[k] = sin(0.01·k) as float32.</summary>
    private static Tensor Input(int channels, int size = 32) =>
        tensor(Enumerable.Range(0, channels * size * size).Select(k => (float)Math.Sin(0.01 * k)).ToArray(), [1, channels, size, size]);

    private static Tensor Eval(nn.Module<Tensor, Tensor> model, Tensor x)
    {
        model.eval();
        using var _ = no_grad();
        return model.forward(x);
    }

    [Fact]
    public void Has_torchvision_s_parameter_names_and_computes_what_torchvision_net_computes()
    {
        using var ours = new TorchVisionResNet("resnet18");
        using var reference = torchvision.models.resnet18();
        var mine = ours.state_dict();
        var theirs = reference.state_dict();
        Assert.Equal(theirs.Keys, mine.Keys);
        Assert.Equal(theirs.Values.Select(t => t.shape), mine.Values.Select(t => t.shape));
        Assert.Equal(62, ours.parameters().Count());
        using (no_grad()) foreach (var (k, v) in theirs) mine[k].copy_(v);
        using var x = Input(3);
        Assert.True(Eval(ours, x).allclose(Eval(reference, x), rtol: 1e-5, atol: 1e-6));

        using var r34 = new TorchVisionResNet("resnet34");
        using var tv34 = torchvision.models.resnet34();
        Assert.Equal(tv34.state_dict().Keys, r34.state_dict().Keys);
    }

    [Fact]
    public void Layer_groups_are_fastai_s_resnet_split()
    {
        using var model = new TorchVisionResNet("resnet34", inChannels: 1, classes: 5);
        var groups = model.LayerGroups();
        Assert.Equal(3, groups.Count);
        var names = model.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
        Assert.Equal("conv1.weight", names[groups[0][0].Handle]);
        Assert.StartsWith("layer2.", names[groups[0][^1].Handle]);
        Assert.StartsWith("layer3.", names[groups[1][0].Handle]);
        Assert.StartsWith("layer4.", names[groups[1][^1].Handle]);
        Assert.Equal(["fc.weight", "fc.bias"], groups[2].Select(p => names[p.Handle]));
        Assert.Equal(model.parameters().Count(), groups.Sum(g => g.Count));
        using var y = Eval(model, Input(1, 28));
        Assert.Equal([1L, 5], y.shape);
        Assert.Equal(["mlp", "cnn", "resnet", "resnet18", "resnet34"], ModelZoo.AllNames);
        Assert.IsType<TorchVisionResNet>(ModelZoo.Create("resnet34", [1, 28, 28], 10).Model);
    }

    private string SaveImageNetLike(string name, string architecture = "resnet18")
    {
        using var model = new TorchVisionResNet(architecture);
        string path = _dir[name];
        model.save_safetensors(path);   // PyBridge writes .safetensors ten times faster than .pt; the .pt path has its own tests
        return path;
    }

    [Fact]
    public void A_new_head_and_one_channel_data_are_adapted_as_fastai_does_and_said_in_one_line_each()
    {
        string path = SaveImageNetLike("r18.safetensors");
        using var three = new TorchVisionResNet("resnet18");
        Assert.Empty(PyTorchWeights.Load(three, path, head: "fc", firstConv: "conv1.weight"));

        using var grey = new TorchVisionResNet("resnet18", inChannels: 1, classes: 10);
        using var initialFc = grey.state_dict()["fc.weight"].clone();
        var messages = PyTorchWeights.Load(grey, path, head: "fc", firstConv: "conv1.weight");
        Assert.Equal(
        [
            "one-channel data, three-channel weights: 'conv1.weight' takes the sum of the weights over their 3 input channels (fastai's _load_pretrained_weights)",
            "new head: the weights classify 1000 classes, the data has 10: 'fc' starts from random weights (fastai's cnn_learner cut)",
        ], messages);
        var g = grey.state_dict();
        var t = three.state_dict();
        Assert.True(g["conv1.weight"].allclose(t["conv1.weight"].sum(1, keepdim: true)));
        Assert.True(g["layer3.1.bn2.running_var"].equal(t["layer3.1.bn2.running_var"]).all().item<bool>());
        Assert.True(g["fc.weight"].equal(initialFc).all().item<bool>());

        // The summed first convolution on grey input is the three-channel network on that input replicated.
        using var x = Input(1);
        using var features3 = Body(three, x.expand(1, 3, 32, 32));
        using var features1 = Body(grey, x);
        Assert.True(features1.allclose(features3, rtol: 1e-4, atol: 1e-5));
    }

    private static Tensor Body(TorchVisionResNet model, Tensor x)
    {
        model.eval();
        using var _ = no_grad();
        return model.Features(x);
    }

    [Fact]
    public void A_file_that_does_not_fit_is_refused_naming_the_first_differing_tensor()
    {
        string r34 = SaveImageNetLike("r34.safetensors", "resnet34");
        string r18 = SaveImageNetLike("r18.safetensors");
        using var model18 = new TorchVisionResNet("resnet18");
        var e = Assert.Throws<DataFormatException>(() => PyTorchWeights.Load(model18, r34, head: "fc", firstConv: "conv1.weight"));
        Assert.Equal($"{r34}: does not fit resnet18: the file has tensor 'layer1.2.bn1.bias' [64], which the model does not have", e.Message);
        using var model34 = new TorchVisionResNet("resnet34");
        e = Assert.Throws<DataFormatException>(() => PyTorchWeights.Load(model34, r18));
        Assert.Equal($"{r18}: does not fit resnet34: tensor 'layer1.2.conv1.weight' [64, 64, 3, 3] is missing from the file (it has 122 tensors: bn1.bias, bn1.num_batches_tracked, bn1.running_mean, …)", e.Message);

        // A new head is only allowed where it was asked for: without 'head', another class count is a mismatch too.
        using var ten = new TorchVisionResNet("resnet18", classes: 10);
        e = Assert.Throws<DataFormatException>(() => PyTorchWeights.Load(ten, r18));
        Assert.Equal($"{r18}: does not fit resnet18: tensor 'fc.weight' is [1000, 512] in the file but [10, 512] in the model", e.Message);

        string text = _dir.Write("not-weights.pt", "hello");
        e = Assert.Throws<DataFormatException>(() => PyTorchWeights.Load(model18, text));
        Assert.StartsWith($"{text}: cannot read it as a PyTorch state dict (torch.save of model.state_dict()):", e.Message);
        string fake = _dir.Write("fake.safetensors", "{}");
        e = Assert.Throws<DataFormatException>(() => PyTorchWeights.Load(model18, fake));
        Assert.StartsWith($"{fake}: cannot read it as a PyTorch state dict (safetensors):", e.Message);
    }

    [Fact]
    public void Safetensors_and_pt_exports_load_back_to_the_same_network()
    {
        using var model = new TorchVisionResNet("resnet18", inChannels: 1, classes: 7);
        using var x = Input(1);
        using var expected = Eval(model, x);
        foreach (var name in new[] { "m.safetensors", "m.pt" })
        {
            PyTorchWeights.Export(model, _dir[name]);
            using var back = new TorchVisionResNet("resnet18", inChannels: 1, classes: 7);
            Assert.Empty(PyTorchWeights.Load(back, _dir[name]));
            Assert.True(Eval(back, x).equal(expected).all().item<bool>(), name);
        }
        Assert.Empty(Directory.GetFiles(_dir.Path, ".*"));   // no temporary file left
    }

    [SkippableFact]
    public void Loads_a_torchvision_state_dict_and_exports_one_torchvision_loads_with_the_same_outputs()
    {
        string python = Requires.PythonWithTorch();
        using var x3 = Input(3);
        File.WriteAllBytes(_dir["x3.bin"], x3.data<float>().ToArray().SelectMany(BitConverter.GetBytes).ToArray());
        string pt = _dir["tv.pt"];
        var output = ImageDecoderTests.RunPython(python, $$"""
            import torch, torchvision
            torch.manual_seed(0)
            m = torchvision.models.resnet18().eval()
            torch.save(m.state_dict(), r'{{pt}}')
            x = torch.frombuffer(bytearray(open(r'{{_dir["x3.bin"]}}','rb').read()), dtype=torch.float32).reshape(1, 3, 32, 32)
            with torch.no_grad(): y = m(x)
            print(','.join(repr(float(v)) for v in y.flatten()))
            """);
        var expected = output.Trim().Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        using var ours = new TorchVisionResNet("resnet18");
        Assert.Empty(PyTorchWeights.Load(ours, pt, head: "fc", firstConv: "conv1.weight"));
        var y = Eval(ours, x3).data<float>().ToArray();
        Assert.Equal(1000, y.Length);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]), $"output {i}: {y[i]} vs PyTorch {expected[i]}");

        // Cadence → PyTorch: a one-channel, 10-class network exported as .pt loads strictly into torchvision's (conv1 for 1 channel).
        using var grey = new TorchVisionResNet("resnet18", inChannels: 1, classes: 10);
        PyTorchWeights.Load(grey, pt, head: "fc", firstConv: "conv1.weight");
        string exported = _dir["cadence.pt"];
        PyTorchWeights.Export(grey, exported);
        using var x1 = Input(1);
        File.WriteAllBytes(_dir["x1.bin"], x1.data<float>().ToArray().SelectMany(BitConverter.GetBytes).ToArray());
        output = ImageDecoderTests.RunPython(python, $$"""
            import torch, torchvision
            m = torchvision.models.resnet18(num_classes=10)
            m.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
            m.load_state_dict(torch.load(r'{{exported}}'), strict=True)
            m.eval()
            x = torch.frombuffer(bytearray(open(r'{{_dir["x1.bin"]}}','rb').read()), dtype=torch.float32).reshape(1, 1, 32, 32)
            with torch.no_grad(): y = m(x)
            print(','.join(repr(float(v)) for v in y.flatten()))
            """);
        expected = output.Trim().Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        y = Eval(grey, x1).data<float>().ToArray();
        Assert.Equal(10, expected.Length);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]), $"output {i}: {y[i]} vs PyTorch {expected[i]}");
    }
}
