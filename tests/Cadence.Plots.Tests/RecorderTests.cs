using Cadence.TestSupport;
using Cadence.Data;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Plots.Tests;

/// <summary>The fastai-style extension methods on a Recorder filled by a real (tiny) fit.</summary>
public sealed class RecorderTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-recorder");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static Learner TinyLearner()
    {
        TorchRuntime.Configure(seed: 1, threads: 1);
        using var scope = NewDisposeScope();
        var g = new Generator(11);
        Tensor Make(int n, out Tensor y)
        {
            y = randint(0, 2, [n], generator: g).MoveToOuterDisposeScope();
            return (randn(n, 4, generator: g) + y.unsqueeze(1).to(float32) * 3).MoveToOuterDisposeScope();
        }
        var xt = Make(64, out var yt);
        var xv = Make(32, out var yv);
        var data = DataLoaders.From(new InMemoryDataset(xt, yt, 2), new InMemoryDataset(xv, yv, 2), batchSize: 16, seed: 1);
        var l1 = nn.Linear(4, 8);
        var l2 = nn.Linear(8, 2);
        return new Learner(nn.Sequential(l1, nn.ReLU(), l2), data, layerGroups: [l1.parameters().ToArray(), l2.parameters().ToArray()]);
    }

    [Fact]
    public void Plot_methods_draw_what_the_recorder_holds()
    {
        using var learn = TinyLearner();
        var schedule = FastAi07.Fit([0.01, 0.1], batchesPerEpoch: 4, cycles: 1, cycleLen: 2, useClr: new UseClr(10, 4, 0.95, 0.85));
        learn.Fit(schedule, epochs: 2);
        Assert.Equal(8, learn.Recorder.Steps.Count);

        learn.Recorder.PlotLr(Path.Combine(_dir, "lr.png"));
        learn.Recorder.PlotLoss(Path.Combine(_dir, "loss.svg"));
        learn.Recorder.PlotMetrics(Path.Combine(_dir, "metrics.png"));
        learn.Recorder.PlotLrFind(Path.Combine(_dir, "find.png"), new Dictionary<string, double> { ["valley"] = 0.05 }, skipEnd: 2);
        Images.AssertPng(File.ReadAllBytes(Path.Combine(_dir, "lr.png")), 800, 500);
        Images.AssertSvg(File.ReadAllText(Path.Combine(_dir, "loss.svg")), 800, 500);
        Images.AssertPng(File.ReadAllBytes(Path.Combine(_dir, "metrics.png")), 800, 500);
        Images.AssertPng(File.ReadAllBytes(Path.Combine(_dir, "find.png")), 800, 500);

        // The recorded lr chart spans exactly what the optimizer was given: the schedule, both groups, and its momentum.
        var chart = Plots.LrChart(TrainingHistory.From(learn.Recorder));
        var (lr, mom) = schedule.Trace(8);
        var limits = chart.Panels[0].Axes.GetLimits();
        Assert.InRange(limits.Bottom, lr.SelectMany(x => x).Min() - 0.1 * 0.1, lr.SelectMany(x => x).Min());
        Assert.InRange(limits.Top, lr.SelectMany(x => x).Max(), lr.SelectMany(x => x).Max() * 1.1);
        Assert.Equal(2, chart.Panels.Count);
        Assert.Equal(mom![1], learn.Recorder.Steps.Select(s => s.Momentum[1]).ToArray());

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => learn.Recorder.PlotLrFind(Path.Combine(_dir, "x.png"), skipEnd: 7));
        Assert.Equal("skipEnd", e.ParamName);
    }
}
