using Cadence.Callbacks;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

/// <summary>The learner's loop: layer groups across moves, the batch in BeforeBatch, losses read in chunks, the range test's callbacks.</summary>
public class LoopTests
{
    [Fact]
    public void TorchSharp_replaces_parameters_on_a_move_and_the_groups_are_re_read_by_name()
    {
        var (model, groups) = Synth.Model(3);
        var old = groups.SelectMany(g => g).ToArray();
        // A dtype change replaces parameters exactly as a device move does (Module._toEpilog), and it happens on the CPU.
        var moved = ParameterGroups.Rebind(model, groups, m => m.to(ScalarType.Float64));
        var current = model.parameters().ToArray();
        Assert.DoesNotContain(current, p => old.Any(o => ReferenceEquals(o, p)));   // every Parameter object is new
        Assert.Equal(groups.Select(g => g.Count), moved.Select(g => g.Count));
        Assert.All(moved.SelectMany(g => g), p => Assert.Contains(current, c => ReferenceEquals(c, p)));
        Assert.All(moved.SelectMany(g => g), p => Assert.Equal(ScalarType.Float64, p.dtype));

        // The re-read groups train the model: an optimizer on them moves its output.
        using var x = randn(4, Synth.Features, ScalarType.Float64);
        var before = model.forward(x).detach().clone();
        using var sgd = optim.SGD(moved.SelectMany(g => g), 0.1);
        model.forward(x).sum().backward();
        sgd.step();
        Assert.False(before.allclose(model.forward(x), 0, 0));
    }

