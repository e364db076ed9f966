using Cadence.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;

namespace Cadence.Tests.Models;

public class ModelZooTests
{
    [Theory]
    [InlineData("mlp", new long[] { 13 }, 3, 2)]
    [InlineData("mlp", new long[] { 1, 28, 28 }, 10, 2)]
    [InlineData("cnn", new long[] { 1, 28, 28 }, 10, 2)]
    [InlineData("resnet", new long[] { 1, 28, 28 }, 10, 3)]
    public void Built_in_models_are_sized_from_the_data(string name, long[] shape, int classes, int groups)
    {
        TorchRuntime.Configure(seed: 0, threads: 1);
        var spec = ModelZoo.Create(name, shape, classes);
        Assert.Equal(groups, spec.LayerGroups.Count);
        Assert.Equal(spec.Model.parameters().Count(), spec.LayerGroups.Sum(g => g.Count));
        using var scope = torch.NewDisposeScope();
        spec.Model.eval();
        var y = spec.Model.forward(torch.randn([4, .. shape]));
        Assert.Equal([4L, classes], y.shape);
    }

    [Fact]
    public void Cnn_is_the_peer_benchmark_architecture()
    {
        var spec = ModelZoo.Create("cnn", [1, 28, 28], 10);
        var linear = spec.Model.modules().OfType<Linear>().ToArray();
        Assert.Equal(3136, linear[0].in_features);
        Assert.Equal(128, linear[0].out_features);
        var convs = spec.Model.modules().OfType<Conv2d>().ToArray();
        Assert.Equal(2, convs.Length);
        Assert.Equal(2, spec.Model.modules().OfType<BatchNorm2d>().Count());
    }

    [Fact]
    public void Image_models_refuse_tabular_data_clearly()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("cnn", [13], 3));
        Assert.Contains("model 'cnn' needs image data", e.Message);
    }
}
