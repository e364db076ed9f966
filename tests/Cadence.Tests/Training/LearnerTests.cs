using Cadence.Callbacks;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using Xunit;

namespace Cadence.Tests.Training;

public class LearnerTests
{
    [Fact]
    public void Network_learns_the_synthetic_blobs()
    {
        using var learn = Synth.Learner();
        var before = learn.Validate().Loss;
        var result = learn.Fit(0.1, cycleLen: 3, useClr: new UseClr(32, 5));
        Assert.Equal(3, result.Epochs);
        Assert.Equal(3 * 8, result.Iterations);
        Assert.True(before > 1.0, $"untrained valid loss {before}");
        Assert.True(result.ValidLoss < 0.25, $"valid loss {result.ValidLoss} should fall below 0.25");
        Assert.True(result.Metrics["accuracy"] > 0.9, $"accuracy {result.Metrics["accuracy"]}");
        Assert.Equal(3, learn.Recorder.Epochs.Count);
        Assert.Equal(24, learn.Recorder.Steps.Count);
    }

    /// <summary>Reads back, inside BeforeStep, what each parameter group will use for the step.</summary>
    private sealed class ReadBack : Callback
    {
        public List<(double[] Lr, double[] Mom)> Seen { get; } = [];
        public override int Order => 100;
        public override void BeforeStep(Learner learner)
        {
            var w = learner.HyperParams;
            Seen.Add((Enumerable.Range(0, w.Groups).Select(w.GetLr).ToArray(), Enumerable.Range(0, w.Groups).Select(w.GetMomentum).ToArray()));
        }
    }

