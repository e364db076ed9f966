using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>
/// An in-memory dataset: features (float32, first dimension = samples) and integer class labels (int64).
/// Owns its tensors (kept out of every dispose scope).
/// </summary>
public sealed class InMemoryDataset : IDisposable
{
    /// <summary>Creates a dataset; the tensors are detached from any dispose scope and owned by it.</summary>
    /// <param name="features">Features, shape [N, …], converted to float32.</param>
    /// <param name="labels">Class indices, shape [N], converted to int64.</param>
    /// <param name="classes">Number of classes (null: max label + 1).</param>
    public InMemoryDataset(Tensor features, Tensor labels, int? classes = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.ndim != 1 || features.shape[0] != labels.shape[0])
            throw new ArgumentException($"features have {features.shape[0]} samples but labels have shape [{string.Join(", ", labels.shape)}]", nameof(labels));
        Features = (features.dtype == ScalarType.Float32 ? features : features.to_type(ScalarType.Float32)).DetachFromDisposeScope();
        Labels = (labels.dtype == ScalarType.Int64 ? labels : labels.to_type(ScalarType.Int64)).DetachFromDisposeScope();
        Classes = classes ?? (Count == 0 ? 0 : (int)Labels.max().item<long>() + 1);
    }

    /// <summary>Features, shape [N, …].</summary>
    public Tensor Features { get; }

    /// <summary>Labels, shape [N].</summary>
    public Tensor Labels { get; }

    /// <summary>Number of samples.</summary>
    public long Count => Labels.shape[0];

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Shape of one sample (the features' shape without the first dimension).</summary>
    public long[] SampleShape => Features.shape[1..];

    /// <summary>
    /// A seeded random fraction of the samples (at least one), in their original order, as a new dataset with the
    /// same number of classes. The draw uses its own generator, so it does not move torch's random state.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is not in (0, 1].</exception>
    public InMemoryDataset Subset(double fraction, long seed)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "must be in (0, 1]");
        int n = checked((int)Count);
        int keep = Math.Max(1, (int)Math.Round(fraction * n));
        var order = Enumerable.Range(0, n).ToArray();
        new Random(unchecked((int)seed)).Shuffle(order);
        var picked = order[..keep];
        Array.Sort(picked);
        using var scope = NewDisposeScope();
        var index = tensor(picked.Select(i => (long)i).ToArray());
        return new InMemoryDataset(Features.index_select(0, index), Labels.index_select(0, index), Classes);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}
