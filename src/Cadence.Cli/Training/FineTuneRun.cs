using Cadence.Plots;
using Cadence.Training;

namespace Cadence.Cli.Training;

/// <summary>
/// <c>cadence fit --fine-tune</c>: fastai v2's <c>fine_tune</c> is two fits (frozen, then unfrozen), and the learner's
/// recorder starts afresh at each. This callback keeps both as one run for the tool: the progress and the epoch table
/// number the epochs on (the unfrozen phase's first epoch is <c>freeze_epochs + 1</c>), the history holds both phases
/// (steps and epochs renumbered), and with <c>--out</c> metrics.csv lists every epoch so far, rewritten at each.
/// </summary>
internal sealed class FineTuneRun(FineTunePlan plan, IProgress<FitProgress>? display, string? metricsCsv) : Callback, IProgress<FitProgress>
{
    private readonly List<StepRecord> _steps = [];
    private readonly List<EpochRecord> _epochs = [];
    private int _epochOffset;
    private long _stepOffset;

    /// <summary>After the recorder and the CSV logger: the phase's records are complete.</summary>
    public override int Order => 60;

    public override bool RunsDuringLrFind => false;

    /// <summary>Both phases, as one history (what history.json, the charts and the report show).</summary>
    public TrainingHistory History(Learner learner) => new([.. _steps], [.. _epochs], [.. learner.Recorder.MetricNames]);

    public void Report(FitProgress p) => display?.Report(p with
    {
        Epoch = p.Epoch + _epochOffset,
        Epochs = plan.FreezeEpochs + plan.Epochs,
        Iteration = p.Iteration + _stepOffset,
        Finished = p.Finished is { } e ? Renumbered(e) : null,
    });

    private EpochRecord Renumbered(EpochRecord e) => e with { Epoch = e.Epoch + _epochOffset };

    public override void AfterEpoch(Learner learner)
    {
        if (metricsCsv is null) return;
        var rows = _epochs.Concat(learner.Recorder.Epochs.Select(Renumbered));
        Outputs.Write("--out", metricsCsv, () => AtomicFile.Write(metricsCsv, System.Text.Encoding.UTF8.GetBytes(MetricsCsv(learner.Recorder.MetricNames, rows))));
    }

    public override void AfterFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        _steps.AddRange(learner.Recorder.Steps.Select(s => s with { Step = s.Step + _stepOffset, Epoch = s.Epoch + _epochOffset }));
        _epochs.AddRange(learner.Recorder.Epochs.Select(Renumbered));
        _epochOffset += learner.Epochs;
        _stepOffset += learner.Epochs * learner.Data.Train.BatchCount;
    }

    /// <summary>
    /// The columns of <see cref="Callbacks.CsvLogger"/> with the phase after the epoch: epoch, phase (frozen or
    /// unfrozen), train_loss, valid_loss, the metrics, time (seconds), numbers exact.
    /// </summary>
    private string MetricsCsv(IReadOnlyList<string> metrics, IEnumerable<EpochRecord> epochs)
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var text = new System.Text.StringBuilder();
        text.AppendLine(string.Join(",", new[] { "epoch", "phase", "train_loss", "valid_loss" }.Concat(metrics).Append("time")));
        foreach (var e in epochs)
            text.AppendLine(string.Join(",", new[] { (e.Epoch + 1).ToString(CultureInfo.InvariantCulture), plan.PhaseOf(e.Epoch), F(e.TrainLoss), F(e.ValidLoss) }
                .Concat(e.Metrics.Select(F)).Append(F(e.Seconds))));
        return text.ToString();
    }

    /// <summary>The two phases' results as one: epochs and steps added up, losses and metrics of the last phase that ran.</summary>
    public static FitResult Combined(FineTuneResult r)
    {
        var last = r.Unfrozen ?? r.Frozen!;
        int epochs = (r.Frozen?.Epochs ?? 0) + (r.Unfrozen?.Epochs ?? 0);
        long iterations = (r.Frozen?.Iterations ?? 0) + (r.Unfrozen?.Iterations ?? 0);
        return last with { Epochs = epochs, Iterations = iterations, Seconds = (r.Frozen?.Seconds ?? 0) + (r.Unfrozen?.Seconds ?? 0) };
    }
}
