using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>
/// Batches of an in-memory <see cref="InMemoryDataset"/> by <c>index_select</c>. When shuffling, every epoch draws a
/// new permutation from the loader's own generator, seeded once, so runs are reproducible and independent of
/// TorchSharp's global generator.
/// </summary>
public sealed class DataLoader : IDisposable
{
    private readonly Generator? _generator;
    private Tensor? _order;

    /// <summary>Creates a loader.</summary>
    /// <param name="dataset">The samples (not owned).</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">Reshuffle at every epoch.</param>
    /// <param name="dropLast">Drop the last batch when it is smaller than <paramref name="batchSize"/>.</param>
    /// <param name="seed">Seed of the loader's generator (used when shuffling).</param>
    public DataLoader(InMemoryDataset dataset, int batchSize, bool shuffle = false, bool dropLast = false, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be ≥ 1");
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        if (shuffle) _generator = new Generator((ulong)seed);
    }

    /// <summary>The samples.</summary>
    public InMemoryDataset Dataset { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether every epoch is reshuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether a last, smaller batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch (<c>len(dl)</c>).</summary>
    public long BatchCount => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>Starts an epoch: draws a new order when shuffling.</summary>
    public void StartEpoch()
    {
        if (!Shuffle) return;
        _order?.Dispose();
        using var scope = NewDisposeScope();
        _order = randperm(Dataset.Count, generator: _generator).DetachFromDisposeScope();
    }

    /// <summary>
    /// Batch <paramref name="index"/> of the current epoch, as new tensors that belong to the caller's dispose scope.
    /// </summary>
    public (Tensor X, Tensor Y) GetBatch(long index)
    {
        if (index < 0 || index >= BatchCount) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {BatchCount})");
        long start = index * BatchSize;
        long end = Math.Min(start + BatchSize, Dataset.Count);
        if (!Shuffle) return (Dataset.Features.slice(0, start, end, 1), Dataset.Labels.slice(0, start, end, 1));
        if (_order is null) StartEpoch();
        using var idx = _order!.slice(0, start, end, 1);
        return (Dataset.Features.index_select(0, idx), Dataset.Labels.index_select(0, idx));
    }

    /// <summary>
    /// The loader's shuffling state: the order of the current epoch (null when not shuffling or before the first
    /// epoch) and the generator's state after drawing it. A checkpoint stores it so a resumed run sees the same data
    /// order, mid-epoch included, and draws the same orders afterwards.
    /// </summary>
    public DataLoaderState GetState()
    {
        if (!Shuffle) return new DataLoaderState(null, null);
        using var state = _generator!.get_state();
        return new DataLoaderState(_order?.data<long>().ToArray(), state.data<byte>().ToArray());
    }

    /// <summary>Restores what <see cref="GetState"/> returned (the next <see cref="StartEpoch"/> continues from it).</summary>
    /// <exception cref="ArgumentException">The state does not fit this loader (shuffling, dataset size).</exception>
    public void SetState(DataLoaderState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!Shuffle)
        {
            if (state.GeneratorState is not null || state.Order is not null)
                throw new ArgumentException("the saved loader shuffled, this one does not", nameof(state));
            return;
        }
        if (state.GeneratorState is null) throw new ArgumentException("the saved loader did not shuffle, this one does", nameof(state));
        if (state.Order is { } order && order.Length != Dataset.Count)
            throw new ArgumentException($"the saved order has {order.Length} samples, the dataset {Dataset.Count}", nameof(state));
        using (var generatorState = torch.tensor(state.GeneratorState, ScalarType.Byte)) _generator!.set_state(generatorState);
        _order?.Dispose();
        _order = null;
        if (state.Order is { } o)
        {
            using var scope = NewDisposeScope();
            _order = torch.tensor(o, ScalarType.Int64).DetachFromDisposeScope();
        }
    }

    /// <summary>The sample indices of every batch of the current epoch (for tests and inspection).</summary>
    public long[][] Indices()
    {
        var result = new long[BatchCount][];
        for (long b = 0; b < BatchCount; b++)
        {
            long start = b * BatchSize, end = Math.Min(start + BatchSize, Dataset.Count);
            if (Shuffle)
            {
                if (_order is null) StartEpoch();
                using var s = _order!.slice(0, start, end, 1);
                result[b] = s.data<long>().ToArray();
            }
            else
            {
                result[b] = new long[end - start];
                for (long i = start; i < end; i++) result[b][i - start] = i;
            }
        }
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _order?.Dispose();
        _generator?.Dispose();
    }
}

/// <summary>A <see cref="DataLoader"/>'s shuffling state (see <see cref="DataLoader.GetState"/>).</summary>
/// <param name="Order">Sample order of the current epoch, or null.</param>
/// <param name="GeneratorState">State of the shuffling generator (TorchSharp <c>Generator.get_state</c>), or null when not shuffling.</param>
public sealed record DataLoaderState(long[]? Order, byte[]? GeneratorState);

/// <summary>A training and a validation loader (fastai's <c>DataLoaders</c>); owns both loaders and their datasets.</summary>
public sealed class DataLoaders : IDisposable
{
    /// <summary>Creates the pair.</summary>
    /// <param name="train">Training batches (usually shuffled).</param>
    /// <param name="valid">Validation batches.</param>
    /// <param name="classNames">Optional names of the classes.</param>
    public DataLoaders(DataLoader train, DataLoader valid, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(valid);
        (Train, Valid, ClassNames) = (train, valid, classNames);
    }

    /// <summary>
    /// Builds loaders over two datasets: the training one shuffled with <paramref name="seed"/>, the validation one in order.
    /// </summary>
    public static DataLoaders From(InMemoryDataset train, InMemoryDataset valid, int batchSize, long seed = 0, bool dropLast = false,
        IReadOnlyList<string>? classNames = null) =>
        new(new DataLoader(train, batchSize, shuffle: true, dropLast: dropLast, seed: seed),
            new DataLoader(valid, batchSize, shuffle: false), classNames);

    /// <summary>Training loader.</summary>
    public DataLoader Train { get; }

    /// <summary>Validation loader.</summary>
    public DataLoader Valid { get; }

    /// <summary>Class names, when known.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Number of classes (the larger of the two datasets' counts).</summary>
    public int Classes => Math.Max(Train.Dataset.Classes, Valid.Dataset.Classes);

    /// <summary>Shape of one sample.</summary>
    public long[] SampleShape => Train.Dataset.SampleShape;

    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Valid.Dispose();
        if (!ReferenceEquals(Train.Dataset, Valid.Dataset)) Valid.Dataset.Dispose();
        Train.Dataset.Dispose();
    }
}
