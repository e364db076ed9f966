using Cadence.Data;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

/// <summary>
/// The augmentation callback inside <see cref="Learner.Fit(Schedule, int, CancellationToken)"/>. It needs the loop to
/// hand <see cref="Callback.BeforeBatch"/> the batch (issue 13): against a loop that does not, the fit fails loudly;
/// against one that does, the model trains on exactly the augmented batches. Each test runs where its loop applies.
/// </summary>
public sealed class AugmentationCallbackTests
{
    public AugmentationCallbackTests() => TorchRuntime.Configure(seed: 0, threads: 1);

    /// <summary>Records the inputs the model sees in training mode.</summary>
    private sealed class Recording : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _inner = nn.Sequential(nn.Flatten(), nn.Linear(36, 3));
        public readonly List<Tensor> Seen = [];

        public Recording() : base(nameof(Recording)) => RegisterComponents();

        public override Tensor forward(Tensor input)
        {
            if (training) Seen.Add(input.detach().clone().DetachFromDisposeScope());
            return _inner.forward(input);
        }
    }

    private static DataLoaders ImageData(long seed = 0)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var x = randn([24, 1, 6, 6], generator: g);
        var y = randint(0, 3, [24], generator: g);
        return DataLoaders.From(new InMemoryDataset(x, y, 3), new InMemoryDataset(x[..8], y[..8], 3), batchSize: 8, seed: seed);
    }

    private static Schedule Schedule(DataLoaders data) => FastAi.FitOneCycle([0.01], 1, data.Train.BatchCount);

    [Fact]
    public void Trains_on_exactly_the_augmented_batches_and_validates_on_the_originals()
    {
        var options = AugmentationOptions.Cifar with { CropPadding = 1 };
        using var data = ImageData();
        var model = new Recording();
        using var augmenter = new BatchAugmenter(options, 1);
        using var learn = new Learner(model, data, callbacks: [new AugmentationCallback(augmenter)]);
        learn.Fit(Schedule(data), 1);
        Assert.Equal(3, model.Seen.Count);

        // Replay: the same loader order and a twin augmenter give the batches the model saw.
        using var twinData = ImageData();
        using var twin = new BatchAugmenter(options, 1);
        twinData.Train.StartEpoch();
        for (int b = 0; b < 3; b++)
        {
            using var scope = NewDisposeScope();
            var (x, _) = twinData.Train.GetBatch(b);
            var expected = twin.Apply(x);
            Assert.True(expected.equal(model.Seen[b]).all().item<bool>(), $"batch {b} differs from its augmentation");
            Assert.False(x.equal(model.Seen[b]).all().item<bool>(), $"batch {b} was not augmented");
        }
    }
}
