using Cadence.Training;

namespace Cadence.Plots;

/// <summary>
/// What a fit recorded, as plain data: a snapshot of a <see cref="Recorder"/>, or a run read back from a file.
/// The charts and the report read this, so they work without TorchSharp objects.
/// </summary>
/// <param name="Steps">Every optimizer step, in order.</param>
/// <param name="Epochs">Every epoch, in order.</param>
/// <param name="MetricNames">Names of the metrics, in the order of <see cref="EpochRecord.Metrics"/>.</param>
public sealed record TrainingHistory(IReadOnlyList<StepRecord> Steps, IReadOnlyList<EpochRecord> Epochs, IReadOnlyList<string> MetricNames)
{
    /// <summary>A copy of what <paramref name="recorder"/> holds now.</summary>
    public static TrainingHistory From(Recorder recorder)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        return new TrainingHistory(recorder.Steps.ToArray(), recorder.Epochs.ToArray(), recorder.MetricNames.ToArray());
    }

    /// <summary>Number of parameter groups (0 when nothing was recorded).</summary>
    public int Groups => Steps.Count == 0 ? 0 : Steps[0].Lr.Length;

    internal void RequireSteps(string parameter)
    {
        if (Steps.Count == 0) throw new ArgumentException("no optimizer step was recorded (run a fit first)", parameter);
    }
}
