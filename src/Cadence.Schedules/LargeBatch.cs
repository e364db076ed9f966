using System.Globalization;

namespace Cadence.Schedules;

/// <summary>
/// Large-batch training rules from Goyal et al. 2017 ("Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour"):
/// the <b>linear scaling rule</b> — when the batch grows k-fold, multiply the learning rate by k — and <b>gradual
/// warm-up</b> — start at the base learning rate and raise it by a constant amount each step until it is k times
/// larger (they used 5 epochs; ResNet-50 at batch 8192 then matched batch 256's accuracy). Both compose with any
/// <see cref="Schedule"/>: the scaled schedule is the original one times a multiplier that climbs linearly from 1 to k
/// over the warm-up and stays at k after it, for every parameter group. Momentum is left as it is.
/// </summary>
/// <remarks>
/// For a constant or step schedule (the paper's) this is exactly the paper's warm-up: lr(t) = η + (kη − η)·t/W for
/// t &lt; W, then kη. For a schedule that moves during the warm-up (a 1cycle climb, say) every step keeps its shape and is
/// scaled by the warm-up's multiplier at that step. With several processes the batch is the effective one: processes ×
/// per-process batch × accumulation steps.
/// </remarks>
public static class LargeBatch
{
    /// <summary>The linear scaling rule's factor k = <paramref name="batchSize"/> / <paramref name="baseBatchSize"/>.</summary>
    /// <exception cref="ScheduleValidationException">A batch size is not a positive finite number.</exception>
    public static double Factor(double batchSize, double baseBatchSize)
    {
        new Check().Positive("batch_size", batchSize).Positive("base_batch_size", baseBatchSize).ThrowIfAny();
        return batchSize / baseBatchSize;
    }

    /// <summary>
    /// <paramref name="schedule"/> for batches of <paramref name="batchSize"/> when its learning rates were chosen for
    /// <paramref name="baseBatchSize"/>: every group's lr times k = batch / base, reached through a linear warm-up of
    /// <paramref name="warmupSteps"/> optimizer steps that starts at the unscaled value (multiplier 1 at step 0, k at
    /// step <paramref name="warmupSteps"/>). Length, step limit and momentum are the original schedule's.
    /// </summary>
    /// <param name="schedule">Any schedule, with the learning rates of the base batch size.</param>
    /// <param name="batchSize">The effective batch size of the run (processes × per-process batch × accumulation).</param>
    /// <param name="baseBatchSize">The batch size the schedule's learning rates are for (Goyal et al.: 256).</param>
    /// <param name="warmupSteps">Optimizer steps of gradual warm-up (Goyal et al.: 5 epochs); 0 scales at once.</param>
    /// <exception cref="ScheduleValidationException">Every invalid parameter, named.</exception>
    public static Schedule Scale(Schedule schedule, double batchSize, double baseBatchSize = 256, long warmupSteps = 0)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var check = new Check().Positive("batch_size", batchSize).Positive("base_batch_size", baseBatchSize)
            .AtLeast("warmup_steps", warmupSteps, 0);
        double k = batchSize / baseBatchSize;
        check.That(!(warmupSteps > 0 && k is > 0 and <= 1), "warmup_steps",
            $"a warm-up only applies when the batch grows (batch_size {Check.F(batchSize)} ≤ base_batch_size {Check.F(baseBatchSize)}); use 0");
        if (schedule.Length is { } length)
            check.That(warmupSteps <= length, "warmup_steps", $"must not exceed the schedule's {length} steps, got {warmupSteps}");
        check.ThrowIfAny();
        string factor = k.ToString("G6", CultureInfo.InvariantCulture);
        string warmup = warmupSteps > 0 ? $", reached by a {warmupSteps}-step linear warm-up from the unscaled lr" : "";
        return schedule with
        {
            Reference = $"{schedule.Reference}, lr ×{factor} for batch {Check.F(batchSize)} instead of {Check.F(baseBatchSize)} " +
                        $"(linear scaling rule, Goyal et al. 2017{warmup})",
            Lr = schedule.Lr.Select(c => (Curve)new WarmupScaledCurve(c, k, warmupSteps)).ToArray(),
        };
    }

    /// <summary>
    /// How many times a launcher's scheduler wrapper calls <c>scheduler.step()</c> per optimizer step, on each process:
    /// what an exported schedule must divide its step counter by. PyTorch DDP (one scheduler per process, stepped after
    /// each <c>optimizer.step()</c>) and Lightning (<c>interval="step"</c>) step once; Hugging Face accelerate's
    /// <c>AcceleratedScheduler</c> steps <paramref name="processes"/> times unless <c>split_batches=True</c> (its default
    /// assumes a schedule written in single-process steps, so it advances by the number of per-process batches consumed).
    /// </summary>
    /// <exception cref="ScheduleValidationException"><paramref name="processes"/> is below 1.</exception>
    public static int SchedulerCallsPerOptimizerStep(Launcher launcher, int processes)
    {
        new Check().AtLeast("processes", processes, 1).ThrowIfAny();
        return launcher == Launcher.Accelerate ? processes : 1;
    }
}

/// <summary>The data-parallel engine that will step an exported schedule (see <see cref="LargeBatch.SchedulerCallsPerOptimizerStep"/>).</summary>
public enum Launcher
{
    /// <summary>PyTorch <c>DistributedDataParallel</c> with a scheduler per process stepped after every optimizer step.</summary>
    Ddp,
    /// <summary>PyTorch Lightning with <c>{"interval": "step"}</c>: one scheduler step per optimizer step.</summary>
    Lightning,
    /// <summary>Hugging Face accelerate with its defaults (<c>split_batches=False</c>): <c>processes</c> scheduler steps per optimizer step.</summary>
    Accelerate,
    /// <summary>Hugging Face accelerate with <c>split_batches=True</c> (or <c>step_scheduler_with_optimizer=False</c> and one manual step): one step.</summary>
    AccelerateSplitBatches,
}

/// <summary>An lr curve times the large-batch multiplier: 1 → k linearly over the warm-up, then k.</summary>
internal sealed record WarmupScaledCurve(Curve Inner, double Factor, long WarmupSteps) : Curve
{
    public double Multiplier(long step) => step < WarmupSteps ? 1 + (Factor - 1) * step / WarmupSteps : Factor;

    public override double At(long step) => Inner.At(step) * Multiplier(step);

    public override Piece PieceAt(long step)
    {
        var inner = Inner.PieceAt(step);
        if (step >= WarmupSteps) return inner;
        // A warm-up over a constant stretch is a straight line; over anything else, the stretch's shape scaled up.
        string shape = inner.Shape == "constant" ? "linear" : $"{inner.Shape} with a linear warm-up";
        return new Piece(Mix(-7, inner.Id), shape);
    }
}
