using System.Globalization;

namespace Cadence.Schedules;

/// <summary>The hyper-parameters of every parameter group for one optimizer step.</summary>
/// <param name="Lr">Learning rate of each group.</param>
/// <param name="Momentum">SGD momentum or Adam β1 of each group, or null when the schedule leaves it alone.</param>
public readonly record struct HyperParams(double[] Lr, double[]? Momentum);

/// <summary>
/// A complete policy: a learning-rate <see cref="Curve"/> per parameter group and, optionally, a momentum
/// (or Adam β1) curve per group. Immutable; the only state a training run needs is the step number.
/// </summary>
public sealed record Schedule
{
    /// <summary>The Cadence policy name (<c>one-cycle</c>, <c>fit</c>, …).</summary>
    public required string Policy { get; init; }

    /// <summary>What it reproduces, e.g. "PyTorch OneCycleLR".</summary>
    public required string Reference { get; init; }

    /// <summary>Learning rate per parameter group.</summary>
    public required IReadOnlyList<Curve> Lr { get; init; }

    /// <summary>Momentum (SGD) or β1 (Adam) per parameter group; null when the policy does not schedule it.</summary>
    public IReadOnlyList<Curve>? Momentum { get; init; }

    /// <summary>The number of steps the policy is meant to run (its training length), or null when it has none.</summary>
    public long? Length { get; init; }

    /// <summary>Optimizer steps per epoch, when the policy is defined in epochs (for explanations and plots).</summary>
    public long? StepsPerEpoch { get; init; }

    /// <summary>The last step the reference can evaluate (inclusive), or null for none; see <see cref="StepLimitReason"/>.</summary>
    public long? StepLimit { get; init; }

    /// <summary>Why steps after <see cref="StepLimit"/> are refused.</summary>
    public string? StepLimitReason { get; init; }

    /// <summary>Number of parameter groups.</summary>
    public int Groups => Lr.Count;

    /// <summary>Whether the policy schedules momentum / β1.</summary>
    public bool HasMomentum => Momentum is not null;

    /// <summary>
    /// Writes the learning rate (and momentum, when scheduled) of every group for <paramref name="step"/>.
    /// Allocation-free: this is what a training loop calls before each optimizer step.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The step is negative or past <see cref="StepLimit"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Also when the reference's formula gives a negative or non-finite value at this step (e.g. PyTorch's linear OneCycleLR one step past its end).</exception>
    public void At(long step, Span<double> lr, Span<double> momentum)
    {
        CheckStep(step);
        for (int g = 0; g < Lr.Count; g++)
        {
            double v = Lr[g].At(step);
            if (!(v >= 0) || double.IsInfinity(v)) throw Garbage("learning rate", g, step, v);
            lr[g] = v;
        }
        if (Momentum is null) return;
        for (int g = 0; g < Momentum.Count; g++)
        {
            double m = Momentum[g].At(step);
            if (!double.IsFinite(m)) throw Garbage("momentum", g, step, m);
            momentum[g] = m;
        }
    }

    /// <summary>The hyper-parameters of every group at <paramref name="step"/> (allocating convenience form).</summary>
    public HyperParams At(long step)
    {
        var lr = new double[Groups];
        var mom = HasMomentum ? new double[Groups] : null;
        At(step, lr, mom);
        return new HyperParams(lr, mom);
    }

    /// <summary>Values for steps 0 … <paramref name="iterations"/> − 1, as [group][step].</summary>
    public (double[][] Lr, double[][]? Momentum) Trace(long iterations)
    {
        if (iterations < 0) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "must be ≥ 0");
        var lr = new double[Groups][];
        var mom = HasMomentum ? new double[Groups][] : null;
        for (int g = 0; g < Groups; g++) { lr[g] = new double[iterations]; if (mom is not null) mom[g] = new double[iterations]; }
        var l = new double[Groups];
        var m = new double[Groups];
        for (long t = 0; t < iterations; t++)
        {
            At(t, l, m);
            for (int g = 0; g < Groups; g++) { lr[g][t] = l[g]; if (mom is not null) mom[g][t] = m[g]; }
        }
        return (lr, mom);
    }

    /// <summary>Plain-English explanation generated from the curves' structure; see <see cref="ScheduleDescription"/>.</summary>
    public string Describe(long? iterations = null) => ScheduleDescription.Describe(this, iterations);

    private void CheckStep(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "must be ≥ 0");
        if (step > StepLimit)
            throw new ArgumentOutOfRangeException(nameof(step), step,
                string.Create(CultureInfo.InvariantCulture, $"{Policy} is defined for steps 0…{StepLimit}: {StepLimitReason}"));
    }

    private ArgumentOutOfRangeException Garbage(string what, int group, long step, double value) =>
        new(nameof(step), step, string.Create(CultureInfo.InvariantCulture,
            $"{Reference} gives {what} {value} for group {group} at step {step}, past its valid range; Cadence refuses to use it"));
}
