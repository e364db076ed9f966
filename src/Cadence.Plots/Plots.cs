using System.Globalization;
using Cadence.Schedules;
using Cadence.Training;
using ScottPlot;

namespace Cadence.Plots;

/// <summary>
/// Charts of schedules and training runs, saved as PNG or SVG by the file's extension — fastai's
/// <c>plot_lr</c>, <c>plot_loss</c>, <c>plot_lr_find</c> and <c>plot_metrics</c>, plus comparisons of runs.
/// Each <c>XChart</c> method builds a <see cref="Chart"/> (to save or put in a <see cref="Report"/>); each
/// <c>X</c> method builds it and saves it in one call.
/// </summary>
public static class Plots
{
    /// <summary>Most iterations a chart accepts (as <c>cadence schedule --iterations</c>).</summary>
    public const long MaxIterations = 10_000_000;

    // Vertical markers beyond these counts would paint the chart solid; they are left out instead.
    private const int MaxMarkers = 64;

    private const string IterationLabel = "iteration (optimizer steps)";

    /// <summary>
    /// The schedule's learning rate against the iteration, for every parameter group (or the last); momentum (SGD
    /// momentum or Adam's β1) in a second panel when it varies; epoch boundaries (dotted) and the boundaries between
    /// the lr curve's pieces (dashed) marked. No training needed.
    /// </summary>
    /// <param name="schedule">The schedule to draw.</param>
    /// <param name="iterations">Steps 0 … iterations − 1 are drawn; in [1, <see cref="MaxIterations"/>].</param>
    /// <param name="options">Size, title, groups.</param>
    public static Chart ScheduleChart(Schedule schedule, long iterations, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        CheckIterations(iterations);
        options ??= new ChartOptions();
        options.Validate();
        var (lr, mom) = schedule.Trace(iterations);
        var phases = ScheduleDescription.Segments(schedule.Lr[^1], iterations).Skip(1).Select(s => (double)s.Start).ToArray();
        var epochs = schedule.StepsPerEpoch is { } b and > 0
            ? Enumerable.Range(1, (int)Math.Min((iterations - 1) / b, MaxMarkers + 1)).Select(k => (double)(k * b)).ToArray()
            : [];
        string title = options.Title ?? $"Learning-rate schedule: {schedule.Policy}";
        return BuildLrChart(title, lr, mom, options, epochs, phases, schedule.StepsPerEpoch);
    }

    /// <summary>The learning rate (and momentum, when it varies) each parameter group used at every step of a fit.</summary>
    public static Chart LrChart(TrainingHistory history, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        history.RequireSteps(nameof(history));
        options ??= new ChartOptions();
        options.Validate();
        int groups = history.Groups;
        var lr = Enumerable.Range(0, groups).Select(g => history.Steps.Select(s => s.Lr[g]).ToArray()).ToArray();
        var mom = Enumerable.Range(0, groups).Select(g => history.Steps.Select(s => s.Momentum.Length > g ? s.Momentum[g] : double.NaN).ToArray()).ToArray();
        return BuildLrChart(options.Title ?? "Learning rate used by the optimizer", lr, mom, options, EpochStarts(history), [], null);
    }

    /// <summary>Raw and smoothed training loss per iteration, validation loss at the end of each epoch.</summary>
    public static Chart LossChart(TrainingHistory history, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        history.RequireSteps(nameof(history));
        options ??= new ChartOptions();
        options.Validate();
        var plot = Style.NewPlot(options.Title ?? "Training and validation loss", IterationLabel, "loss");
        AddIndexed(plot, history.Steps.Select(s => s.Loss).ToArray(), "training loss (each batch)", Style.Color(0).WithAlpha(0.35), 1);
        AddIndexed(plot, history.Steps.Select(s => s.SmoothLoss).ToArray(), "training loss (smoothed, β = 0.98)", Style.Color(0), 2);
        var lastIndexOfEpoch = new Dictionary<int, int>();
        for (int i = 0; i < history.Steps.Count; i++) lastIndexOfEpoch[history.Steps[i].Epoch] = i;
        var valid = history.Epochs
            .Where(e => double.IsFinite(e.ValidLoss) && lastIndexOfEpoch.ContainsKey(e.Epoch))
            .Select(e => (X: (double)lastIndexOfEpoch[e.Epoch], Y: e.ValidLoss)).ToArray();
        if (valid.Length > 0)
        {
            var sc = plot.Add.Scatter(valid.Select(v => v.X).ToArray(), valid.Select(v => v.Y).ToArray(), Style.Color(1));
            sc.LegendText = "validation loss (end of each epoch)";
            sc.LineWidth = 2;
            sc.MarkerSize = 8;
        }
        Mark(plot, EpochStarts(history), "epoch boundary", LinePattern.Dotted, Colors.Gray, legend: true);
        return Finish(options, plot);
    }

