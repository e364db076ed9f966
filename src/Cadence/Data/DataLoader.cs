using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>Where a <see cref="DataLoader"/> keeps its samples when its batches go to a GPU.</summary>
public enum DataPlacement
{
    /// <summary>On the GPU when the dataset fits the budget (see <see cref="DataLoader.To"/>), else in pinned host memory.</summary>
    Auto,
    /// <summary>A copy of the whole dataset lives on the GPU and batches are gathered there: no host work per batch.</summary>
    Device,
    /// <summary>The dataset stays in host memory (pinned); each batch is gathered on the host and copied without blocking.</summary>
    Host,
}

/// <summary>
/// Batches of an in-memory <see cref="InMemoryDataset"/> by <c>index_select</c>. When shuffling, every epoch draws a
/// new permutation from the loader's own generator, seeded once, so runs are reproducible and independent of
/// TorchSharp's global generator. Batches are delivered on <see cref="Device"/> (see <see cref="To"/>).
/// </summary>
public sealed class DataLoader : IDisposable
{
    /// <summary>The share of a GPU's free memory a dataset may take to be kept there under <see cref="DataPlacement.Auto"/>.</summary>
    public const double DeviceBudgetShare = 0.25;

    /// <summary>The budget when the GPU's free memory cannot be asked: 1 GiB.</summary>
    public const long FallbackDeviceBudget = 1L << 30;

    private readonly Generator? _generator;
    private Tensor? _order;
    private Tensor? _deviceOrder;
    private Tensor? _features, _labels;   // the samples batches are gathered from: the dataset's, or copies on the device / pinned

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

    /// <summary>The device batches are delivered on (the CPU until <see cref="To"/> says otherwise).</summary>
    public Device Device { get; private set; } = new(DeviceType.CPU);

    /// <summary>Where the samples are kept for a GPU (<see cref="DataPlacement.Host"/> on the CPU, where there is no choice to make).</summary>
    public DataPlacement Placement { get; private set; } = DataPlacement.Host;

    /// <summary>Why <see cref="Placement"/> was chosen, in words (for a run's header).</summary>
    public string PlacementReason { get; private set; } = "the CPU";

