namespace Cadence.Training;

/// <summary>The scopes of a fit that can be cancelled (fastai's <c>CancelFitException</c>, <c>CancelEpochException</c>, <c>CancelBatchException</c>).</summary>
public enum Scope
{
    /// <summary>The rest of this batch is skipped (no optimizer step when cancelled before it); training goes on with the next batch.</summary>
    Batch,
    /// <summary>The rest of this epoch is skipped (remaining batches and validation); the next epoch starts.</summary>
    Epoch,
    /// <summary>Training stops; <see cref="Callback.AfterCancelFit"/> and <see cref="Callback.AfterFit"/> still run.</summary>
    Fit,
}

/// <summary>Thrown by <see cref="Learner.Cancel"/> to cancel a <see cref="Training.Scope"/>; caught by the learner.</summary>
public sealed class CancelScopeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CancelScopeException(Scope scope, string? reason = null) : base(reason ?? $"cancelled: {scope}") => (Scope, Reason) = (scope, reason);

    /// <summary>The cancelled scope.</summary>
    public Scope Scope { get; }

    /// <summary>Why, when the canceller said.</summary>
    public string? Reason { get; }
}

/// <summary>
/// A hook into <see cref="Learner"/>'s loop. Every event is a virtual no-op. The order of events in a fit:
/// <code>
/// BeforeFit
///   BeforeEpoch                       (per epoch)
///     BeforeBatch                     (per training batch)
///       AfterLoss → AfterBackward → BeforeStep → AfterStep
///     AfterCancelBatch?  AfterBatch
///     BeforeValidate → AfterValidate
///   AfterCancelEpoch?  AfterEpoch
/// AfterCancelFit?  AfterFit
/// </code>
/// The learner writes the schedule's learning rates and momenta into the optimizer before <see cref="BeforeStep"/>,
/// so a callback sees there exactly what the step will use. Callbacks run in ascending <see cref="Order"/>.
/// </summary>
public abstract class Callback
{
    /// <summary>Position among the learner's callbacks (ascending). Default 0; the <see cref="Recorder"/> is 50.</summary>
    public virtual int Order => 0;

    /// <summary>Before the first epoch.</summary>
    public virtual void BeforeFit(Learner learner) { }
    /// <summary>At the start of each epoch (before its training batches).</summary>
    public virtual void BeforeEpoch(Learner learner) { }
    /// <summary>Before each training batch's forward pass (<see cref="Learner.X"/> and <see cref="Learner.Y"/> are set).</summary>
    public virtual void BeforeBatch(Learner learner) { }
    /// <summary>After the loss is computed (<see cref="Learner.Loss"/> is set), before the backward pass.</summary>
    public virtual void AfterLoss(Learner learner) { }
    /// <summary>After the backward pass (gradients are available; clip them here).</summary>
    public virtual void AfterBackward(Learner learner) { }
    /// <summary>After the schedule's values were written into the optimizer, just before its step.</summary>
    public virtual void BeforeStep(Learner learner) { }
    /// <summary>After the optimizer step.</summary>
    public virtual void AfterStep(Learner learner) { }
    /// <summary>When a batch was cancelled.</summary>
    public virtual void AfterCancelBatch(Learner learner) { }
    /// <summary>After each training batch (also after a cancelled one).</summary>
    public virtual void AfterBatch(Learner learner) { }
    /// <summary>Before the validation pass of an epoch.</summary>
    public virtual void BeforeValidate(Learner learner) { }
    /// <summary>After the validation pass (<see cref="Learner.ValidLoss"/> and <see cref="Learner.MetricValues"/> are set).</summary>
    public virtual void AfterValidate(Learner learner) { }
    /// <summary>When an epoch was cancelled.</summary>
    public virtual void AfterCancelEpoch(Learner learner) { }
    /// <summary>At the end of each epoch (also after a cancelled one).</summary>
    public virtual void AfterEpoch(Learner learner) { }
    /// <summary>When the fit was cancelled (by a callback, the NaN guard or the cancellation token).</summary>
    public virtual void AfterCancelFit(Learner learner) { }
    /// <summary>At the very end (also after a cancelled fit).</summary>
    public virtual void AfterFit(Learner learner) { }
}
