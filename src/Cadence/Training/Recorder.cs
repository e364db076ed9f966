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
/// from a checkpoint, which continues the checkpoint's history. A step is recorded once both its optimizer step and its
/// loss are known: on the CPU at <see cref="Callback.AfterStep"/>, on a GPU when the learner reads the losses (so
/// <see cref="Steps"/> trails the training by up to <see cref="Learner.LossReadInterval"/> steps there). The range test
/// (<c>LrFind</c>) does not touch it.
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
    // Steps taken and losses read, waiting for each other (the order they arrive in differs between CPU and GPU).
    private readonly Queue<(int Epoch, long Batch, long Step, double[] Lr, double[] Momentum)> _stepped = new();
    private readonly Queue<(int Epoch, long Batch, double Loss, double Smooth)> _read = new();

    /// <inheritdoc />
    public override int Order => 50;

    /// <summary>The range test keeps its own curve and leaves the learner's history alone.</summary>
    public override bool RunsDuringLrFind => false;

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
        _stepped.Clear();
        _read.Clear();
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
        _stepped.Clear();
        _read.Clear();
    }

    /// <inheritdoc />
    public override void BeforeEpoch(Learner learner) => _epochClock.Restart();

    /// <inheritdoc />
    public override void AfterLossRead(Learner learner, BatchLoss loss)
    {
        _count++;
        _average = Beta * _average + (1 - Beta) * loss.Loss;
        SmoothLoss = _average / (1 - Math.Pow(Beta, _count));
        _read.Enqueue((loss.Epoch, loss.Batch, loss.Loss, SmoothLoss));
        Join();
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
        _stepped.Enqueue((learner.Epoch, learner.Batch, learner.Iteration - 1, _stepLr, _stepMom));
        Join();
    }

    // Pairs each step with its batch's loss, in batch order. A loss whose batch never stepped (cancelled before its
    // step) is counted in the smoothed loss, as fastai does, but makes no record.
    private void Join()
    {
        while (_stepped.Count > 0 && _read.Count > 0)
        {
            var s = _stepped.Peek();
            var r = _read.Peek();
            int order = r.Epoch != s.Epoch ? r.Epoch.CompareTo(s.Epoch) : r.Batch.CompareTo(s.Batch);
            if (order < 0) { _read.Dequeue(); continue; }
            if (order > 0) { _stepped.Dequeue(); continue; }   // a step without a loss cannot happen; never wait on one
            _stepped.Dequeue();
            _read.Dequeue();
            _steps.Add(new StepRecord(s.Step, s.Epoch, r.Loss, r.Smooth, s.Lr, s.Momentum));
        }
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
