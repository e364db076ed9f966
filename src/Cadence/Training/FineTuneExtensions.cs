using Cadence.Schedules;

namespace Cadence.Training;

/// <summary>What <see cref="FineTuneExtensions.FineTune(Learner, FineTunePlan, CancellationToken)"/> did, phase by phase.</summary>
/// <param name="Plan">The two schedules.</param>
/// <param name="Frozen">The frozen phase's fit, or null when it had no epochs.</param>
/// <param name="Unfrozen">The unfrozen phase's fit, or null when the frozen phase was stopped early.</param>
public sealed record FineTuneResult(FineTunePlan Plan, FitResult? Frozen, FitResult? Unfrozen);

/// <summary>fastai v2's <c>Learner.fine_tune</c> on a Cadence <see cref="Learner"/>.</summary>
public static class FineTuneExtensions
{
    /// <summary>
    /// fastai v2's <c>fine_tune(epochs, base_lr=2e-3, freeze_epochs=1, lr_mult=100, pct_start=0.3, div=5.0)</c>
    /// exactly (schedules from <see cref="Schedules.FineTune.Plan"/>): <see cref="Learner.Freeze"/>, one-cycle for
    /// <paramref name="freezeEpochs"/> with <c>slice(base_lr)</c> and pct_start 0.99, halve base_lr,
    /// <see cref="Learner.Unfreeze"/>, one-cycle for <paramref name="epochs"/> with <c>slice(base_lr/lr_mult, base_lr)</c>,
    /// <paramref name="pctStart"/> and <paramref name="div"/>. Frozen groups keep training their BatchNorm layers
    /// (<see cref="Learner.TrainBn"/>). A frozen phase stopped early (a callback, early stopping) ends the fine-tuning.
    /// Each phase starts with a new optimizer state (<see cref="Learner.ResetOptimizer"/>), as fastai's <c>freeze</c> and
    /// <c>unfreeze</c> clear it.
    /// </summary>
    /// <exception cref="ScheduleValidationException">An invalid parameter (all of them named), or fewer than 2 layer groups.</exception>
    public static FineTuneResult FineTune(this Learner learner, int epochs, double baseLr = 2e-3, int freezeEpochs = 1, double lrMult = 100,
        double pctStart = 0.3, double div = 5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        return learner.FineTune(Schedules.FineTune.Plan(learner.LayerGroups.Count, epochs, learner.Data.Train.BatchCount, baseLr, freezeEpochs, lrMult, pctStart, div),
            cancellationToken);
    }

    /// <summary>
    /// Runs a plan of <see cref="Schedules.FineTune.Plan"/> (made for this learner's layer groups and batches per epoch,
    /// e.g. with other <c>moms</c> or <c>div_final</c>): freeze, the frozen phase, unfreeze, the unfrozen phase.
    /// </summary>
    /// <exception cref="ArgumentException">The plan's schedules do not fit the learner's groups or batches per epoch.</exception>
    public static FineTuneResult FineTune(this Learner learner, FineTunePlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(plan);
        FitResult? frozen = null;
        if (plan.Frozen is { } first)
        {
            learner.Freeze();
            learner.ResetOptimizer();
            frozen = learner.Fit(first, plan.FreezeEpochs, cancellationToken);
            if (frozen.StopReason is not null) return new FineTuneResult(plan, frozen, null);
        }
        learner.Unfreeze();
        learner.ResetOptimizer();
        return new FineTuneResult(plan, frozen, learner.Fit(plan.Unfrozen, plan.Epochs, cancellationToken));
    }
}
