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

/// <summary>One training batch's loss as a number (see <see cref="Callback.AfterLossRead"/>).</summary>
/// <param name="Epoch">The batch's epoch (0-based).</param>
/// <param name="Batch">The batch's index in its epoch.</param>
/// <param name="Iteration">The optimizer step the batch took (or would have taken, when it was cancelled before it).</param>
/// <param name="Loss">The loss.</param>
public readonly record struct BatchLoss(int Epoch, long Batch, long Iteration, double Loss);

/// <summary>
/// A hook into <see cref="Learner"/>'s loop. Every event is a virtual no-op. The order of events in a fit:
/// <code>
/// BeforeFit
///   BeforeEpoch                       (per epoch)
///     BeforeBatch                     (per training batch; Learner.X and Y hold the batch)
///       AfterLossRead (CPU) → AfterLoss → AfterBackward → BeforeStep → AfterStep
///     AfterCancelBatch?  AfterBatch
///     BeforeValidate → AfterValidate
///   AfterCancelEpoch?  AfterEpoch
/// AfterCancelFit?  AfterFit
/// </code>
/// The learner writes the schedule's learning rates and momenta into the optimizer before <see cref="BeforeStep"/>,
/// so a callback sees there exactly what the step will use. Callbacks run in ascending <see cref="Order"/>.
/// </summary>
/// <remarks>
/// Reading a loss from a GPU makes the host wait for the GPU. So on a GPU the learner reads the losses in chunks
/// (every <see cref="Learner.LossReadInterval"/> steps or ~0.5 s, at the end of each epoch's training, before a
/// checkpoint and when a fit is cancelled) and <see cref="AfterLossRead"/> runs for each of them then, in batch order;
/// on the CPU it runs in every batch, right after the forward pass. Callbacks that need the loss as a number
/// (recording, NaN checks, stopping rules) use <see cref="AfterLossRead"/>, not <see cref="Learner.Loss"/> in
/// <see cref="AfterLoss"/>.
/// </remarks>
public abstract class Callback
{
    /// <summary>Position among the learner's callbacks (ascending). Default 0; the <see cref="Recorder"/> is 50.</summary>
    public virtual int Order => 0;

    /// <summary>
    /// Whether this callback also runs during an LR range test (<see cref="LrFinder.LrFind(Learner, LrFindOptions, IProgress{LrFindProgress}?, CancellationToken)"/>),
    /// which trains through the learner's own loop. Default true, as in fastai: callbacks that shape training (gradient
    /// clipping, the NaN guard, augmentation) run. Callbacks that record, log, checkpoint or stop on validation results
    /// say false: the range test must leave no files and no history, and it runs no validation.
    /// </summary>
    public virtual bool RunsDuringLrFind => true;

    /// <summary>Before the first epoch.</summary>
    public virtual void BeforeFit(Learner learner) { }
    /// <summary>At the start of each epoch (before its training batches).</summary>
    public virtual void BeforeEpoch(Learner learner) { }
    /// <summary>
    /// Before each training batch's forward pass: <see cref="Learner.X"/> and <see cref="Learner.Y"/> hold the batch,
    /// on the learner's device, and a callback may replace them (fastai's <c>self.learn.xb = …</c>: augmentation). New
    /// tensors made here belong to the batch's dispose scope.
    /// </summary>
    public virtual void BeforeBatch(Learner learner) { }
    /// <summary>
    /// A training batch's loss has been read as a number (<see cref="Learner.Loss"/> holds it too while this runs). On
    /// the CPU in every batch, before <see cref="AfterLoss"/>; on a GPU in chunks, up to
    /// <see cref="Learner.LossReadInterval"/> batches late (see the remarks of <see cref="Callback"/>).
    /// </summary>
    /// <param name="learner">The learner.</param>
    /// <param name="loss">Which batch, and its loss.</param>
    public virtual void AfterLossRead(Learner learner, BatchLoss loss) { }
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
