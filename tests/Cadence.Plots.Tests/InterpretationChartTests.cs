using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Plots.Tests;

public class InterpretationChartTests
{
    private static ClassificationInterpretation Interp(int n, int classes)
    {
        using var logits = arange(n * classes, dtype: ScalarType.Float32).reshape(n, classes).sin();
        using var targets = arange(n, dtype: ScalarType.Int64).remainder(classes);
        return ClassificationInterpretation.FromOutputs(logits, targets, [.. Enumerable.Range(0, classes).Select(c => $"class {c}")]);
    }

    [Fact]
    public void Confusion_matrix_is_a_heat_map_with_the_counts()
    {
        var interp = Interp(40, 4);
        var chart = InterpretationCharts.ConfusionMatrixChart(interp);
        Assert.StartsWith("Confusion matrix: 40 validation images, error rate", chart.Title);
        Images.AssertPng(chart.ToPng(), chart.Width, chart.Height);
        var texts = System.Xml.Linq.XDocument.Parse(chart.ToSvg()).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToList();
        // One cell text per count, row by row, as HeatmapChart writes them; and both axes' class names.
        var counts = Enumerable.Range(0, 16).Select(i => interp.ConfusionMatrix[i / 4, i % 4].ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        int first = texts.IndexOf(counts[0]);
        Assert.True(first >= 0);
        Assert.Equal(counts, texts.Skip(first).Take(16));
        Assert.Equal(2 * 4, texts.Count(t => t.StartsWith("class ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Top_losses_are_drawn_as_an_image_grid_with_their_titles()
    {
        var interp = Interp(12, 3);
        using var images = arange(12 * 3 * 8 * 8, dtype: ScalarType.Int64).remainder(256).to_type(ScalarType.Byte).reshape(12, 3, 8, 8);
        var chart = InterpretationCharts.TopLossesChart(interp, images, k: 5);
        Images.AssertPng(chart.ToPng(), chart.Width, chart.Height);
        var worst = interp.TopLosses(1)[0];
        var titles = System.Xml.Linq.XDocument.Parse(chart.ToSvg()).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value).ToList();
        Assert.Contains(titles, t => t.Contains($"{worst.Predicted}/{worst.Actual}", StringComparison.Ordinal));
        using var grey = zeros([12, 1, 8, 8], ScalarType.Byte);
        var one = InterpretationCharts.TopLossesChart(interp, grey, k: 1);
        Assert.Equal((400, 310), (one.Width, one.Height));
        Images.AssertPng(one.ToPng(), one.Width, one.Height);
        using var wrong = zeros([3, 1, 8, 8], ScalarType.Byte);
        Assert.Throws<ArgumentException>(() => InterpretationCharts.TopLossesChart(interp, wrong));
    }
}