    /// <summary>
    /// The LR finder's curve: loss against learning rate on a log axis, each suggestion marked and labelled with its
    /// name and value (fastai's <c>plot_lr_find</c>). Points with a non-finite loss (divergence) are left out.
    /// </summary>
    /// <param name="lrs">Learning rates tried, each positive and finite.</param>
    /// <param name="losses">Loss at each of <paramref name="lrs"/> (usually smoothed), as many.</param>
    /// <param name="suggestions">Named suggestions (e.g. <c>valley</c>, <c>steep</c>) and their learning rates, or <see langword="null"/>.</param>
    /// <param name="options">Size and title.</param>
    public static Chart LrFindChart(IReadOnlyList<double> lrs, IReadOnlyList<double> losses,
        IReadOnlyDictionary<string, double>? suggestions = null, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(lrs);
        ArgumentNullException.ThrowIfNull(losses);
        options ??= new ChartOptions();
        options.Validate();
        if (losses.Count != lrs.Count)
            throw new ArgumentException($"needs one loss per learning rate: {lrs.Count} learning rates, {losses.Count} losses", nameof(losses));
        for (int i = 0; i < lrs.Count; i++)
            if (!(lrs[i] > 0 && double.IsFinite(lrs[i])))
                throw new ArgumentOutOfRangeException(nameof(lrs), lrs[i], $"every learning rate must be a positive finite number; lrs[{i}] is {Num(lrs[i])}");
        var points = Enumerable.Range(0, lrs.Count).Where(i => double.IsFinite(losses[i]))
            .Select(i => (X: Math.Log10(lrs[i]), Y: losses[i])).OrderBy(p => p.X).ToArray();
        if (points.Length < 2) throw new ArgumentException($"needs at least 2 points with a finite loss, got {points.Length}", nameof(losses));
        foreach (var (name, lr) in suggestions ?? new Dictionary<string, double>())
            if (!(lr > 0 && double.IsFinite(lr)))
                throw new ArgumentOutOfRangeException(nameof(suggestions), lr, $"suggestion '{name}' must be a positive finite learning rate, got {Num(lr)}");

        var plot = Style.NewPlot(options.Title ?? "Learning-rate finder", "learning rate (log scale)", "loss");
        var line = plot.Add.ScatterLine(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), Style.Color(0));
        line.LegendText = "loss";
        line.LineWidth = 2;
        Style.LogAxis(plot.Axes.Bottom, points[^1].X - points[0].X);
        int k = 1;
        foreach (var (name, lr) in (suggestions ?? new Dictionary<string, double>()).OrderBy(s => s.Value))
        {
            double x = Math.Log10(lr), y = Interpolate(points, x);
            var color = Style.Color(k++);
            var marker = plot.Add.Marker(x, y, MarkerShape.FilledCircle, 10, color);
            marker.LegendText = $"{name}: {Num(lr)}";
            var label = plot.Add.Text($"{name} {Num(lr)}", x, y);
            label.LabelFontSize = 13;
            label.LabelFontColor = color;
            label.LabelBold = true;
            label.OffsetX = 8;
            label.OffsetY = -8;
            label.Alignment = Alignment.LowerLeft;
        }
        return Finish(options, plot);
    }

    /// <summary>Every metric (accuracy, error rate …) per epoch, one line each.</summary>
    public static Chart MetricsChart(TrainingHistory history, ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        options ??= new ChartOptions();
        options.Validate();
        if (history.MetricNames.Count == 0) throw new ArgumentException("the run recorded no metrics", nameof(history));
        if (history.Epochs.Count == 0) throw new ArgumentException("no epoch was recorded (run a fit first)", nameof(history));
        string y = history.MetricNames.Count == 1 ? history.MetricNames[0] : "metric value";
        var plot = Style.NewPlot(options.Title ?? "Metrics per epoch (validation set)", "epoch", y);
        for (int m = 0; m < history.MetricNames.Count; m++)
        {
            var pts = history.Epochs.Where(e => e.Metrics.Count > m && double.IsFinite(e.Metrics[m]))
                .Select(e => (X: e.Epoch + 1.0, Y: e.Metrics[m])).ToArray();
            if (pts.Length == 0) continue;
            var sc = plot.Add.Scatter(pts.Select(p => p.X).ToArray(), pts.Select(p => p.Y).ToArray(), Style.Color(m));
            sc.LegendText = history.MetricNames[m];
            sc.LineWidth = 2;
            sc.MarkerSize = 8;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.Margins(Style.MarginEpochX, Style.MarginY);
        return Finish(options, plot);
    }

    /// <summary>Several runs or schedules overlaid, one colour each, with a legend of their names.</summary>
    /// <param name="series">The lines, in legend order; at least one.</param>
    /// <param name="xLabel">X axis label, with its unit.</param>
    /// <param name="yLabel">Y axis label, with its unit.</param>
    /// <param name="options">Size and title.</param>
    public static Chart CompareChart(IReadOnlyList<Series> series, string xLabel = IterationLabel, string yLabel = "learning rate", ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        options ??= new ChartOptions();
        options.Validate();
        if (series.Count == 0) throw new ArgumentException("needs at least one series", nameof(series));
        var plot = Style.NewPlot(options.Title ?? "Comparison", xLabel, yLabel);
        bool wholeX = series.All(s => s is { Markers: true } && s.X.All(x => !double.IsFinite(x) || x == Math.Round(x)));
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i] ?? throw new ArgumentException($"series[{i}] is null", nameof(series));
            if (s.X.Count != s.Y.Count)
                throw new ArgumentException($"series '{s.Name}' has {s.X.Count} x values and {s.Y.Count} y values; they must match", nameof(series));
            var idx = Enumerable.Range(0, s.X.Count).Where(j => double.IsFinite(s.X[j]) && double.IsFinite(s.Y[j])).ToArray();
            if (idx.Length == 0) throw new ArgumentException($"series '{s.Name}' has no finite point", nameof(series));
            if (s.Spread is { } spread)
            {
                if (spread.Count != s.Y.Count)
                    throw new ArgumentException($"series '{s.Name}' has {s.Y.Count} y values and {spread.Count} spread values; they must match", nameof(series));
                var band = idx.Where(j => double.IsFinite(spread[j])).ToArray();
                if (band.Length > 1)
                {
                    var fill = plot.Add.FillY(band.Select(j => s.X[j]).ToArray(), band.Select(j => s.Y[j] - spread[j]).ToArray(),
                        band.Select(j => s.Y[j] + spread[j]).ToArray());
                    fill.FillColor = Style.Color(i).WithAlpha(0.18);
                    fill.LineWidth = 0;
                }
            }
            var line = plot.Add.ScatterLine(idx.Select(j => s.X[j]).ToArray(), idx.Select(j => s.Y[j]).ToArray(), Style.Color(i));
            line.LegendText = s.Name;
            line.LineWidth = 2;
            if (s.Markers) line.MarkerSize = 7;
        }
        if (wholeX)
        {
            // Per-epoch data: no tick between epochs, and room for the end markers.
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
            plot.Axes.Margins(Style.MarginEpochX, Style.MarginY);
        }
        return Finish(options, plot);
    }

    /// <summary>
    /// A heat-map of a grid of values (a sweep's metric over two of its options): one cell per (row, column), coloured
    /// by value with a colour bar, and its value written in it; missing values (NaN or infinite: a diverged or unrun
    /// configuration) are grey cells marked "—". Row 0 is the top row.
    /// </summary>
    /// <param name="rowLabels">Text beside each row, top to bottom; as many as <paramref name="values"/> has rows.</param>
    /// <param name="columnLabels">Text under each column, left to right; as many as <paramref name="values"/> has columns.</param>
    /// <param name="values">The values, <c>values[row, column]</c>; at least one cell.</param>
    /// <param name="title">Title at the top.</param>
    /// <param name="colorbarLabel">Label of the colour bar (what the values are).</param>
    /// <param name="rowAxisLabel">Label of the vertical axis (the option the rows vary), or <see langword="null"/>.</param>
    /// <param name="columnAxisLabel">Label of the horizontal axis (the option the columns vary), or <see langword="null"/>.</param>
    /// <param name="valueFormat">.NET numeric format of the values written in the cells; default <c>0.000</c>.</param>
    /// <param name="options">Size (the title here is ignored in favour of <paramref name="title"/>).</param>
    public static Chart HeatmapChart(IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels, double[,] values,
        string title, string colorbarLabel, string? rowAxisLabel = null, string? columnAxisLabel = null, string valueFormat = "0.000",
        ChartOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(rowLabels);
        ArgumentNullException.ThrowIfNull(columnLabels);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(colorbarLabel);
        ArgumentException.ThrowIfNullOrWhiteSpace(valueFormat);
        options ??= new ChartOptions();
        options.Validate();
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rows == 0 || cols == 0) throw new ArgumentException($"needs at least one cell, got {rows} rows × {cols} columns", nameof(values));
        if (rowLabels.Count != rows)
            throw new ArgumentException($"needs one label per row: values has {rows} rows, rowLabels has {rowLabels.Count} labels", nameof(rowLabels));
        if (columnLabels.Count != cols)
            throw new ArgumentException($"needs one label per column: values has {cols} columns, columnLabels has {columnLabels.Count} labels", nameof(columnLabels));

        var finite = values.Cast<double>().Where(double.IsFinite).ToArray();
        // A colour scale needs a span: one distinct value (or none) gets a small one around it.
        double lo = finite.Length > 0 ? finite.Min() : 0, hi = finite.Length > 0 ? finite.Max() : 1;
        if (hi - lo < 1e-12) (lo, hi) = (lo - Math.Max(Math.Abs(lo) * 0.01, 1e-6), hi + Math.Max(Math.Abs(hi) * 0.01, 1e-6));
        var cells = new double[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                cells[r, c] = double.IsFinite(values[r, c]) ? values[r, c] : double.NaN;

        var plot = Style.NewPlot(title, columnAxisLabel ?? "", rowAxisLabel ?? "");
        // ScottPlot cannot scale a grid without a finite value; the grey cells drawn below cover such a grid anyway.
        var map = plot.Add.Heatmap(finite.Length > 0 ? cells : new double[rows, cols]);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(lo, hi);
        map.Rectangle = new CoordinateRect(-0.5, cols - 0.5, -0.5, rows - 0.5);
        map.NaNCellColor = Colors.LightGray;
        // Rectangles rather than one bitmap: crisp cells at any size and real shapes in SVG.
        map.RenderStrategy = new ScottPlot.Plottables.Heatmap.RenderStrategies.Rectangles();
        var bar = plot.Add.ColorBar(map);
        bar.Label = colorbarLabel;
        bar.LabelStyle.FontName = Style.Font;
        bar.Axis.TickLabelStyle.FontName = Style.Font;

        // Cell text sized to fit the cell: about 6 characters across, at most 14 px.
        float cellPx = Math.Min(options.Width * 0.8f / cols / 6f, options.Height * 0.7f / rows / 2f);
        float fontSize = Math.Clamp(cellPx, 7f, 14f);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double v = cells[r, c], y = rows - 1 - r;
                if (double.IsNaN(v))
                {
                    var missing = plot.Add.Rectangle(c - 0.5, c + 0.5, y - 0.5, y + 0.5);
                    missing.FillColor = Colors.LightGray;
                    missing.LineColor = Colors.White;
                    missing.LineWidth = 1;
                }
                var shade = map.Colormap.GetColor((v - lo) / (hi - lo));
                bool dark = !double.IsNaN(v) && 0.2126 * shade.R + 0.7152 * shade.G + 0.0722 * shade.B < 140;
                var text = plot.Add.Text(double.IsNaN(v) ? "—" : v.ToString(valueFormat, CultureInfo.InvariantCulture), c, y);
                text.LabelFontName = Style.Font;
                text.LabelFontSize = fontSize;
                text.LabelFontColor = double.IsNaN(v) ? Colors.DimGray : dark ? Colors.White : Colors.Black;
                text.LabelBold = true;
                text.Alignment = Alignment.MiddleCenter;
            }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, cols).Select(c => (double)c).ToArray(), columnLabels.ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, rows).Select(r => (double)(rows - 1 - r)).ToArray(), rowLabels.ToArray());
        plot.HideGrid();
        plot.Axes.SetLimits(-0.5, cols - 0.5, -0.5, rows - 0.5);
        plot.HideLegend();
        return new Chart(title, options.Width, options.Height, (plot, 1f));
    }

    /// <summary>Saves <see cref="ScheduleChart"/> to <paramref name="path"/> (<c>.png</c> or <c>.svg</c>).</summary>
    public static void Schedule(Schedule schedule, long iterations, string path, ChartOptions? options = null) =>
        ScheduleChart(schedule, iterations, options).Save(path);

    /// <summary>Saves <see cref="LrChart"/> of the recorder's last fit to <paramref name="path"/>.</summary>
    public static void Lr(Recorder recorder, string path, ChartOptions? options = null) =>
        LrChart(TrainingHistory.From(recorder), options).Save(path);

    /// <summary>Saves <see cref="LossChart"/> of the recorder's last fit to <paramref name="path"/>.</summary>
    public static void Loss(Recorder recorder, string path, ChartOptions? options = null) =>
        LossChart(TrainingHistory.From(recorder), options).Save(path);

    /// <summary>Saves <see cref="LrFindChart"/> to <paramref name="path"/>.</summary>
    public static void LrFind(IReadOnlyList<double> lrs, IReadOnlyList<double> losses, IReadOnlyDictionary<string, double>? suggestions,
        string path, ChartOptions? options = null) =>
        LrFindChart(lrs, losses, suggestions, options).Save(path);

    /// <summary>Saves <see cref="MetricsChart"/> of the recorder's last fit to <paramref name="path"/>.</summary>
    public static void Metrics(Recorder recorder, string path, ChartOptions? options = null) =>
        MetricsChart(TrainingHistory.From(recorder), options).Save(path);

    /// <summary>Saves <see cref="CompareChart"/> to <paramref name="path"/>.</summary>
    public static void Compare(IReadOnlyList<Series> series, string path, string xLabel = IterationLabel, string yLabel = "learning rate",
        ChartOptions? options = null) =>
        CompareChart(series, xLabel, yLabel, options).Save(path);

    internal static void CheckIterations(long iterations)
    {
        if (iterations is < 1 or > MaxIterations)
            throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"iterations must be in [1, {MaxIterations}], got {iterations}");
    }

    /// <summary>Three significant digits; powers of ten as <c>1e-6</c>, the way learning rates are written.</summary>
    internal static string Num(double v)
    {
        if (v == 0 || !double.IsFinite(v) || Math.Abs(v) is >= 1e-3 and < 1e4) return v.ToString("G3", CultureInfo.InvariantCulture);
        int exp = (int)Math.Floor(Math.Log10(Math.Abs(v)));
        double mantissa = Math.Round(v / Math.Pow(10, exp), 2);
        if (Math.Abs(mantissa) >= 10) (mantissa, exp) = (mantissa / 10, exp + 1);
        return string.Create(CultureInfo.InvariantCulture, $"{mantissa:G3}e{exp}");
    }

    private static Chart BuildLrChart(string title, double[][] lr, double[][]? mom, ChartOptions options, double[] epochs, double[] phases, long? stepsPerEpoch)
    {
        int[] groups = options.LastGroupOnly ? [lr.Length - 1] : Enumerable.Range(0, lr.Length).ToArray();
        bool momentumPanel = mom is not null && groups.Any(g => Varies(mom[g]));
        string epochText = stepsPerEpoch is { } b ? $"epoch boundary ({b} batches)" : "epoch boundary";
        // The legend goes under the lowest panel; colours are the same in both, so one legend serves both.
        Plot Panel(string? heading, string xLabel, string yLabel, double[][] values, bool legend)
        {
            var plot = Style.NewPlot(heading, xLabel, yLabel);
            foreach (int g in groups)
                AddIndexed(plot, values[g], legend && groups.Length > 1 ? $"group {g}" : null, Style.Color(g), 2);
            Mark(plot, epochs, epochText, LinePattern.Dotted, Colors.Gray, legend);
            Mark(plot, phases, "phase boundary", LinePattern.Dashed, Colors.DarkOrange, legend);
            return plot;
        }
        var top = Panel(title, momentumPanel ? "" : IterationLabel, "learning rate", lr, legend: !momentumPanel);
        if (!momentumPanel) return Finish(options, top);

        var bottom = Panel(null, IterationLabel, "momentum", mom!, legend: true);
        top.Axes.AutoScale();
        bottom.Axes.AutoScale();
        // One x range for both panels, so an iteration sits at the same column in each.
        var (tl, bl) = (top.Axes.GetLimits(), bottom.Axes.GetLimits());
        double left = Math.Min(tl.Left, bl.Left), right = Math.Max(tl.Right, bl.Right);
        top.Axes.SetLimitsX(left, right);
        bottom.Axes.SetLimitsX(left, right);
        Style.Legend(bottom);
        return new Chart(title, options.Width, options.Height, (top, 0.56f), (bottom, 0.44f));
    }

    private static Chart Finish(ChartOptions options, Plot plot)
    {
        plot.Axes.AutoScale();
        Style.Legend(plot);
        return new Chart(options.Title ?? plot.Axes.Title.Label.Text, options.Width, options.Height, (plot, 1f));
    }

    private static bool Varies(double[] values)
    {
        var finite = values.Where(double.IsFinite).ToArray();
        return finite.Length > 1 && finite.Min() != finite.Max();
    }

    /// <summary>Values at x = 0, 1, 2 …: a Signal (min/max per pixel column, fast for millions of points) when all are finite.</summary>
    private static void AddIndexed(Plot plot, double[] values, string? legend, Color color, float width)
    {
        if (values.All(double.IsFinite))
        {
            var sig = plot.Add.Signal(values, 1, color);
            sig.LegendText = legend ?? "";
            sig.LineWidth = width;
            return;
        }
        var idx = Enumerable.Range(0, values.Length).Where(i => double.IsFinite(values[i])).ToArray();
        if (idx.Length == 0) return;
        var sc = plot.Add.ScatterLine(idx.Select(i => (double)i).ToArray(), idx.Select(i => values[i]).ToArray(), color);
        sc.LegendText = legend ?? "";
        sc.LineWidth = width;
    }

    private static void Mark(Plot plot, double[] xs, string text, LinePattern pattern, Color color, bool legend)
    {
        if (xs.Length == 0 || xs.Length > MaxMarkers) return;
        for (int i = 0; i < xs.Length; i++)
        {
            var line = plot.Add.VerticalLine(xs[i], 1, color, pattern);
            if (i == 0 && legend) line.LegendText = text;
        }
    }

    private static double[] EpochStarts(TrainingHistory h)
    {
        var starts = new List<double>();
        for (int i = 1; i < h.Steps.Count && starts.Count <= MaxMarkers; i++)
            if (h.Steps[i].Epoch != h.Steps[i - 1].Epoch) starts.Add(i);
        return starts.ToArray();
    }

    /// <summary>Linear interpolation in points sorted by x; clamped to the ends.</summary>
    private static double Interpolate((double X, double Y)[] points, double x)
    {
        if (x <= points[0].X) return points[0].Y;
        if (x >= points[^1].X) return points[^1].Y;
        int hi = 1;
        while (points[hi].X < x) hi++;
        var (a, b) = (points[hi - 1], points[hi]);
        return b.X == a.X ? b.Y : a.Y + (b.Y - a.Y) * (x - a.X) / (b.X - a.X);
    }
}
