using System.Text.RegularExpressions;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;

namespace Cadence.Tests.Checkpoints;

public sealed partial class DivergenceGuardTests : IDisposable
{
    private readonly TempDirectory _tmp = new("cadence-diverge");

    public void Dispose() => _tmp.Dispose();

    private const int Epochs = 4;   // 256 samples in batches of 32: 8 batches per epoch

    private static Learner Make(params Callback[] callbacks) => Synth.Learner(seed: 2, callbacks: [new NanGuard(), .. callbacks]);

    private static Schedule Constant(Learner learn, double lr) => FastAi07.Fit([lr], learn.Data.Train.BatchCount, cycles: Epochs);

    private static float[] Flat(Learner learn) => learn.Model.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray()).ToArray();

    [GeneratedRegex(@"^diverged at iteration (\d+) \(epoch (\d+)\) with lr 3, 3, 3: the smoothed loss (\S+) is above 4× its best \((\S+)\) for 10 steps; try a lower learning rate \(cadence lr-find shows where the loss starts to rise\)$")]
    private static partial Regex DivergedMessage();

    [Fact]
    public void A_diverging_fit_stops_with_one_line_and_the_newest_checkpoint_is_the_last_good_one()
    {
        var guard = new DivergenceGuard();
        string dir = _tmp["checkpoints"];
        using var learn = Make(guard, new CheckpointCallback(new CheckpointOptions { Directory = dir, EveryIterations = 1, Keep = 100 }));
        var result = learn.Fit(Constant(learn, 3), Epochs);

        var report = guard.Diverged!;
        Assert.Equal(report.Message, result.StopReason);
        var m = DivergedMessage().Match(result.StopReason!);
        Assert.True(m.Success, result.StopReason);
        Assert.Equal(report.Iteration, long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(report.Iteration, report.Since + 9);
        Assert.Equal(report.Iteration + 1, learn.Iteration);   // stopped right after the step that tripped it
        Assert.True(report.SmoothLoss > 4 * report.Best);
        var steps = learn.Recorder.Steps;
        Assert.All(steps.Where(s => s.Step >= report.Since && s.Step <= report.Iteration), s => Assert.True(s.SmoothLoss > 4 * report.Best));

        // No checkpoint of the diverging steps, and none for the stop: the newest is the last good one.
        var rolling = Checkpoint.Rolling(dir);
        var newest = Checkpoint.ReadInfo(rolling[^1]);
        Assert.Equal(report.Since, newest.Position.Iteration);   // written after step Since − 1, the last below the threshold
        Assert.Equal("iteration", newest.Kind);
        Assert.All(rolling, c => Assert.True(Checkpoint.ReadInfo(c).Position.Iteration <= report.Since, c));
    }

    [Fact]
    public void Ordinary_training_does_not_trip_the_guard_and_is_unchanged_by_it()
    {
        float[] without;
        using (var plain = Make()) { plain.Fit(FastAi.FitOneCycle([0.1], Epochs, plain.Data.Train.BatchCount), Epochs); without = Flat(plain); }
        var guard = new DivergenceGuard();
        using var learn = Make(guard);
        var result = learn.Fit(FastAi.FitOneCycle([0.1], Epochs, learn.Data.Train.BatchCount), Epochs);
        Assert.Null(result.StopReason);
        Assert.Null(guard.Diverged);
        Assert.True(guard.Healthy);
        Assert.Equal(without, Flat(learn));
    }

    /// <summary>Smoothed losses as the recorder would hold them (raw loss = smoothed loss, one lr).</summary>
    private static StepRecord[] Steps(params double[] smooth) =>
        smooth.Select((s, i) => new StepRecord(i, 0, s, s, [0.1], [0.9])).ToArray();

    /// <summary>Feeds <paramref name="steps"/> to a guard <paramref name="chunk"/> records at a time, as a loop that reads losses in chunks would.</summary>
    private static DivergenceReport? Feed(StepRecord[] steps, int chunk, DivergenceGuard? guard = null)
    {
        guard ??= new DivergenceGuard();
        using var learn = Make(guard);
        guard.BeforeFit(learn);
        for (int n = Math.Min(chunk, steps.Length); ; n = Math.Min(n + chunk, steps.Length))
        {
            learn.Recorder.Restore(new RecorderSnapshot(steps[..n], [], 0, 0, double.NaN));
            try { guard.AfterBatch(learn); }
            catch (CancelScopeException e) when (e.Scope == Scope.Fit) { Assert.Equal(guard.Diverged!.Message, e.Reason); return guard.Diverged; }
            if (n == steps.Length) return null;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(100)]
    public void Decisions_follow_the_recorded_steps_whether_they_arrive_one_by_one_or_in_chunks(int chunk)
    {
        double[] start = [2.3, 2.0, 1.5, 1.0, 0.5, 0.4];   // best 0.4
        // 9 steps above 4 × 0.4 and above the first loss, then back: a spike, not a divergence.
        Assert.Null(Feed(Steps([.. start, .. Enumerable.Repeat(3.0, 9), 1.0, .. Enumerable.Repeat(3.0, 9)]), chunk));
        // 10 steps: stopped at the 10th, naming where the streak began.
        var r = Feed(Steps([.. start, .. Enumerable.Repeat(3.0, 9), 1.0, .. Enumerable.Repeat(3.0, 10), 0.1]), chunk)!;
        Assert.Equal((25L, 16L, 3.0, 0.4), (r.Iteration, r.Since, r.SmoothLoss, r.Best));
        Assert.Equal("diverged at iteration 25 (epoch 1) with lr 0.1: the smoothed loss 3 is above 4× its best (0.4) for 10 steps; try a lower learning rate (cadence lr-find shows where the loss starts to rise)", r.Message);
        // Above 4× the best but not above the untrained network's first loss: training that got worse, not a divergence.
        Assert.Null(Feed(Steps([.. start, .. Enumerable.Repeat(2.2, 50)]), chunk));
        // A non-finite loss stops at once.
        r = Feed(Steps([.. start, double.NaN]), chunk)!;
        Assert.Equal((6L, 6L), (r.Iteration, r.Since));
        Assert.StartsWith("diverged at iteration 6 (epoch 1) with lr 0.1: loss is NaN; try a lower learning rate", r.Message);
        r = Feed(Steps([.. start, double.PositiveInfinity]), chunk)!;
        Assert.Contains(": loss is Infinity;", r.Message);
    }

    [Fact]
    public void Factor_and_patience_are_checked_and_used()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new DivergenceGuard(factor: 1, patience: 0));
        Assert.Contains("factor: must be a finite number > 1, got 1; patience: must be ≥ 1, got 0", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DivergenceGuard(factor: double.NaN));
        var r = Feed(Steps(2.0, 1.0, 2.5), chunk: 1, new DivergenceGuard(factor: 2, patience: 1))!;
        Assert.Equal(2, r.Iteration);
    }

    [Fact]
    public void A_resumed_fit_trips_where_the_uninterrupted_one_does()
    {
        var guard = new DivergenceGuard();
        using (var full = Make(guard)) full.Fit(Constant(full, 3), Epochs);
        var expected = guard.Diverged!;
        Assert.True(expected.Since >= 3, $"diverged too early for this test: {expected.Message}");

        string dir = _tmp["checkpoints"];
        var options = new CheckpointOptions { Directory = dir, EveryIterations = 1 };
        using (var first = Make(new DivergenceGuard(), new CheckpointCallback(options), new StopAt(expected.Since)))
            first.Fit(Constant(first, 3), Epochs);
        var again = new DivergenceGuard();
        using var second = Make(again, new CheckpointCallback(options));
        var result = Checkpoint.Resume(second, Checkpoint.Locate(dir), Constant(second, 3), Epochs);
        Assert.Equal(expected.Message, result.StopReason);
        Assert.Equal((expected.Iteration, expected.Since, expected.Best), (again.Diverged!.Iteration, again.Diverged.Since, again.Diverged.Best));
    }
}
