using Cadence.Plots;
using Cadence.Training;

namespace Cadence.Cli.Training;

/// <summary>What the model got wrong, for <c>fit --plots</c> and <c>--report</c> (fastai's <c>ClassificationInterpretation</c>).</summary>
internal static class Interpretation
{
    /// <summary>Images in the top-losses chart (fastai's <c>plot_top_losses(9)</c>).</summary>
    public const int TopLosses = 9;

    /// <summary>
    /// The confusion matrix (<c>confusion-matrix</c>) and, for images, the validation images with the largest losses
    /// (<c>top-losses</c>), each titled with its predicted/actual class, loss and probability. A chart that cannot be
    /// drawn (more classes than a matrix shows) is said on <paramref name="log"/> and left out.
    /// </summary>
    public static List<(string Name, Chart Chart)> Charts(Learner learn, LoadedData data, TextWriter log, CancellationToken ct)
    {
        var interpretation = ClassificationInterpretation.FromLearner(learn, ct);
        var charts = new List<(string, Chart)>();
        if (interpretation.Classes.Count <= InterpretationCharts.MaxClasses)
            charts.Add(("confusion-matrix", InterpretationCharts.ConfusionMatrixChart(interpretation)));
        else
            log.WriteLine($"cadence fit: no confusion matrix: {interpretation.Classes.Count} classes, a chart shows at most {InterpretationCharts.MaxClasses}");
        if (data.Card.Normalization is { } normalization)
        {
            using var pixels = ImageLoading.Pixels(data.Valid, normalization);
            charts.Add(("top-losses", InterpretationCharts.TopLossesChart(interpretation, pixels, Math.Min(TopLosses, interpretation.Actual.Count))));
        }
        return charts;
    }
}
