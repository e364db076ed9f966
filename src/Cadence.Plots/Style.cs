using ScottPlot;

namespace Cadence.Plots;

/// <summary>The look every chart shares: sans-serif text, Category10 colours, small margins around the data.</summary>
internal static class Style
{
    /// <summary>Fraction of the data span left empty on each side: enough to see a line at the edge, no more.</summary>
    public const double MarginX = 0.01, MarginY = 0.05;

    /// <summary>Horizontal margin of per-epoch charts: their few markers would be cut in half at 1%.</summary>
    public const double MarginEpochX = 0.04;

    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    /// <summary>
    /// A sans-serif family that is installed: ScottPlot's own pick is a serif face on Debian (its "sans" lookup goes
    /// through fontconfig, which the self-contained Skia build lacks), so the families are asked for by name.
    /// </summary>
    private static readonly string FontFamily = PickFont();

    /// <summary>The font family every text of a chart uses.</summary>
    public static string Font => FontFamily;

    public static Color Color(int index) => Palette.GetColor(index);

    private static string PickFont()
    {
        var installed = SkiaSharp.SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new[] { "DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans" }.FirstOrDefault(installed.Contains) ?? Fonts.Sans;
    }

    public static Plot NewPlot(string? title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontFamily);
        if (title is not null) plot.Title(title, 16);
        plot.XLabel(xLabel, 14);
        plot.YLabel(yLabel, 14);
        plot.Axes.Margins(MarginX, MarginY);
        return plot;
    }

    /// <summary>The legend in a row under the data, where it hides no line; none when nothing is named.</summary>
    public static void Legend(Plot plot)
    {
        if (plot.GetPlottables().SelectMany(p => p.LegendItems).Any(i => !string.IsNullOrEmpty(i.LabelText)))
        {
            plot.ShowLegend(Edge.Bottom);
            plot.Legend.FontName = FontFamily;
        }
        else plot.HideLegend();
    }

    /// <summary>
    /// A log10 axis over data already in log10 units: labels show the learning rate itself; whole decades only when the
    /// data spans two or more of them, with log-spaced minor ticks.
    /// </summary>
    public static void LogAxis(IAxis axis, double decades)
    {
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = decades >= 2,
            LabelFormatter = v => Plots.Num(Math.Pow(10, v)),
        };
    }
}
