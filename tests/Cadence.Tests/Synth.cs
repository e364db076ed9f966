using Cadence.Data;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace Cadence.Tests;

/// <summary>A tiny synthetic learner (fastai's synth_learner): 4 Gaussian blobs in 8 dimensions.</summary>
internal static class Synth
{
    static Synth() => TorchRuntime.Configure(threads: 1);

    public const int Features = 8, Classes = 4;

    public static DataLoaders Data(int train = 256, int valid = 128, int batchSize = 32, long seed = 0, bool dropLast = false)
    {
        TorchRuntime.Configure(threads: 1);
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)(seed + 1000));
        var centers = randn(Classes, Features, generator: g) * 2.5;
        (Tensor, Tensor) Make(int n)
        {
            var y = randint(0, Classes, [n], generator: g);
            var x = centers.index_select(0, y) + randn(n, Features, generator: g);
            return (x, y);
        }
        var (xt, yt) = Make(train);
        var (xv, yv) = Make(valid);
        return DataLoaders.From(new InMemoryDataset(xt, yt, Classes), new InMemoryDataset(xv, yv, Classes), batchSize, seed, dropLast);
    }

    /// <summary>8-16-16-4 MLP with three layer groups.</summary>
    public static (nn.Module<Tensor, Tensor> Model, IReadOnlyList<IReadOnlyList<Parameter>> Groups) Model(long seed = 0)
    {
        TorchRuntime.Configure(seed: seed, threads: 1);
        var l1 = nn.Linear(Features, 16);
        var l2 = nn.Linear(16, 16);
        var l3 = nn.Linear(16, Classes);
        var model = nn.Sequential(l1, nn.ReLU(), l2, nn.ReLU(), l3);
        return (model, [l1.parameters().ToArray(), l2.parameters().ToArray(), l3.parameters().ToArray()]);
    }

    public static Learner Learner(long seed = 0, OptimizerFactory? opt = null, int batchSize = 32, bool oneGroup = false, IEnumerable<Callback>? callbacks = null)
    {
        var (model, groups) = Model(seed);
        return new Learner(model, Data(batchSize: batchSize, seed: seed), optimizer: opt, layerGroups: oneGroup ? null : groups, callbacks: callbacks);
    }
}
