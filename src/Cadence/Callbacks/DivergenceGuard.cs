using System.Globalization;
using Cadence.Training;

namespace Cadence.Callbacks;

/// <summary>Why a <see cref="DivergenceGuard"/> stopped a fit.</summary>
/// <param name="Iteration">The step (0-based, the schedule's) whose record tripped the guard.</param>
/// <param name="Epoch">Its epoch (0-based).</param>
/// <param name="Since">The first step of the streak above the threshold (equal to <paramref name="Iteration"/> for a non-finite loss).</param>
/// <param name="Lr">The learning rate of every parameter group at that step.</param>
/// <param name="SmoothLoss">The smoothed loss at that step (NaN or infinite for a non-finite loss).</param>
/// <param name="Best">The best smoothed loss before it.</param>
/// <param name="Message">One line: the iteration, the lr, and what to try.</param>
public sealed record DivergenceReport(long Iteration, int Epoch, long Since, IReadOnlyList<double> Lr, double SmoothLoss, double Best, string Message);

/// <summary>
/// Stops a fit whose loss diverges: a non-finite loss or smoothed loss, or a smoothed loss (fastai's debiased EMA,
/// β = 0.98) above <see cref="Factor"/> × the best smoothed loss so far <em>and</em> above the first one (the
/// untrained network's) for <see cref="Patience"/> consecutive steps. It cancels the fit with a
/// <see cref="DivergenceReport"/> whose one-line message becomes <see cref="Learner.StopReason"/>.
/// <para>
/// It reads the steps the <see cref="Recorder"/> recorded, all those new since its last look, after every batch and
/// every epoch. So it works the same when the losses reach the recorder in chunks (a GPU loop that reads the loss
/// without a sync per step): it then trips at the first look after the bad step, naming that step. It assumes only
/// that the recorder appends the steps in order with their loss, smoothed loss and learning rates. A resumed fit
/// replays the restored history once, so it decides exactly as the uninterrupted fit would.
/// </para>
/// <para>
/// While the smoothed loss is above the threshold (<see cref="Healthy"/> is false) a
/// <see cref="Checkpoints.CheckpointCallback"/> writes no rolling checkpoint, and none after the guard stops the fit:
/// the newest checkpoint is the last good one. The defaults (4×, 10 steps) are chosen from measured runs in
/// docs/checkpoints.md: runs that train fine stay below 2.1× their best; runs that diverge pass 4× within two steps
/// and stay there.
/// </para>
/// </summary>
public sealed class DivergenceGuard : Callback
{
    /// <summary>Default <see cref="Factor"/>: fastai's LR finder stops at 4× the best smoothed loss.</summary>
    public const double DefaultFactor = 4;

    /// <summary>Default <see cref="Patience"/>.</summary>
    public const int DefaultPatience = 10;

    private int _next;
    private double _best, _first;
    private int _streak;
    private long _since;

    /// <summary>Creates the guard.</summary>
    /// <param name="factor">How many times the best smoothed loss counts as diverged (&gt; 1).</param>
    /// <param name="patience">Consecutive steps above the threshold that stop the fit (≥ 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range (the message names each).</exception>
    public DivergenceGuard(double factor = DefaultFactor, int patience = DefaultPatience)
    {
        var errors = new List<string>();
        if (!(factor > 1) || !double.IsFinite(factor)) errors.Add(string.Create(CultureInfo.InvariantCulture, $"factor: must be a finite number > 1, got {factor}"));
        if (patience < 1) errors.Add(string.Create(CultureInfo.InvariantCulture, $"patience: must be ≥ 1, got {patience}"));
        if (errors.Count > 0) throw new ArgumentOutOfRangeException(errors.Count == 1 && patience < 1 ? nameof(patience) : nameof(factor), string.Join("; ", errors));
        (Factor, Patience) = (factor, patience);
    }

    /// <summary>How many times its best the smoothed loss may be before it counts as diverging.</summary>
    public double Factor { get; }

    /// <summary>Consecutive steps above the threshold that stop the fit.</summary>
    public int Patience { get; }

    /// <summary>After the recorder (50), before the CSV logger (55) and the checkpoints (58), which read <see cref="Healthy"/>.</summary>
    public override int Order => 52;

    /// <summary>Whether the last step looked at is below the threshold and the guard has not stopped the fit.</summary>
    public bool Healthy => _streak == 0 && Diverged is null;

    /// <summary>Why the guard stopped the current (or last) fit, or null.</summary>
    public DivergenceReport? Diverged { get; private set; }

    /// <inheritdoc />
    public override void BeforeFit(Learner learner)
    {
        (_next, _best, _first, _streak, _since) = (0, double.PositiveInfinity, double.NaN, 0, -1);
        Diverged = null;
    }

    /// <inheritdoc />
    public override void AfterBatch(Learner learner) => Look(learner);

    /// <inheritdoc />
    public override void AfterEpoch(Learner learner) => Look(learner);

    private void Look(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var steps = learner.Recorder.Steps;
        for (; _next < steps.Count; _next++)
        {
            var s = steps[_next];
            if (!double.IsFinite(s.Loss) || !double.IsFinite(s.SmoothLoss))
            {
                Stop(learner, s, s.Step, string.Create(CultureInfo.InvariantCulture,
                    $"loss is {Number(double.IsFinite(s.Loss) ? s.SmoothLoss : s.Loss)}"));
                return;
            }
            if (double.IsNaN(_first)) _first = s.SmoothLoss;
            if (s.SmoothLoss > Factor * _best && s.SmoothLoss > _first)
            {
                if (_streak++ == 0) _since = s.Step;
                if (_streak >= Patience)
                {
                    Stop(learner, s, _since, string.Create(CultureInfo.InvariantCulture,
                        $"the smoothed loss {s.SmoothLoss:G4} is above {Factor:G4}× its best ({_best:G4}) for {_streak} steps"));
                    return;
                }
            }
            else _streak = 0;
            if (s.SmoothLoss < _best) _best = s.SmoothLoss;
        }
    }

    private void Stop(Learner learner, StepRecord s, long since, string what)
    {
        string lr = string.Join(", ", s.Lr.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)));
        string message = string.Create(CultureInfo.InvariantCulture,
            $"diverged at iteration {s.Step} (epoch {s.Epoch + 1}) with lr {lr}: {what}; try a lower learning rate (cadence lr-find shows where the loss starts to rise)");
        Diverged = new DivergenceReport(s.Step, s.Epoch, since, s.Lr, s.SmoothLoss, _best, message);
        learner.Cancel(Scope.Fit, message);
    }

    private static string Number(double v) => double.IsNaN(v) ? "NaN" : v.ToString("G4", CultureInfo.InvariantCulture);
}
