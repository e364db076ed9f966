using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;

namespace Cadence.Callbacks;

/// <summary>
/// Writes the run to TensorBoard event files (TorchSharp's <c>SummaryWriter</c>): per iteration the raw and smoothed
/// training loss and the lr and momentum of every layer group (<c>lr/group0</c> …), per epoch the validation loss
/// and every metric (<c>valid/accuracy</c> …). View with <c>tensorboard --logdir DIR</c>.
/// </summary>
public sealed class TensorBoardLogger : Callback
{
    private SummaryWriter? _writer;
    private int _logged;

    /// <summary>Creates the logger.</summary>
    /// <param name="logDirectory">Directory of the event files (created if missing).</param>
    /// <param name="every">Write the per-iteration scalars every this many iterations (≥ 1).</param>
    public TensorBoardLogger(string logDirectory, int every = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(logDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        (LogDirectory, Every) = (logDirectory, every);
    }

    /// <summary>Directory of the event files.</summary>
    public string LogDirectory { get; }

    /// <summary>Per-iteration scalars are written every this many iterations.</summary>
    public int Every { get; }

    /// <summary>Runs after the recorder, whose history it reads.</summary>
    public override int Order => 56;

    /// <summary>An LR range test leaves no event files.</summary>
    public override bool RunsDuringLrFind => false;

    /// <inheritdoc />
    public override void BeforeFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        Directory.CreateDirectory(LogDirectory);
        _writer ??= torch.utils.tensorboard.SummaryWriter(LogDirectory);
        _logged = learner.Recorder.Steps.Count;   // a resumed fit's restored history was logged by the run that made it
    }

    /// <inheritdoc />
    public override void AfterStep(Learner learner) => LogNewSteps(learner);

    /// <inheritdoc />
    public override void AfterLossRead(Learner learner, BatchLoss loss) => LogNewSteps(learner);

    // The recorder adds a step once its loss is read: right after the step on the CPU, in chunks on a GPU.
    private void LogNewSteps(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var steps = learner.Recorder.Steps;
        for (; _logged < steps.Count; _logged++)
        {
            var s = steps[_logged];
            if (_writer is null || s.Step % Every != 0) continue;
            int step = checked((int)s.Step);
            Scalar("train/loss", s.Loss, step);
            Scalar("train/smooth_loss", s.SmoothLoss, step);
            for (int g = 0; g < s.Lr.Length; g++) Scalar($"lr/group{g}", s.Lr[g], step);
            for (int g = 0; g < s.Momentum.Length; g++) Scalar($"momentum/group{g}", s.Momentum[g], step);
        }
    }

    /// <inheritdoc />
    public override void AfterEpoch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (_writer is null || learner.Recorder.Epochs.Count == 0) return;
        var e = learner.Recorder.Epochs[^1];
        int epoch = e.Epoch + 1;
        Scalar("epoch/train_loss", e.TrainLoss, epoch);
        Scalar("valid/loss", e.ValidLoss, epoch);
        for (int i = 0; i < e.Metrics.Count && i < learner.Recorder.MetricNames.Count; i++)
            Scalar($"valid/{learner.Recorder.MetricNames[i]}", e.Metrics[i], epoch);
    }

    // TensorBoard stores float32; a NaN loss is still worth seeing, so it is written as is.
    private void Scalar(string tag, double value, int step) => _writer!.add_scalar(tag, (float)value, step);
}