    [Fact]
    public void Groups_taken_before_a_move_the_learner_did_not_make_are_refused_by_name()
    {
        var (model, groups) = Synth.Model(3);
        model.to(ScalarType.Float64);   // the caller moved the model after taking its groups
        var e = Assert.Throws<ArgumentException>(() => new Learner(model, Synth.Data(), layerGroups: groups));
        Assert.StartsWith("layer group 0, parameter 0 is not one of the model's parameters (were the groups taken before the model was moved", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_learners_groups_and_optimizer_hold_the_models_own_parameters()
    {
        using var learn = Synth.Learner();
        var current = learn.Model.parameters().ToArray();
        Assert.Equal(current.Length, learn.LayerGroups.Sum(g => g.Count));
        Assert.All(learn.LayerGroups.SelectMany(g => g), p => Assert.Contains(current, c => ReferenceEquals(c, p)));
        var inOptimizer = learn.Optimizer.ParamGroups.Cast<ParamGroup>().SelectMany(g => g.Parameters).ToArray();
        Assert.All(current, p => Assert.Contains(inOptimizer, o => ReferenceEquals(o, p)));
    }

    /// <summary>Sees the batch in BeforeBatch and replaces its inputs with zeros (fastai's <c>self.learn.xb = …</c>).</summary>
    private sealed class ZeroInputs : Callback
    {
        public List<long[]> Seen { get; } = [];
        public bool OutputsIdentical { get; private set; } = true;

        public override void BeforeBatch(Learner learner)
        {
            Seen.Add(learner.X!.shape);
            Assert.Equal(learner.X.shape[0], learner.Y!.shape[0]);
            learner.X = zeros_like(learner.X);
        }

        public override void AfterLoss(Learner learner)
        {
            // Every row was computed from the same (zero) input.
            using var spread = learner.Output!.std(0).max();
            OutputsIdentical &= spread.item<float>() == 0;
        }
    }

    [Fact]
    public void BeforeBatch_sees_the_batch_and_may_replace_it()
    {
        var zero = new ZeroInputs();
        using var learn = Synth.Learner(batchSize: 48, callbacks: [zero]);   // 6 batches, the last of 16
        learn.Fit(0.01);
        Assert.Equal([[48, 8], [48, 8], [48, 8], [48, 8], [48, 8], [16, 8]], zero.Seen.Select(s => s.ToArray()));
        Assert.True(zero.OutputsIdentical, "the model saw the replaced inputs");
    }

    private static Learner Chunked(int interval, params Callback[] callbacks)
    {
        var learn = Synth.Learner(seed: 5, opt: OptimizerFactory.AdamW(), batchSize: 48, callbacks: callbacks);
        learn.LossReadInterval = interval;
        return learn;
    }

    private sealed class Reads : Callback
    {
        public List<(BatchLoss Loss, long IterationNow)> Seen { get; } = [];
        public override void AfterLossRead(Learner learner, BatchLoss loss) => Seen.Add((loss, learner.Iteration));
    }

    [Fact]
    public void Losses_read_in_chunks_record_the_same_numbers_as_losses_read_every_step()
    {
        var every = new Reads();
        var chunked = new Reads();
        using var a = Chunked(1, every);
        using var b = Chunked(4, chunked);
        var schedule = FastAi.FitOneCycle([1e-2], 3, a.Data.Train.BatchCount);
        var ra = a.Fit(schedule, 3);
        var rb = b.Fit(schedule, 3);
        Assert.Equal(a.Recorder.Steps.Count, b.Recorder.Steps.Count);
        for (int t = 0; t < a.Recorder.Steps.Count; t++)
        {
            var (x, y) = (a.Recorder.Steps[t], b.Recorder.Steps[t]);
            Assert.Equal((x.Step, x.Epoch, x.Loss, x.SmoothLoss), (y.Step, y.Epoch, y.Loss, y.SmoothLoss));
            Assert.Equal(x.Lr, y.Lr);
        }
        Assert.Equal(a.Recorder.Epochs.Select(e => (e.TrainLoss, e.ValidLoss)), b.Recorder.Epochs.Select(e => (e.TrainLoss, e.ValidLoss)));
        Assert.Equal((ra.TrainLoss, ra.ValidLoss), (rb.TrainLoss, rb.ValidLoss));
        // Every step read once, in order; read right away on one learner, up to 4 steps later on the other.
        Assert.Equal(every.Seen.Select(s => s.Loss), chunked.Seen.Select(s => s.Loss));
        Assert.All(every.Seen, s => Assert.Equal(s.Loss.Iteration, s.IterationNow));
        Assert.All(chunked.Seen, s => Assert.InRange(s.IterationNow - s.Loss.Iteration, 1, 4));
        Assert.Contains(chunked.Seen, s => s.IterationNow - s.Loss.Iteration == 4);
    }

    /// <summary>A learner with a NaN guard whose loss is NaN for the training batches (1-based, counted over the learner's life) <paramref name="nan"/> picks.</summary>
    private static Learner NanFrom(Func<int, bool> nan)
    {
        int batch = 0;
        var (model, groups) = Synth.Model();
        return new Learner(model, Synth.Data(), loss: (o, t) =>
        {
            var l = nn.functional.cross_entropy(o, t);
            return o.requires_grad && nan(++batch) ? l * double.NaN : l;
        }, layerGroups: groups, callbacks: [new NanGuard()]);
    }

    [Fact]
    public void With_losses_read_in_chunks_the_nan_guard_stops_late_but_records_nothing_from_the_bad_batch_on()
    {
        using var learn = NanFrom(batch => batch == 6);   // the 6th training batch (iteration 5)
        learn.LossReadInterval = 4;
        var result = learn.Fit(0.01);
        Assert.StartsWith("loss is NaN at iteration 5 (epoch 1, batch 6)", result.StopReason, StringComparison.Ordinal);
        Assert.Equal(8, result.Iterations);   // steps 4 … 7 were read together after step 7
        Assert.Equal(5, learn.Recorder.Steps.Count);
        Assert.All(learn.Recorder.Steps, s => Assert.True(double.IsFinite(s.Loss)));
    }

    [Fact]
    public void A_fit_cancelled_between_reads_still_records_the_steps_it_took()
    {
        using var cts = new CancellationTokenSource();
        var stop = new AfterIteration(6, cts);
        using var learn = Chunked(4, stop);
        Assert.Throws<OperationCanceledException>(() => learn.Fit(0.01, cycleLen: 2, cancellationToken: cts.Token));
        Assert.Equal(6, learn.Iteration);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)i), learn.Recorder.Steps.Select(s => s.Step));
        Assert.All(learn.Recorder.Steps, s => Assert.True(double.IsFinite(s.Loss)));
    }

    private sealed class AfterIteration(long at, CancellationTokenSource cts) : Callback
    {
        public override void AfterStep(Learner learner)
        {
            if (learner.Iteration == at) cts.Cancel();
        }
    }

    [Fact]
    public void Large_validation_batches_give_the_same_accuracy()
    {
        using var learn = Synth.Learner(batchSize: 16);
        learn.Fit(0.05);
        var (loss16, metrics16) = learn.Validate();
        learn.ValidationBatchSize = 1000;
        var (lossAll, metricsAll) = learn.Validate();
        Assert.Equal(metrics16, metricsAll);
        Assert.Equal(loss16, lossAll, 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => learn.ValidationBatchSize = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => learn.LossReadInterval = 0);
    }

    /// <summary>Counts what it saw; says whether it runs during a range test.</summary>
    private sealed class Counter(bool duringLrFind) : Callback
    {
        public int Batches { get; private set; }
        public int Fits { get; private set; }
        public override bool RunsDuringLrFind => duringLrFind;
        public override void BeforeFit(Learner learner) => Fits++;
        public override void AfterBatch(Learner learner) => Batches++;
    }

    [Fact]
    public void The_range_test_runs_the_callbacks_that_shape_training_and_leaves_out_loggers_checkpoints_and_early_stopping()
    {
        using var dir = new TempDirectory();
        var runs = new Counter(true);
        var skipped = new Counter(false);
        var clip = new GradientClipping(1e-3);
        var csv = new CsvLogger(dir["log.csv"]);
        var ckpt = new Cadence.Checkpoints.CheckpointCallback(new Cadence.Checkpoints.CheckpointOptions { Directory = dir["ckpt"], EveryIterations = 1 });
        using var learn = Synth.Learner(callbacks: [runs, skipped, clip, csv, ckpt, new EarlyStopping(patience: 0)]);
        var r = learn.LrFind(numIt: 20, stopDiv: false);
        Assert.Equal(20, r.Lrs.Count);
        Assert.Equal((1, 20), (runs.Fits, runs.Batches));   // one fit of 20 batches (3 epochs of 8: early stopping did not end it)
        Assert.Equal((0, 0), (skipped.Fits, skipped.Batches));
        Assert.True(clip.LastNorm > 0, "gradient clipping ran");
        Assert.False(File.Exists(dir["log.csv"]), "no log");
        Assert.False(Directory.Exists(dir["ckpt"]) && Directory.EnumerateFileSystemEntries(dir["ckpt"]).Any(), "no checkpoint");
        Assert.Empty(learn.Recorder.Steps);
        Assert.Equal([runs, skipped, clip, learn.Recorder, csv, ckpt], learn.Callbacks.Take(6));   // the learner's own list is back
    }

    [Fact]
    public void With_a_nan_guard_the_range_test_ends_at_the_first_nan_and_says_so()
    {
        using var learn = NanFrom(batch => batch > 30);
        var r = learn.LrFind(stopDiv: false);
        Assert.True(r.StoppedEarly);
        Assert.Equal(30, r.Lrs.Count);
        Assert.All(r.Smoothed, v => Assert.True(double.IsFinite(v)));
        Assert.StartsWith("loss is NaN at iteration 30", r.Reason, StringComparison.Ordinal);
        Assert.Null(learn.StopReason);
    }

    [Fact]
    public void The_range_test_records_the_same_curve_when_losses_are_read_in_chunks()
    {
        using var a = Synth.Learner(seed: 2);
        using var b = Synth.Learner(seed: 2);
        b.LossReadInterval = 7;
        var ra = a.LrFind();
        var rb = b.LrFind();
        Assert.True(ra.StoppedEarly);   // the synthetic blobs diverge before lr 10
        Assert.Equal(ra.Lrs, rb.Lrs);
        Assert.Equal(ra.Losses, rb.Losses);
        Assert.Equal(ra.Smoothed, rb.Smoothed);
        Assert.Equal((ra.Batches, ra.Reason), (rb.Batches, rb.Reason));
        Assert.Equal(7, b.LossReadInterval);
    }
}
