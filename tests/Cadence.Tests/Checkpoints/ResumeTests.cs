using Cadence.TestSupport;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Cadence.Tests.Checkpoints;

/// <summary>Cancels the fit right after iteration <see cref="At"/> (the checkpoint callback then writes an interrupt checkpoint).</summary>
internal sealed class StopAt(long at) : Callback
{
    public long At { get; } = at;
    public override int Order => 100;
    public override void AfterBatch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (learner.Iteration == At) learner.Cancel(Scope.Fit, $"test stop at {At}");
    }
}

public sealed class ResumeTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-ckpt");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private const int Epochs = 3, BatchSize = 48;   // 256 samples: 6 batches per epoch, the last one partial

    private static OptimizerFactory Optimizer(string opt) => opt == "sgd" ? OptimizerFactory.Sgd(momentum: 0.9, weightDecay: 1e-4) : OptimizerFactory.AdamW();

    private static Schedule MakeSchedule(string policy, long batches) => policy switch
    {
        "clr" => FastAi07.Fit([1e-3, 5e-3, 2e-2], batches, cycles: 1, cycleLen: Epochs, useClr: new UseClr(10, 3, 0.95, 0.85)),
        "1cycle" => FastAi.FitOneCycle([2e-2], Epochs, batches),
        "sgdr" => FastAi07.Fit([5e-2], batches, cycles: 2, cycleLen: 1, cycleMult: 2),   // cycles of 1 and 2 epochs
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };

    private static Learner Make(string opt, params Callback[] callbacks) =>
        Synth.Learner(seed: 7, opt: Optimizer(opt), batchSize: BatchSize, callbacks: [new NanGuard(), .. callbacks]);

    private static float[][] Weights(Learner learn) => learn.Model.state_dict().Values.Select(t => t.detach().cpu().flatten().data<float>().ToArray()).ToArray();

    private static void AssertSameRun(Learner expected, Learner actual)
    {
        var (a, b) = (Weights(expected), Weights(actual));
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(a[i].AsSpan().SequenceEqual(b[i]), $"tensor {i} differs");
        Assert.Equal(expected.Recorder.Steps.Count, actual.Recorder.Steps.Count);
        for (int t = 0; t < expected.Recorder.Steps.Count; t++)
        {
            var (x, y) = (expected.Recorder.Steps[t], actual.Recorder.Steps[t]);
            Assert.Equal((x.Step, x.Epoch, x.Loss, x.SmoothLoss), (y.Step, y.Epoch, y.Loss, y.SmoothLoss));
            Assert.Equal(x.Lr, y.Lr);
            Assert.Equal(x.Momentum, y.Momentum);
        }
        Assert.Equal(expected.Recorder.Epochs.Select(e => (e.Epoch, e.TrainLoss, e.ValidLoss)), actual.Recorder.Epochs.Select(e => (e.Epoch, e.TrainLoss, e.ValidLoss)));
        Assert.Equal(expected.Recorder.Epochs.Select(e => e.Metrics), actual.Recorder.Epochs.Select(e => e.Metrics));
    }

    public static TheoryData<string, string, long, long> Cases => new()
    {
        // optimizer, schedule, first stop, second stop (6 batches per epoch, 18 iterations)
        { "sgd", "clr", 4, 11 },        // mid-epoch, mid-cycle; then mid-epoch of the second epoch
        { "adamw", "clr", 3, 12 },      // the second stop is the last batch of epoch 2 (before its validation)
        { "sgd", "1cycle", 5, 9 },
        { "adamw", "1cycle", 8, 16 },
        { "sgd", "sgdr", 2, 7 },        // the second stop is right after the first cycle's restart
        { "adamw", "sgdr", 6, 13 },     // the first stop is the end of cycle 0 (and of epoch 1)
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stopped_twice_and_resumed_equals_the_uninterrupted_run_bit_for_bit(string opt, string policy, long stop1, long stop2)
    {
        using var reference = Make(opt);
        reference.FreezeTo(opt == "adamw" && policy == "clr" ? 1 : 0);
        var schedule = MakeSchedule(policy, reference.Data.Train.BatchCount);
        var full = reference.Fit(schedule, Epochs);
        Assert.Null(full.StopReason);

        var options = new CheckpointOptions { Directory = _dir, EveryIterations = 0, EveryEpoch = true, Keep = 2 };
        using (var first = Make(opt, new CheckpointCallback(options), new StopAt(stop1)))
        {
            first.FreezeTo(opt == "adamw" && policy == "clr" ? 1 : 0);
            var r = first.Fit(schedule, Epochs);
            Assert.Equal($"test stop at {stop1}", r.StopReason);
        }
        var latest = Checkpoint.Locate(_dir);
        Assert.Equal(stop1, Checkpoint.ReadInfo(latest).Position.Iteration);
        using (var second = Make(opt, new CheckpointCallback(options), new StopAt(stop2)))
        {
            var r = Checkpoint.Resume(second, latest, schedule, Epochs);
            Assert.Equal($"test stop at {stop2}", r.StopReason);
        }
        latest = Checkpoint.Locate(_dir);
        Assert.Equal(stop2, Checkpoint.ReadInfo(latest).Position.Iteration);
        using var third = Make(opt, new CheckpointCallback(options));
        var result = Checkpoint.Resume(third, latest, schedule, Epochs);
        Assert.Null(result.StopReason);
        Assert.Equal(Epochs, result.Epochs);
        Assert.Equal(full.Iterations, result.Iterations);
        Assert.Equal(full.ValidLoss, result.ValidLoss);
        AssertSameRun(reference, third);
        Assert.True(Checkpoint.Rolling(_dir).Count <= 2, "keeps the newest 2");
        Assert.Empty(Directory.EnumerateDirectories(_dir, CheckpointStore.TempPrefix + "*"));
    }

    [Fact]
    public void Cancellation_token_finishes_the_step_writes_a_checkpoint_and_the_resume_is_exact()
    {
        using var reference = Make("sgd");
        var schedule = MakeSchedule("clr", reference.Data.Train.BatchCount);
        reference.Fit(schedule, Epochs);

        using var cts = new CancellationTokenSource();
        var options = new CheckpointOptions { Directory = _dir, EveryIterations = 5 };
        using (var first = Make("sgd", new CheckpointCallback(options), new CancelAt(8, cts)))
            Assert.Throws<OperationCanceledException>(() => first.Fit(schedule, Epochs, cts.Token));
        var info = Checkpoint.ReadInfo(Checkpoint.Locate(_dir));
        Assert.Equal(("interrupt", 8L, 1, 2L), (info.Kind, info.Position.Iteration, info.Position.Epoch, info.Position.BatchesDone));
        using var second = Make("sgd", new CheckpointCallback(options));
        Checkpoint.Resume(second, info.Path, schedule, Epochs);
        AssertSameRun(reference, second);
    }

    private sealed class CancelAt(long at, CancellationTokenSource cts) : Callback
    {
        public override void AfterStep(Learner learner)
        {
            if (learner.Iteration == at) cts.Cancel();
        }
    }

    [Fact]
    public void Resume_refuses_another_schedule_or_length_before_loading_anything()
    {
        var options = new CheckpointOptions { Directory = _dir };
        using (var first = Make("sgd", new CheckpointCallback(options), new StopAt(4)))
            first.Fit(MakeSchedule("clr", first.Data.Train.BatchCount), Epochs);
        using var other = Make("sgd");
        var before = Weights(other);
        var path = Checkpoint.Locate(_dir);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Resume(other, path, MakeSchedule("1cycle", other.Data.Train.BatchCount), Epochs));
        Assert.Contains("saved from another schedule: step 3 used lr", e.Message);
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Resume(other, path, FastAi07.Fit([1e-3, 5e-3, 2e-2], 6, cycleLen: 4, useClr: new UseClr(10, 3, 0.95, 0.85)), 4));
        Assert.Contains("saved from a fit of 3 epochs, not 4", e.Message);
        Assert.Equal(before, Weights(other));
        Assert.Null(other.StartAt);
    }

    [Fact]
    public void Nan_loss_stops_and_keeps_the_last_good_checkpoint()
    {
        int calls = 0;
        Tensor Poisoned(Tensor output, Tensor target)
        {
            var loss = nn.functional.cross_entropy(output, target);
            return output.requires_grad && ++calls == 10 ? loss * double.NaN : loss;   // the 10th training batch (iteration 9) gives NaN
        }
        var (model, groups) = Synth.Model(7);
        var options = new CheckpointOptions { Directory = _dir, EveryIterations = 1, Keep = 3 };
        using var learn = new Learner(model, Synth.Data(batchSize: BatchSize, seed: 7), Poisoned, layerGroups: groups,
            callbacks: [new NanGuard(), new CheckpointCallback(options)]);
        var result = learn.Fit(MakeSchedule("sgdr", 6), Epochs);
        Assert.StartsWith("loss is NaN at iteration 9 (epoch 2, batch 4) with lr ", result.StopReason);
        var rolling = Checkpoint.Rolling(_dir);
        Assert.Equal(3, rolling.Count);
        var last = Checkpoint.ReadInfo(rolling[^1]);
        Assert.Equal(("iteration", 9L), (last.Kind, last.Position.Iteration));   // no checkpoint of the NaN batch
        CheckpointStore.Verify(rolling[^1]);
        Assert.All(Weights(learn), w => Assert.All(w, v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void Cycle_snapshots_hold_the_weights_after_the_last_batch_of_each_cycle_and_load_cycle_reloads_them()
    {
        var taken = new Dictionary<long, float[][]>();
        var probe = new Probe(learn => taken[learn.Iteration] = Weights(learn));
        long batches = 6;
        var options = new CheckpointOptions
        {
            Directory = _dir,
            CycleSaveName = "snap",
            CycleEnds = CheckpointOptions.FastAi07CycleEnds(batches, 2, 1, 2, clr: false),
            BestSaveName = "best",
        };
        Assert.Equal([6L, 18L], options.CycleEnds);
        using var learn = Make("sgd", new CheckpointCallback(options), probe);
        learn.Fit(MakeSchedule("sgdr", batches), Epochs);
        Assert.True(Directory.Exists(Path.Combine(_dir, "snap_cyc_0")) && Directory.Exists(Path.Combine(_dir, "snap_cyc_1")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "snap_cyc_2")));
        var best = Checkpoint.ReadInfo(Path.Combine(_dir, "best"));
        Assert.Equal("best", best.Kind);
        Assert.True(best.Position.EpochEnded);
        double top = learn.Recorder.Epochs.Max(e => e.Metrics[0]);
        Assert.Equal(learn.Recorder.Epochs.First(e => e.Metrics[0] == top).Epoch, best.Position.Epoch);   // the first epoch that reached it

        using var other = Make("sgd");
        other.LoadCycle("snap", 0, _dir);
        var w = Weights(other);
        for (int i = 0; i < w.Length; i++) Assert.True(w[i].AsSpan().SequenceEqual(taken[6][i]), $"cycle 0 snapshot, tensor {i}");
        Assert.Equal(6, Checkpoint.ReadInfo(Path.Combine(_dir, "snap_cyc_0")).Position.Iteration);
    }

    [Fact]
    public void Fastai07_cycle_ends_follow_cycle_mult_for_cosine_and_repeat_for_clr()
    {
        Assert.Equal([4L, 12, 28], CheckpointOptions.FastAi07CycleEnds(4, 3, 1, 2, clr: false));
        // fit(lr, 3, cycle_len=1, cycle_mult=2, use_clr=…) trains 7 epochs of identical 1-epoch cycles
        Assert.Equal([4L, 8, 12, 16, 20, 24, 28], CheckpointOptions.FastAi07CycleEnds(4, 3, 1, 2, clr: true));
        Assert.Empty(CheckpointOptions.FastAi07CycleEnds(4, 3, null, 1, clr: false));
    }

    private sealed class Probe(Action<Learner> onBatch) : Callback
    {
        public override void AfterBatch(Learner learner) => onBatch(learner);
    }
}
