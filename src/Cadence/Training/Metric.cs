using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// A validation metric accumulated over batches. <see cref="Accumulate"/> runs per batch and should keep its sums on
/// the batch's device (reading a GPU tensor as a number makes the host wait); <see cref="Value"/> is read once per pass.
/// </summary>
public abstract class Metric
{
    /// <summary>Column name (e.g. <c>accuracy</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Starts a validation pass.</summary>
    public abstract void Reset();

    /// <summary>Adds one batch: model outputs and targets.</summary>
    public abstract void Accumulate(Tensor output, Tensor target);

    /// <summary>The value over the batches since <see cref="Reset"/>.</summary>
    public abstract double Value { get; }
}

/// <summary>Classification accuracy: argmax of the outputs equals the target. The count of hits stays on the device.</summary>
public sealed class Accuracy : Metric
{
    private Tensor? _correct;
    private long _total;

    /// <inheritdoc />
    public override string Name => "accuracy";

    /// <inheritdoc />
    public override void Reset()
    {
        _correct?.Dispose();
        (_correct, _total) = (null, 0);
    }

    /// <inheritdoc />
    public override void Accumulate(Tensor output, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(target);
        using var pred = output.argmax(1);
        using var eq = pred.eq(target);
        using var sum = eq.sum();
        if (_correct is null)
        {
            using var scope = NewDisposeScope();
            _correct = sum.clone().DetachFromDisposeScope();
        }
        else _correct.add_(sum);
        _total += target.shape[0];
    }

    /// <inheritdoc />
    public override double Value => _total == 0 || _correct is null ? double.NaN : (double)_correct.item<long>() / _total;
}
