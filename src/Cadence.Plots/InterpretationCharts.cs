using System.Globalization;
using Cadence.Training;
using ScottPlot;
using SkiaSharp;
using static TorchSharp.torch;

namespace Cadence.Plots;

/// <summary>
/// What the model got wrong, as charts for <c>--plots</c> and the report (fastai's <c>plot_confusion_matrix</c> and
/// <c>plot_top_losses</c>).
/// </summary>
public static class InterpretationCharts
{
    /// <summary>Most classes drawn with counts in the cells of <see cref="ConfusionMatrixChart"/>.</summary>
    public const int MaxClasses = 40;

    /// <summary>The confusion matrix as a heat-map: rows the actual class, columns the predicted one, counts in the cells.</summary>
    public static Chart ConfusionMatrixChart(ClassificationInterpretation interpretation, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(interpretation);
        int c = interpretation.Classes.Count;
        if (c > MaxClasses) throw new ArgumentException($"a confusion matrix chart shows at most {MaxClasses} classes, the model has {c}", nameof(interpretation));
        var values = new double[c, c];
        for (int a = 0; a < c; a++) for (int p = 0; p < c; p++) values[a, p] = interpretation.ConfusionMatrix[a, p];
        options ??= new ChartOptions { Width = Math.Clamp(240 + 60 * c, 680, 2400), Height = Math.Clamp(160 + 50 * c, 420, 2000) };
        string title = options.Title ?? string.Create(CultureInfo.InvariantCulture,
            $"Confusion matrix: {interpretation.Actual.Count} validation images, error rate {interpretation.ErrorRate:P2}");
        return Plots.HeatmapChart(interpretation.Classes, interpretation.Classes, values, title, "images", "actual", "predicted", "0", options);
    }

    /// <summary>
    /// The <paramref name="k"/> validation images with the largest losses in a grid, each titled
    /// <c>predicted/actual</c> and <c>loss / probability of the prediction</c>.
    /// </summary>
    /// <param name="interpretation">The validation results.</param>
    /// <param name="images">The validation images as decoded, uint8 [N, C, H, W] (C = 1 or 3), in the interpretation's order.</param>
    /// <param name="k">How many images (1 to 100).</param>
    /// <param name="options">Size and title.</param>
    public static Chart TopLossesChart(ClassificationInterpretation interpretation, Tensor images, int k = 9, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(interpretation);
        ArgumentNullException.ThrowIfNull(images);
        if (images.dtype != ScalarType.Byte || images.ndim != 4 || images.shape[1] is not (1 or 3) || images.shape[0] != interpretation.Actual.Count)
            throw new ArgumentException($"expected {interpretation.Actual.Count} uint8 images [N, 1 or 3, H, W], got {images.dtype} [{string.Join(", ", images.shape)}]", nameof(images));
        if (k is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(k), k, "must be in [1, 100]");
        var top = interpretation.TopLosses(k);
        int cols = (int)Math.Ceiling(Math.Sqrt(top.Count)), rows = (top.Count + cols - 1) / cols;
        options ??= new ChartOptions { Width = Math.Max(400, 220 * cols), Height = Math.Max(300, 250 * rows + 60) };
        string title = options.Title ?? "Top losses: prediction/actual, loss / probability";
        var plot = Style.NewPlot(title, "", "");
        for (int i = 0; i < top.Count; i++)
        {
            int r = i / cols, c = i % cols;
            double y = rows - 1 - r;
            using var bitmap = Bitmap(images[top[i].Index]);
            var image = plot.Add.ImageRect(new Image(bitmap), new CoordinateRect(c + 0.05, c + 0.95, y + 0.02, y + 0.72));
            image.AntiAlias = false;
            var text = plot.Add.Text(string.Create(CultureInfo.InvariantCulture,
                $"{top[i].Predicted}/{top[i].Actual}\n{top[i].Loss:0.00} / {top[i].Probability:0.00}"), c + 0.5, y + 0.86);
            text.LabelFontName = Style.Font;
            text.LabelFontSize = 12;
            text.Alignment = Alignment.MiddleCenter;
        }
        plot.HideGrid();
        plot.Axes.Frameless();
        plot.Axes.SetLimits(0, cols, 0, rows);
        plot.HideLegend();
        return new Chart(title, options.Width, options.Height, (plot, 1f));
    }

    /// <summary>A [C, H, W] uint8 image as an opaque RGBA bitmap (grey replicated).</summary>
    private static SKBitmap Bitmap(Tensor chw)
    {
        using var scope = NewDisposeScope();
        int c = (int)chw.shape[0], h = (int)chw.shape[1], w = (int)chw.shape[2];
        var pixels = chw.cpu().contiguous().data<byte>().ToArray();
        var rgba = new byte[4 * h * w];
        for (int i = 0; i < h * w; i++)
        {
            for (int ch = 0; ch < 3; ch++) rgba[4 * i + ch] = pixels[(c == 1 ? 0 : ch) * h * w + i];
            rgba[4 * i + 3] = 255;
        }
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }
}
