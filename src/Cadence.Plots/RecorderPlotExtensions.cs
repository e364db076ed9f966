using Cadence.Training;

namespace Cadence.Plots;

/// <summary>fastai's <c>learn.recorder.plot_*</c> on a <see cref="Recorder"/>: each saves a PNG or SVG by extension.</summary>
public static class RecorderPlotExtensions
{
    /// <summary>The learning rate (and momentum when it varies) of the last fit (fastai <c>plot_lr</c>); see <see cref="Plots.LrChart"/>.</summary>
    public static void PlotLr(this Recorder recorder, string path, ChartOptions? options = null) => Plots.Lr(recorder, path, options);

    /// <summary>Training and validation loss of the last fit (fastai <c>plot_loss</c>); see <see cref="Plots.LossChart"/>.</summary>
    public static void PlotLoss(this Recorder recorder, string path, ChartOptions? options = null) => Plots.Loss(recorder, path, options);

    /// <summary>Metrics per epoch of the last fit (fastai <c>plot_metrics</c>); see <see cref="Plots.MetricsChart"/>.</summary>
    public static void PlotMetrics(this Recorder recorder, string path, ChartOptions? options = null) => Plots.Metrics(recorder, path, options);

    /// <summary>
    /// After an LR-finder run recorded by <paramref name="recorder"/>: the smoothed loss against the last group's lr
    /// (fastai <c>plot_lr_find</c>), leaving out the last <paramref name="skipEnd"/> steps, where the loss explodes.
    /// </summary>
    /// <param name="recorder">The recorder of the LR-finder run.</param>
    /// <param name="path">A <c>.png</c> or <c>.svg</c> file.</param>
    /// <param name="suggestions">Named suggested learning rates to mark, or <see langword="null"/>.</param>
    /// <param name="skipEnd">Steps left out at the end (fastai's <c>skip_end</c>, default 5); at least 2 steps must remain.</param>
    /// <param name="options">Size and title.</param>
    public static void PlotLrFind(this Recorder recorder, string path, IReadOnlyDictionary<string, double>? suggestions = null,
        int skipEnd = 5, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        int n = recorder.Steps.Count;
        if (skipEnd < 0 || n - skipEnd < 2)
            throw new ArgumentOutOfRangeException(nameof(skipEnd), skipEnd, $"skipEnd must be in [0, {Math.Max(0, n - 2)}] for {n} recorded steps, got {skipEnd}");
        var steps = recorder.Steps.Take(n - skipEnd).ToArray();
        Plots.LrFind(steps.Select(s => s.Lr[^1]).ToArray(), steps.Select(s => s.SmoothLoss).ToArray(), suggestions, path, options);
    }
}