    /// <summary>
    /// Delivers batches on <paramref name="device"/> from now on (fastai's <c>dls.to(device)</c>). For a GPU the samples
    /// are kept on it when <paramref name="placement"/> says so, or under <see cref="DataPlacement.Auto"/> when they take
    /// at most <paramref name="budgetBytes"/> (default: <see cref="DeviceBudgetShare"/> of the GPU's free memory, or
    /// <see cref="FallbackDeviceBudget"/> when that cannot be asked); otherwise they stay in pinned host memory and every
    /// batch is copied without blocking. The shuffled order is still drawn on the host from the loader's own generator
    /// (the same order as on the CPU for the same seed) and copied to the device once per epoch. A no-op when nothing changes.
    /// </summary>
    public void To(Device device, DataPlacement placement = DataPlacement.Auto, long? budgetBytes = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.type != DeviceType.CUDA)
        {
            if (Device.type == DeviceType.CPU) return;
            ReleaseCopies();
            (Device, Placement, PlacementReason) = (new Device(DeviceType.CPU), DataPlacement.Host, "the CPU");
            return;
        }
        var cuda = new Device(DeviceType.CUDA, Math.Max(device.index, 0));
        if (Device.type == DeviceType.CUDA && Device.index == cuda.index && (placement == DataPlacement.Auto || placement == Placement)) return;
        long bytes = Dataset.Features.NumberOfElements * Dataset.Features.ElementSize + Dataset.Labels.NumberOfElements * Dataset.Labels.ElementSize;
        long? free = TorchRuntime.GpuMemory(cuda.index)?.Free;
        var (chosen, reason) = ChoosePlacement(placement, bytes, budgetBytes ?? (free is { } f ? (long)(f * DeviceBudgetShare) : FallbackDeviceBudget),
            budgetBytes is null && free is null);
        ReleaseCopies();
        using (var scope = NewDisposeScope())
        {
            if (chosen == DataPlacement.Device)
            {
                _features = Dataset.Features.to(cuda).DetachFromDisposeScope();
                _labels = Dataset.Labels.to(cuda).DetachFromDisposeScope();
            }
            else
            {
                _features = Dataset.Features.pin_memory().DetachFromDisposeScope();
                _labels = Dataset.Labels.pin_memory().DetachFromDisposeScope();
            }
        }
        (Device, Placement, PlacementReason) = (cuda, chosen, reason);
        if (_order is not null) CopyOrder();
    }

    /// <summary>
    /// The placement rule of <see cref="To"/>: <see cref="DataPlacement.Device"/> or <see cref="DataPlacement.Host"/>,
    /// and why, for a dataset of <paramref name="bytes"/> and a budget of <paramref name="budget"/> bytes.
    /// </summary>
    public static (DataPlacement Placement, string Reason) ChoosePlacement(DataPlacement requested, long bytes, long budget, bool budgetGuessed = false)
    {
        string size = Mib(bytes);
        return requested switch
        {
            DataPlacement.Device => (DataPlacement.Device, $"on the GPU ({size}), as asked"),
            DataPlacement.Host => (DataPlacement.Host, $"in pinned host memory ({size}), as asked"),
            _ when bytes <= budget => (DataPlacement.Device, $"on the GPU: {size} fits the budget of {Mib(budget)}{(budgetGuessed ? " (free GPU memory unknown)" : "")}"),
            _ => (DataPlacement.Host, $"in pinned host memory: {size} exceeds the budget of {Mib(budget)}{(budgetGuessed ? " (free GPU memory unknown)" : "")}"),
        };

        static string Mib(long b) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{b / (1024.0 * 1024.0):F0} MiB");
    }

    /// <summary>Starts an epoch: draws a new order when shuffling.</summary>
    public void StartEpoch()
    {
        if (!Shuffle) return;
        _order?.Dispose();
        using var scope = NewDisposeScope();
        _order = randperm(Dataset.Count, generator: _generator).DetachFromDisposeScope();
        CopyOrder();
    }

    // The order lives where the samples are gathered: on the GPU for resident data, else on the host.
    private void CopyOrder()
    {
        _deviceOrder?.Dispose();
        _deviceOrder = null;
        if (Placement == DataPlacement.Device && _order is not null)
        {
            using var scope = NewDisposeScope();
            _deviceOrder = _order.to(Device).DetachFromDisposeScope();
        }
    }

    /// <summary>
    /// Batch <paramref name="index"/> of the current epoch, on <see cref="Device"/>, as new tensors that belong to the
    /// caller's dispose scope.
    /// </summary>
    public (Tensor X, Tensor Y) GetBatch(long index)
    {
        if (index < 0 || index >= BatchCount) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {BatchCount})");
        long start = index * BatchSize;
        return GetRange(start, Math.Min(start + BatchSize, Dataset.Count));
    }

    /// <summary>
    /// The samples at positions <paramref name="start"/> … <paramref name="end"/> − 1 of the current epoch's order, on
    /// <see cref="Device"/> (a batch of any size: validation reads large ones), in the caller's dispose scope.
    /// </summary>
    public (Tensor X, Tensor Y) GetRange(long start, long end)
    {
        if (start < 0 || end > Dataset.Count || start >= end)
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {end}) must be a non-empty range within [0, {Dataset.Count})");
        var features = _features ?? Dataset.Features;
        var labels = _labels ?? Dataset.Labels;
        Tensor x, y;
        if (!Shuffle) (x, y) = (features.slice(0, start, end, 1), labels.slice(0, start, end, 1));
        else
        {
            if (_order is null) StartEpoch();
            using var idx = (_deviceOrder ?? _order!).slice(0, start, end, 1);
            (x, y) = (features.index_select(0, idx), labels.index_select(0, idx));
        }
        if (Device.type == DeviceType.CPU || Placement == DataPlacement.Device) return (x, y);
        // Host placement on a GPU: gathered on the host, pinned, copied while the GPU works on the previous batch.
        if (Shuffle) (x, y) = (x.pin_memory(), y.pin_memory());
        return (x.to(Device, non_blocking: true), y.to(Device, non_blocking: true));
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
        CopyOrder();
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

    private void ReleaseCopies()
    {
        if (_features is not null && !ReferenceEquals(_features, Dataset.Features)) _features.Dispose();
        if (_labels is not null && !ReferenceEquals(_labels, Dataset.Labels)) _labels.Dispose();
        _deviceOrder?.Dispose();
        (_features, _labels, _deviceOrder) = (null, null, null);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ReleaseCopies();
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

    /// <summary>Delivers both loaders' batches on <paramref name="device"/> (see <see cref="DataLoader.To"/>).</summary>
    public void To(Device device, DataPlacement placement = DataPlacement.Auto)
    {
        Train.To(device, placement);
        Valid.To(device, placement);
    }

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
