using Cadence.TestSupport;
using SkiaSharp;

namespace Cadence.Plots.Tests;

public sealed class HeatmapTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-heatmap");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static readonly string[] Rows = ["div=10", "div=32"];
    private static readonly string[] Columns = ["cut-div=3", "cut-div=5", "cut-div=10"];

    private static Chart Grid(double[,] values) => Plots.HeatmapChart(Rows, Columns, values, "accuracy over the grid", "accuracy (mean of 3 seeds)",
        rowAxisLabel: "div", columnAxisLabel: "cut-div", options: new ChartOptions { Width = 640, Height = 360 });

    [Fact]
    public void Heatmap_renders_png_and_svg_with_each_value_in_its_cell_and_missing_cells_grey()
    {
        var chart = Grid(new[,] { { 0.912, 0.905, double.NaN }, { 0.871, 0.5, 0.934 } });
        var png = Path.Combine(_dir, "heatmap.png");
        var svgPath = Path.Combine(_dir, "heatmap.svg");
        chart.Save(png);
        chart.Save(svgPath);
        Images.AssertPng(File.ReadAllBytes(png), 640, 360);
        string svg = File.ReadAllText(svgPath);
        Images.AssertSvg(svg, 640, 360);
        if (Environment.GetEnvironmentVariable("CADENCE_PLOTS_GALLERY") is { Length: > 0 } gallery)
            File.Copy(png, Path.Combine(gallery, "heatmap.png"), overwrite: true);

        // Skia writes each glyph run as the text of an SVG <text> element (one per cell, label, title).
        string text = string.Concat(Images.AssertSvg(svg, 640, 360).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
        foreach (var cell in new[] { "0.912", "0.905", "0.871", "0.500", "0.934", "—", "div=32", "cut-div=10", "accuracy (mean of 3 seeds)" })
            Assert.Contains(cell, text, StringComparison.Ordinal);

        // The missing cell (top right) is light grey; the best (bottom right) and worst (bottom middle) differ in colour.
        using var bitmap = SKBitmap.Decode(File.ReadAllBytes(png));
        var plot = chart.Panels[0];
        SKColor At(double x, double y)
        {
            var px = plot.GetPixel(new ScottPlot.Coordinates(x, y));
            return bitmap.GetPixel((int)px.X + 12, (int)px.Y + 12);   // off the centre, away from the value's text
        }
        var grey = At(2, 1);
        Assert.True(grey.Red == grey.Green && grey.Green == grey.Blue && grey.Red > 180, $"the missing cell is not light grey: {grey}");
        var (best, worst) = (At(2, 0), At(1, 0));
        Assert.NotEqual(best, worst);
        Assert.False(best.Red == best.Green && best.Green == best.Blue, $"a measured cell is grey: {best}");
    }

    [Fact]
    public void One_row_all_missing_and_single_values_draw()
    {
        var oneRow = Plots.HeatmapChart(["accuracy"], ["0.01", "0.1", "1"], new[,] { { 0.8, 0.9, double.PositiveInfinity } }, "lr sweep", "accuracy", columnAxisLabel: "lr");
        Images.AssertPng(oneRow.ToPng(), 800, 500);
        var allMissing = Plots.HeatmapChart(["a"], ["b", "c"], new[,] { { double.NaN, double.NaN } }, "diverged", "valid loss");
        Images.AssertPng(allMissing.ToPng(), 800, 500);
        Assert.Contains("—", allMissing.ToSvg(), StringComparison.Ordinal);
        var single = Plots.HeatmapChart(["a"], ["b"], new[,] { { 0.25 } }, "one cell", "accuracy", valueFormat: "0.0");
        Assert.Contains(System.Xml.Linq.XDocument.Parse(single.ToSvg()).Descendants().Where(e => e.Name.LocalName == "text"), e => e.Value.Trim() == "0.3");
    }

    [Fact]
    public void Mismatched_sizes_are_refused_naming_the_parameter()
    {
        var values = new double[2, 3];
        var rows = Assert.Throws<ArgumentException>(() => Plots.HeatmapChart(["a"], Columns, values, "t", "v"));
        Assert.Equal("rowLabels", rows.ParamName);
        Assert.StartsWith("needs one label per row: values has 2 rows, rowLabels has 1 labels", rows.Message, StringComparison.Ordinal);
        var cols = Assert.Throws<ArgumentException>(() => Plots.HeatmapChart(Rows, ["a", "b"], values, "t", "v"));
        Assert.Equal("columnLabels", cols.ParamName);
        Assert.StartsWith("needs one label per column: values has 3 columns, columnLabels has 2 labels", cols.Message, StringComparison.Ordinal);
        Assert.Equal("values", Assert.Throws<ArgumentException>(() => Plots.HeatmapChart([], [], new double[0, 0], "t", "v")).ParamName);
    }

    [Fact]
    public void Compare_chart_draws_a_band_of_the_spread_and_marks_per_epoch_points()
    {
        var mean = new Series("clr", [1, 2, 3], [0.8, 0.85, 0.9]) { Spread = [0.02, 0.01, double.NaN], Markers = true };
        var plain = new Series("constant", [1, 2, 3], [0.7, 0.75, 0.8]);
        var chart = Plots.CompareChart([mean, plain], "epoch", "accuracy");
        Images.AssertPng(chart.ToPng(), 800, 500);
        var band = Assert.Single(chart.Panels[0].GetPlottables<ScottPlot.Plottables.FillY>());
        Assert.Equal(0.78, band.GetAxisLimits().Bottom, 9);
        Assert.Equal(0.86, band.GetAxisLimits().Top, 9);
        var lines = chart.Panels[0].GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
        Assert.True(lines[0].MarkerSize > 0, "the marked series has no markers");
        Assert.Equal(0, lines[1].MarkerSize);
        Assert.Equal("series", Assert.Throws<ArgumentException>(
            () => Plots.CompareChart([new Series("x", [1, 2], [1, 2]) { Spread = [0.1] }])).ParamName);
    }
}
