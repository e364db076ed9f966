using Cadence.TestSupport;
using Cadence.Schedules;
using ScottPlot;

namespace Cadence.Plots.Tests;

public sealed class ChartTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-plots");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static readonly ChartOptions Small = new() { Width = 640, Height = 420 };

    /// <summary>Saves <paramref name="chart"/> as PNG and SVG, and asserts both decode at the promised size with something drawn.</summary>
    private void AssertRenders(Chart chart, string name)
    {
        var png = Path.Combine(_dir, name + ".png");
        var svg = Path.Combine(_dir, name + ".svg");
        chart.Save(png);
        chart.Save(svg);
        Images.AssertPng(File.ReadAllBytes(png), chart.Width, chart.Height);
        Images.AssertSvg(File.ReadAllText(svg), chart.Width, chart.Height);
        Assert.Equal([name + ".png", name + ".svg"], Directory.GetFiles(_dir).Select(f => Path.GetFileName(f)!).Order().ToArray());
        // To look at the charts: CADENCE_PLOTS_GALLERY=/some/dir dotnet test …
        if (Environment.GetEnvironmentVariable("CADENCE_PLOTS_GALLERY") is { Length: > 0 } gallery)
            File.Copy(png, Path.Combine(gallery, name + ".png"), overwrite: true);
        File.Delete(png);
        File.Delete(svg);
    }

    /// <summary>
    /// The axis shows all of [min, max] and no more than the chart's margin beyond: ScottPlot's margin m leaves a
    /// fraction m of the view empty on each side, i.e. span × m / (1 − 2m) of data units.
    /// </summary>
    private static void AssertRange(double lo, double hi, double min, double max, double margin, string what)
    {
        double span = max - min, slack = span * margin / (1 - 2 * margin) * 1.001 + 1e-12;
        Assert.True(lo <= min && hi >= max, $"{what}: axis [{lo}, {hi}] does not contain the data [{min}, {max}]");
        Assert.True(lo >= min - slack && hi <= max + slack, $"{what}: axis [{lo}, {hi}] exceeds the data [{min}, {max}] by more than the margin ({slack})");
    }

    private static void AssertY(Plot plot, IEnumerable<double> values, string what)
    {
        var lim = plot.Axes.GetLimits();
        var v = values.Where(double.IsFinite).ToArray();
        AssertRange(lim.Bottom, lim.Top, v.Min(), v.Max(), Style.MarginY, what);
    }

    private static void AssertX(Plot plot, double min, double max, string what, double margin = Style.MarginX)
    {
        var lim = plot.Axes.GetLimits();
        AssertRange(lim.Left, lim.Right, min, max, margin, what);
    }

    [Fact]
    public void Schedule_chart_of_one_cycle_has_an_lr_panel_and_a_momentum_panel_spanning_the_schedule()
    {
        var schedule = Torch.OneCycle(maxLr: [0.1], totalSteps: 200);
        var chart = Plots.ScheduleChart(schedule, 200, Small);
        AssertRenders(chart, "one-cycle");
        var (lr, mom) = schedule.Trace(200);
        Assert.Equal(2, chart.Panels.Count);
        AssertY(chart.Panels[0], lr[0], "lr");
        AssertY(chart.Panels[1], mom![0], "momentum");
        AssertX(chart.Panels[0], 0, 199, "iterations (lr panel)");
        Assert.Equal(chart.Panels[0].Axes.GetLimits().Left, chart.Panels[1].Axes.GetLimits().Left);
        Assert.Equal(chart.Panels[0].Axes.GetLimits().Right, chart.Panels[1].Axes.GetLimits().Right);
        Assert.Contains("one-cycle", chart.Title, StringComparison.Ordinal);
    }

    [Fact]
    public void Schedule_chart_marks_epochs_and_phases_and_draws_every_group_or_the_last()
    {
        // fastai 0.7 use_clr over 3 epochs of 10 batches: one rise then one fall (one phase boundary), two epoch boundaries.
        var schedule = FastAi07.Fit([0.001, 0.01], batchesPerEpoch: 10, cycles: 1, cycleLen: 3, useClr: new UseClr(32, 5));
        var all = Plots.ScheduleChart(schedule, 30, Small);
        Assert.Single(all.Panels);   // no momentum scheduled
        var plot = all.Panels[0];
        Assert.Equal(2, plot.GetPlottables<ScottPlot.Plottables.Signal>().Count());
        var lines = plot.GetPlottables<ScottPlot.Plottables.VerticalLine>().Select(l => l.X).ToArray();
        var segments = ScheduleDescription.Segments(schedule.Lr[^1], 30);
        Assert.Equal(new double[] { 10, 20 }.Concat(segments.Skip(1).Select(s => (double)s.Start)).Order(), lines.Order());
        var (lr, _) = schedule.Trace(30);
        AssertY(plot, lr.SelectMany(g => g), "lr of both groups");
        AssertRenders(all, "clr");

        var last = Plots.ScheduleChart(schedule, 30, Small with { LastGroupOnly = true });
        Assert.Single(last.Panels[0].GetPlottables<ScottPlot.Plottables.Signal>());
        AssertY(last.Panels[0], lr[1], "lr of the last group");
    }

    [Fact]
    public void Lr_chart_from_a_recorded_history_has_both_groups_and_momentum()
    {
        var h = Synthetic.History();
        var chart = Plots.LrChart(h, Small);
        AssertRenders(chart, "lr");
        Assert.Equal(2, chart.Panels.Count);
        AssertY(chart.Panels[0], h.Steps.SelectMany(s => s.Lr), "recorded lr");
        AssertY(chart.Panels[1], h.Steps.SelectMany(s => s.Momentum), "recorded momentum");
        Assert.Equal([20.0, 40.0], chart.Panels[0].GetPlottables<ScottPlot.Plottables.VerticalLine>().Select(l => l.X).ToArray());
    }

    [Fact]
    public void Lr_chart_has_no_momentum_panel_when_the_optimizer_has_none()
    {
        var chart = Plots.LrChart(Synthetic.History(groups: 1, momentum: false), Small);
        Assert.Single(chart.Panels);
        AssertRenders(chart, "lr1");
    }

    [Fact]
    public void Loss_chart_spans_raw_smoothed_and_validation_losses()
    {
        var h = Synthetic.History();
        var chart = Plots.LossChart(h, Small);
        AssertRenders(chart, "loss");
        var plot = chart.Panels[0];
        AssertY(plot, h.Steps.Select(s => s.Loss).Concat(h.Steps.Select(s => s.SmoothLoss)).Concat(h.Epochs.Select(e => e.ValidLoss)), "losses");
        AssertX(plot, 0, h.Steps.Count - 1, "iterations");
        var valid = Assert.Single(plot.GetPlottables<ScottPlot.Plottables.Scatter>());
        // Validation loss sits at the last step of each epoch.
        Assert.Equal([19.0, 39.0, 59.0], valid.Data.GetScatterPoints().Select(p => p.X).ToArray());
    }

    [Fact]
    public void Metrics_chart_has_one_line_per_metric_over_the_epochs()
    {
        var h = Synthetic.History();
        var chart = Plots.MetricsChart(h, Small);
        AssertRenders(chart, "metrics");
        var lines = chart.Panels[0].GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
        Assert.Equal(["accuracy", "error_rate"], lines.Select(l => l.LegendText).ToArray());
        AssertX(chart.Panels[0], 1, 3, "epochs", Style.MarginEpochX);
        AssertY(chart.Panels[0], h.Epochs.SelectMany(e => e.Metrics), "metrics");
    }

    [Fact]
    public void Lr_find_chart_uses_a_log_axis_and_labels_each_suggestion()
    {
        var lrs = Enumerable.Range(0, 50).Select(i => 1e-6 * Math.Pow(10, i / 7.0)).ToArray();   // 1e-6 … 1e1
        var losses = lrs.Select(lr => 2.3 - 0.5 * Math.Exp(-Math.Pow(Math.Log10(lr) + 2, 2)) + (lr > 1 ? double.PositiveInfinity : 0)).ToArray();
        var suggestions = new Dictionary<string, double> { ["valley"] = 1e-2, ["steep"] = 3e-3 };
        var chart = Plots.LrFindChart(lrs, losses, suggestions, Small);
        AssertRenders(chart, "lrfind");
        var plot = chart.Panels[0];
        var finite = Enumerable.Range(0, lrs.Length).Where(i => double.IsFinite(losses[i])).ToArray();
        AssertX(plot, Math.Log10(lrs[finite[0]]), Math.Log10(lrs[finite[^1]]), "log10 lr");
        AssertY(plot, finite.Select(i => losses[i]), "loss");
        var labels = plot.GetPlottables<ScottPlot.Plottables.Text>().Select(t => t.LabelText).Order().ToArray();
        Assert.Equal(["steep 0.003", "valley 0.01"], labels);
        var markers = plot.GetPlottables<ScottPlot.Plottables.Marker>().ToArray();
        Assert.Equal([Math.Log10(3e-3), -2.0], markers.Select(m => m.Location.X).ToArray());
        // The log axis labels the learning rate itself, not its logarithm.
        string Tick(double log10) => plot.Axes.Bottom.TickGenerator.Ticks.First(t => t.IsMajor && Math.Abs(t.Position - log10) < 1e-9).Label;
        Assert.Equal("0.001", Tick(-3));
        Assert.Equal("1e-5", Tick(-5));
    }

    [Theory]
    [InlineData(1e-6, "1e-6")]
    [InlineData(3.0e-5, "3e-5")]
    [InlineData(2.5e-4, "2.5e-4")]
    [InlineData(9.999e-5, "1e-4")]
    [InlineData(0.003, "0.003")]
    [InlineData(0.1234, "0.123")]
    [InlineData(0, "0")]
    public void Learning_rates_are_written_with_three_digits(double lr, string text) => Assert.Equal(text, Plots.Num(lr));

    [Fact]
    public void Compare_chart_overlays_runs_in_different_colours()
    {
        var a = Series.FromSchedule("one-cycle", Torch.OneCycle(maxLr: [0.1], totalSteps: 100), 100);
        var b = Series.FromSchedule("cosine", Torch.Cosine([0.05], tMax: 100), 100);
        var chart = Plots.CompareChart([a, b], options: Small);
        AssertRenders(chart, "compare");
        var lines = chart.Panels[0].GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
        Assert.Equal(["one-cycle", "cosine"], lines.Select(l => l.LegendText).ToArray());
        Assert.NotEqual(lines[0].Color, lines[1].Color);
        AssertY(chart.Panels[0], a.Y.Concat(b.Y), "both runs");
    }

    [Fact]
    public void Schedule_shortcut_writes_the_file_atomically_over_an_old_one()
    {
        var path = Path.Combine(_dir, "s.svg");
        File.WriteAllText(path, "old");
        Plots.Schedule(Torch.OneCycle(maxLr: [0.1], totalSteps: 50), 50, path);
        Images.AssertSvg(File.ReadAllText(path), 800, 500);
        Assert.Equal(["s.svg"], Directory.GetFiles(_dir).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Theory]
    [InlineData("chart.jpg", "'.jpg'")]
    [InlineData("chart", "no extension")]
    public void Other_extensions_are_refused_naming_the_path(string file, string said)
    {
        var e = Assert.Throws<ArgumentException>(() => Plots.ScheduleChart(Torch.OneCycle(maxLr: [0.1], totalSteps: 10), 10).Save(Path.Combine(_dir, file)));
        Assert.Equal("path", e.ParamName);
        Assert.Contains($"must end in .png or .svg, got {said}", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Bad_inputs_name_the_parameter_and_the_range()
    {
        var s = Torch.OneCycle(maxLr: [0.1], totalSteps: 10);
        var w = Assert.Throws<ValidationException>(() => Plots.ScheduleChart(s, 10, new ChartOptions { Width = 50, Height = 20_000 }));
        Assert.Equal("width", w.ParamName);
        Assert.Equal("width: must be in [100, 10000] pixels, got 50; height: must be in [100, 10000] pixels, got 20000", w.Summary);
        Assert.Equal("iterations", Assert.Throws<ArgumentOutOfRangeException>(() => Plots.ScheduleChart(s, 0)).ParamName);
        var lrs = Assert.Throws<ArgumentOutOfRangeException>(() => Plots.LrFindChart([1e-3, -1], [1, 2]));
        Assert.Equal("lrs", lrs.ParamName);
        Assert.Contains("lrs[1] is -1", lrs.Message, StringComparison.Ordinal);
        Assert.Equal("losses", Assert.Throws<ArgumentException>(() => Plots.LrFindChart([1e-3, 1e-2], [1])).ParamName);
        Assert.Equal("suggestions", Assert.Throws<ArgumentOutOfRangeException>(
            () => Plots.LrFindChart([1e-3, 1e-2], [1, 2], new Dictionary<string, double> { ["valley"] = 0 })).ParamName);
        Assert.Equal("series", Assert.Throws<ArgumentException>(() => Plots.CompareChart([new Series("x", [1, 2], [1])])).ParamName);
        var empty = new TrainingHistory([], [], []);
        Assert.Equal("history", Assert.Throws<ArgumentException>(() => Plots.LossChart(empty)).ParamName);
        Assert.Equal("history", Assert.Throws<ArgumentException>(() => Plots.MetricsChart(empty)).ParamName);
        Assert.Throws<DirectoryNotFoundException>(() => Plots.Schedule(s, 10, Path.Combine(_dir, "missing", "s.png")));
    }
}