    public static TheoryData<string> Optimizers => new() { "sgd", "adamw", "adam" };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Optimizer_uses_exactly_the_scheduled_lr_and_momentum_of_every_group_at_every_step(string opt)
    {
        OptimizerFactory factory = opt switch
        {
            "sgd" => OptimizerFactory.Sgd(momentum: 0.9, weightDecay: 1e-4),
            "adamw" => OptimizerFactory.AdamW(),
            _ => OptimizerFactory.Adam(),
        };
        var readBack = new ReadBack();
        using var learn = Synth.Learner(opt: factory, batchSize: 48, callbacks: [readBack]);   // 256/48: 6 batches, the last partial
        learn.FreezeTo(1);
        var frozenBefore = learn.LayerGroups[0].Select(p => p.detach().clone()).ToArray();
        double frozenLr = learn.HyperParams.GetLr(0), frozenMom = learn.HyperParams.GetMomentum(0);

        double[] lrs = [1e-3, 5e-3, 2e-2];
        var schedule = opt == "sgd"
            ? FastAi07.Fit(lrs, learn.Data.Train.BatchCount, cycles: 2, cycleLen: 1, useClr: new UseClr(10, 3, 0.95, 0.85))
            : FastAi07.Fit(lrs, learn.Data.Train.BatchCount, cycleLen: 2, useClrBeta: new UseClrBeta(10, 10, 0.95, 0.85));
        learn.Fit(schedule, 2);

        Assert.Equal(12, readBack.Seen.Count);
        Span<double> lr = stackalloc double[3], mom = stackalloc double[3];
        for (int t = 0; t < readBack.Seen.Count; t++)
        {
            schedule.At(t, lr, mom);
            var (seenLr, seenMom) = readBack.Seen[t];
            Assert.Equal(frozenLr, seenLr[0]);     // frozen group: never written
            Assert.Equal(frozenMom, seenMom[0]);
            for (int g = 1; g < 3; g++)
            {
                Assert.Equal(lr[g], seenLr[g]);     // exact, not approximately
                Assert.Equal(mom[g], seenMom[g]);
            }
            var rec = learn.Recorder.Steps[t];
            Assert.Equal(t, rec.Step);
            Assert.Equal(seenLr, rec.Lr);
            Assert.Equal(seenMom, rec.Momentum);
        }
        // The schedule really varies, per group, and the frozen group's weights did not move.
        Assert.True(readBack.Seen.Select(s => s.Mom[2]).Distinct().Count() > 3);
        Assert.NotEqual(readBack.Seen[0].Lr[1], readBack.Seen[0].Lr[2]);
        for (int i = 0; i < frozenBefore.Length; i++) Assert.True(frozenBefore[i].allclose(learn.LayerGroups[0][i], 0, 0), "frozen weights changed");
        Assert.All(learn.LayerGroups[1], p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void One_group_schedule_applies_to_every_layer_group_and_no_momentum_leaves_it_alone()
    {
        var readBack = new ReadBack();
        using var learn = Synth.Learner(opt: OptimizerFactory.Sgd(momentum: 0.8), callbacks: [readBack]);
        var schedule = FastAi07.Fit([0.05], learn.Data.Train.BatchCount, cycleLen: 1);   // cosine, no momentum
        Assert.False(schedule.HasMomentum);
        learn.Fit(schedule, 1);
        for (int t = 0; t < readBack.Seen.Count; t++)
        {
            var hp = schedule.At(t);
            Assert.All(readBack.Seen[t].Lr, v => Assert.Equal(hp.Lr[0], v));
            Assert.All(readBack.Seen[t].Mom, v => Assert.Equal(0.8, v));
        }
    }

    [Fact]
    public void Fastai_v2_fits_apply_fit_one_cycle_flat_cos_and_sgdr_with_their_lengths()
    {
        var readBack = new ReadBack();
        using var learn = Synth.Learner(opt: OptimizerFactory.AdamW(), callbacks: [readBack]);
        long bpe = learn.Data.Train.BatchCount;
        double[] lrs = [1e-3, 3e-3, 1e-2];

        var one = learn.FitOneCycle(2, lrs, pctStart: 0.3);
        var expected = FastAi.FitOneCycle(lrs, 2, bpe, pctStart: 0.3);
        Assert.Equal(2 * bpe, one.Iterations);
        Span<double> lr = stackalloc double[3], mom = stackalloc double[3];
        for (int t = 0; t < readBack.Seen.Count; t++)
        {
            expected.At(t, lr, mom);
            Assert.Equal(lr.ToArray(), readBack.Seen[t].Lr);
            Assert.Equal(mom.ToArray(), readBack.Seen[t].Mom);   // Adam's β1 follows fit_one_cycle's moms
        }

        readBack.Seen.Clear();
        learn.FitFlatCos(1, [0.01]);
        var flat = FastAi.FitFlatCos([0.01], 1, bpe);
        for (int t = 0; t < readBack.Seen.Count; t++) Assert.All(readBack.Seen[t].Lr, v => Assert.Equal(flat.At(t).Lr[0], v));

        readBack.Seen.Clear();
        var sgdr = learn.FitSgdr(2, 1, [0.01]);   // cycle_mult 2: 1 + 2 epochs
        Assert.Equal(3, sgdr.Epochs);
        Assert.Equal(3 * bpe, readBack.Seen.Count);
        Assert.Equal(0.01, readBack.Seen[(int)bpe].Lr[0], 12);   // a restart at the start of the second cycle
    }

    [Fact]
    public void Mismatched_schedule_is_rejected_with_a_clear_message()
    {
        using var learn = Synth.Learner();
        var twoGroups = FastAi07.Fit([0.1, 0.2], learn.Data.Train.BatchCount);
        var e = Assert.Throws<ArgumentException>(() => learn.Fit(twoGroups, 1));
        Assert.Contains("2 learning rates but the model has 3 layer groups", e.Message);
        var wrongLength = FastAi07.Fit([0.1], 5, cycleLen: 1);
        e = Assert.Throws<ArgumentException>(() => learn.Fit(wrongLength, 1));
        Assert.Contains("5 steps long but 1 epochs of 8 batches take 8 steps", e.Message);
    }

    [Fact]
    public void Unfreeze_trains_every_group_again()
    {
        using var learn = Synth.Learner();
        learn.Freeze();
        Assert.True(learn.IsFrozen(0) && learn.IsFrozen(1) && !learn.IsFrozen(2));
        Assert.All(learn.LayerGroups[0], p => Assert.False(p.requires_grad));
        learn.Unfreeze();
        Assert.All(learn.LayerGroups.SelectMany(g => g), p => Assert.True(p.requires_grad));
        var before = learn.LayerGroups[0][0].detach().clone();
        learn.Fit(0.05);
        Assert.False(before.allclose(learn.LayerGroups[0][0], 0, 0));
    }

    [Fact]
    public void Same_seed_and_threads_give_bit_identical_losses()
    {
        double[] Run()
        {
            using var learn = Synth.Learner(seed: 7, opt: OptimizerFactory.AdamW());
            learn.Fit(3e-3, cycleLen: 2, useClrBeta: new UseClrBeta(10, 10, 0.95, 0.85));
            return learn.Recorder.Steps.Select(s => s.Loss).Append(learn.ValidLoss).ToArray();
        }
        var a = Run();
        var b = Run();
        Assert.Equal(a.Select(BitConverter.DoubleToInt64Bits), b.Select(BitConverter.DoubleToInt64Bits));
        using var other = Synth.Learner(seed: 8, opt: OptimizerFactory.AdamW());
        other.Fit(3e-3, cycleLen: 2, useClrBeta: new UseClrBeta(10, 10, 0.95, 0.85));
        Assert.NotEqual(a[0], other.Recorder.Steps[0].Loss);
    }

    [Fact]
    public void Nan_guard_stops_naming_the_iteration_and_lr()
    {
        var (model, groups) = Synth.Model();
        int calls = 0;
        using var learn = new Learner(model, Synth.Data(), loss: (o, t) =>
        {
            var l = torch.nn.functional.cross_entropy(o, t);
            return ++calls == 4 ? l * double.NaN : l;
        }, layerGroups: groups, callbacks: [new NanGuard()]);
        var result = learn.Fit(0.01);
        Assert.Equal(3, result.Iterations);
        Assert.NotNull(result.StopReason);
        Assert.Contains("loss is NaN at iteration 3", result.StopReason);
        Assert.Contains("lr 0.01, 0.01, 0.01", result.StopReason);
        Assert.Equal(3, learn.Recorder.Steps.Count);
    }

    [Fact]
    public void Gradient_clipping_limits_the_norm()
    {
        var clip = new GradientClipping(0.01);
        using var learn = Synth.Learner(callbacks: [clip]);
        learn.Fit(0.1);
        Assert.True(clip.LastNorm > 0.01);
    }

    [Fact]
    public void Early_stopping_and_csv_logger()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cadence-{Guid.NewGuid():N}.csv");
        try
        {
            using var learn = Synth.Learner(callbacks: [new EarlyStopping(patience: 0, minDelta: 10), new CsvLogger(path)]);
            var result = learn.Fit(0.05, cycles: 5);
            Assert.Equal(2, result.Epochs);   // epoch 1 sets the best; epoch 2 does not improve by 10
            Assert.Contains("early stopping after epoch 2", result.StopReason);
            var lines = File.ReadAllLines(path);
            Assert.Equal("epoch,train_loss,valid_loss,accuracy,time", lines[0]);
            Assert.Equal(3, lines.Length);
            Assert.StartsWith("2,", lines[2]);
        }
        finally { File.Delete(path); }
    }
}

public class HyperParamWriterTests
{
    [Fact]
    public void Per_step_write_allocates_nothing()
    {
        using var learn = Synth.Learner(opt: OptimizerFactory.AdamW());
        var writer = learn.HyperParams;
        var schedule = FastAi07.Fit([1e-3, 2e-3, 3e-3], 100, cycleLen: 1, useClrBeta: new UseClrBeta(10, 10, 0.95, 0.85));
        var lr = new double[3];
        var mom = new double[3];
        var frozen = new bool[3];
        schedule.At(0, lr, mom);
        writer.Write(lr, mom, frozen);   // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 100; t++)
        {
            schedule.At(t, lr, mom);
            writer.Write(lr, mom, frozen);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(lr[2], writer.GetLr(2));
        Assert.Equal(mom[1], writer.GetMomentum(1));
    }
}
