using System.Diagnostics;

namespace Cadence.Training;

/// <summary>One optimizer step as recorded by <see cref="Recorder"/>.</summary>
/// <param name="Step">Step within the fit (0-based; the schedule's step).</param>
/// <param name="Epoch">Epoch (0-based).</param>
/// <param name="Loss">Raw loss of the batch.</param>
/// <param name="SmoothLoss">Debiased exponential moving average of the loss (β = 0.98, fastai's <c>smooth_loss</c>).</param>
/// <param name="Lr">Learning rate of every parameter group, as the optimizer used it.</param>
/// <param name="Momentum">SGD momentum or Adam β1 of every parameter group, as the optimizer used it (NaN for other optimizers).</param>
public readonly record struct StepRecord(long Step, int Epoch, double Loss, double SmoothLoss, double[] Lr, double[] Momentum);

/// <summary>One epoch as recorded by <see cref="Recorder"/>.</summary>
/// <param name="Epoch">Epoch (0-based).</param>
/// <param name="TrainLoss">Smoothed training loss at the end of the epoch (what fastai prints as <c>train_loss</c>).</param>
/// <param name="ValidLoss">Validation loss (NaN when the epoch was cancelled before validation).</param>
/// <param name="Metrics">Metric values in the learner's order.</param>
/// <param name="Seconds">Wall time of the epoch, validation included.</param>
public sealed record EpochRecord(int Epoch, double TrainLoss, double ValidLoss, IReadOnlyList<double> Metrics, double Seconds);

/// <summary>
/// fastai's <c>Recorder</c>, for every parameter group rather than the last one: per step the lr and momentum each
/// group actually used and the raw and smoothed loss; per epoch train and validation loss, metrics and time.
/// Always installed on a <see cref="Learner"/>; history is cleared at the start of each fit, except a fit resumed
/// from a checkpoint, which continues the checkpoint's history.
/// </summary>
public sealed class Recorder : Callback
{
    private const double Beta = 0.98;
    private readonly List<StepRecord> _steps = [];
    private readonly List<EpochRecord> _epochs = [];
    private readonly Stopwatch _epochClock = new();
    private double _average;
    private long _count;
    private double[] _stepLr = [];
    private double[] _stepMom = [];

    /// <inheritdoc />
    public override int Order => 50;

    /// <summary>Every optimizer step of the last fit.</summary>
    public IReadOnlyList<StepRecord> Steps => _steps;

    /// <summary>Every epoch of the last fit.</summary>
    public IReadOnlyList<EpochRecord> Epochs => _epochs;

    /// <summary>Names of the metrics, in the order of <see cref="EpochRecord.Metrics"/>.</summary>
    public IReadOnlyList<string> MetricNames { get; private set; } = [];

    /// <summary>The current smoothed loss.</summary>
    public double SmoothLoss { get; private set; } = double.NaN;

    /// <inheritdoc />
    public override void BeforeFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        MetricNames = learner.Metrics.Select(m => m.Name).ToArray();
        // A resumed fit keeps the history its checkpoint restored (see Restore).
        if (learner.StartAt is not null) return;
        _steps.Clear();
        _epochs.Clear();
        _average = 0;
        _count = 0;
        SmoothLoss = double.NaN;
    }

    /// <summary>The whole history and the loss smoother's state, for a checkpoint.</summary>
    internal RecorderSnapshot Snapshot() => new([.. _steps], [.. _epochs], _average, _count, SmoothLoss);

    /// <summary>Replaces the history and the smoother's state with a checkpoint's.</summary>
    internal void Restore(RecorderSnapshot snapshot)
    {
        _steps.Clear();
        _steps.AddRange(snapshot.Steps);
        _epochs.Clear();
        _epochs.AddRange(snapshot.Epochs);
        (_average, _count, SmoothLoss) = (snapshot.Average, snapshot.Count, snapshot.SmoothLoss);
    }

    /// <inheritdoc />
    public override void BeforeEpoch(Learner learner) => _epochClock.Restart();

    /// <inheritdoc />
    public override void AfterLoss(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        _count++;
        _average = Beta * _average + (1 - Beta) * learner.Loss;
        SmoothLoss = _average / (1 - Math.Pow(Beta, _count));
    }

    /// <inheritdoc />
    public override void BeforeStep(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var w = learner.HyperParams;
        _stepLr = new double[w.Groups];
        _stepMom = new double[w.Groups];
        for (int g = 0; g < w.Groups; g++)
        {
            _stepLr[g] = w.GetLr(g);
            _stepMom[g] = w.GetMomentum(g);
        }
    }

    /// <inheritdoc />
    public override void AfterStep(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        _steps.Add(new StepRecord(learner.Iteration - 1, learner.Epoch, learner.Loss, SmoothLoss, _stepLr, _stepMom));
    }

    /// <inheritdoc />
    public override void AfterEpoch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var record = new EpochRecord(learner.Epoch, SmoothLoss, learner.ValidLoss, learner.MetricValues.ToArray(), _epochClock.Elapsed.TotalSeconds);
        _epochs.Add(record);
        learner.Progress?.Report(new FitProgress(learner.Epoch, learner.Epochs, learner.Data.Train.BatchCount, learner.Data.Train.BatchCount,
            learner.Iteration, SmoothLoss, learner.HyperParams.GetLr(learner.HyperParams.Groups - 1), record));
    }
}

/// <summary>What a checkpoint keeps of a <see cref="Recorder"/>: its history and the smoother's running sums.</summary>
internal sealed record RecorderSnapshot(StepRecord[] Steps, EpochRecord[] Epochs, double Average, long Count, double SmoothLoss);
