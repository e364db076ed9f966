using Cadence.Schedules;

namespace Cadence.Training;

/// <summary>What <see cref="FineTuneExtensions.FineTune"/> did, phase by phase.</summary>
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
    /// Unlike fastai, the optimizer's state (momentum buffers) is kept across the phases.
    /// </summary>
    /// <exception cref="ScheduleValidationException">An invalid parameter (all of them named), or fewer than 2 layer groups.</exception>
    public static FineTuneResult FineTune(this Learner learner, int epochs, double baseLr = 2e-3, int freezeEpochs = 1, double lrMult = 100,
        double pctStart = 0.3, double div = 5, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var plan = Schedules.FineTune.Plan(learner.LayerGroups.Count, epochs, learner.Data.Train.BatchCount, baseLr, freezeEpochs, lrMult, pctStart, div);
        FitResult? frozen = null;
        if (plan.Frozen is { } first)
        {
            learner.Freeze();
            frozen = learner.Fit(first, plan.FreezeEpochs, cancellationToken);
            if (frozen.StopReason is not null) return new FineTuneResult(plan, frozen, null);
        }
        learner.Unfreeze();
        return new FineTuneResult(plan, frozen, learner.Fit(plan.Unfrozen, plan.Epochs, cancellationToken));
    }
}
