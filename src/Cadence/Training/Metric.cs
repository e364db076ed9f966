using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>A validation metric accumulated over batches.</summary>
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

/// <summary>Classification accuracy: argmax of the outputs equals the target.</summary>
public sealed class Accuracy : Metric
{
    private long _correct, _total;

    /// <inheritdoc />
    public override string Name => "accuracy";

    /// <inheritdoc />
    public override void Reset() => (_correct, _total) = (0, 0);

    /// <inheritdoc />
    public override void Accumulate(Tensor output, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(target);
        using var pred = output.argmax(1);
        using var eq = pred.eq(target);
        using var sum = eq.sum();
        _correct += sum.item<long>();
        _total += target.shape[0];
    }

    /// <inheritdoc />
    public override double Value => _total == 0 ? double.NaN : (double)_correct / _total;
}
