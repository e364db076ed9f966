using System.Globalization;
using Cadence.Schedules;

namespace Cadence.Training;

/// <summary>How the learning rate follows the batch size (<see cref="LargeBatch"/>).</summary>
public enum LrScaling
{
    /// <summary>lr × B / B₀ (Goyal et al. 2017, for SGD).</summary>
    Linear,
    /// <summary>lr × √(B / B₀) (Krizhevsky 2014; Hoffer et al. 2017; the usual rule for Adam).</summary>
    Sqrt,
}

/// <summary>
/// Larger-batch training with the matching learning rate: a schedule tuned at batch size B₀ is scaled to batch size B
/// (<see cref="LrScaling"/>) and, because the scaled lr is too large for the first steps, warmed up gradually: over the
/// first <c>warmupSteps</c> the factor ramps linearly from 1 (the tuned lr) to the full factor, as Goyal et al. warm up
/// from the base lr to the scaled lr over 5 epochs. The schedule's shape, momentum and length are kept.
/// </summary>
public static class LargeBatch
{
    /// <summary>The factor on the lr for batch size <paramref name="batchSize"/> when the lr was tuned at <paramref name="baseBatchSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A batch size is below 1.</exception>
    public static double Factor(int baseBatchSize, int batchSize, LrScaling rule = LrScaling.Linear)
    {
        if (baseBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(baseBatchSize), baseBatchSize, "must be ≥ 1");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be ≥ 1");
        double ratio = (double)batchSize / baseBatchSize;
        return rule == LrScaling.Linear ? ratio : Math.Sqrt(ratio);
    }

    /// <summary>
    /// <paramref name="schedule"/> (tuned at <paramref name="baseBatchSize"/>) for batches of <paramref name="batchSize"/>:
    /// every lr times <see cref="Factor"/>, ramped from 1× at step 0 to the full factor at <paramref name="warmupSteps"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A batch size is below 1 or the warm-up is negative.</exception>
    public static Schedule Scale(Schedule schedule, int baseBatchSize, int batchSize, long warmupSteps, LrScaling rule = LrScaling.Linear)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "must be ≥ 0");
        double factor = Factor(baseBatchSize, batchSize, rule);
        return schedule with
        {
            Lr = schedule.Lr.Select(c => (Curve)new WarmedUpScale(c, factor, warmupSteps)).ToArray(),
            Reference = string.Create(CultureInfo.InvariantCulture,
                $"{schedule.Reference}, lr × {factor:G6} ({rule.ToString().ToLowerInvariant()} rule, batch {batchSize} vs {baseBatchSize}), warmed up over {warmupSteps} steps"),
        };
    }

    private sealed record WarmedUpScale(Curve Inner, double Factor, long WarmupSteps) : Curve
    {
        public override double At(long step) =>
            Inner.At(step) * (step >= WarmupSteps ? Factor : 1 + (Factor - 1) * step / WarmupSteps);

        public override Piece PieceAt(long step) =>
            step < WarmupSteps ? new Piece(-1, "warm-up") : Inner.PieceAt(step);
    }
}
