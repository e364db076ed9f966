using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Tests.Checkpoints;
using Cadence.Training;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

/// <summary>EMA and Lookahead: the average's arithmetic, evaluation on it, the final weights, and exact resume.</summary>
public sealed class WeightAveragingTests
{
    private static float[][] Weights(Learner learn) =>
        learn.Model.state_dict().Values.Where(t => t.is_floating_point()).Select(t => t.detach().flatten().data<float>().ToArray()).ToArray();

    /// <summary>Records the weights after every step (before the averaging callback, which runs at order 40).</summary>
    private sealed class WeightLog : Callback
    {
        public List<float[][]> After { get; } = [];
        public override int Order => 30;
        public override void AfterStep(Learner learner) => After.Add(Weights(learner));
    }

    [Fact]
    public void The_ema_is_the_recurrence_over_the_weights_after_every_kth_step_and_becomes_the_model_at_the_end()
    {
        var log = new WeightLog();
        var ema = new WeightAveraging(decay: 0.8, every: 2, warmup: true);
        using var learn = Synth.Learner(seed: 1, callbacks: [log, ema]);
        var initial = Weights(learn);
        learn.Fit(Torch.Constant([0.05]), 2);   // 8 batches per epoch: 16 steps, 8 updates
        Assert.Equal(8, ema.Updates);
        var expected = initial.Select(w => w.Select(v => (double)v).ToArray()).ToArray();
        long n = 0;
        for (int step = 1; step <= log.After.Count; step++)
        {
            if (step % 2 != 0) continue;
            double d = Math.Min(0.8, (1.0 + n) / (10.0 + n));
            Assert.Equal(d, ema.DecayAt(n));
            n++;
            for (int i = 0; i < expected.Length; i++)
                for (int j = 0; j < expected[i].Length; j++) expected[i][j] = d * expected[i][j] + (1 - d) * log.After[step - 1][i][j];
        }
        var final = Weights(learn);   // the average, copied in at the end of the fit
        for (int i = 0; i < final.Length; i++)
            for (int j = 0; j < final[i].Length; j++) Assert.Equal(expected[i][j], final[i][j], 1e-5);
        Assert.NotEqual(log.After[^1][0], final[0]);
    }

    [Fact]
    public void Validation_runs_on_the_average_and_training_continues_on_the_raw_weights()
    {
        var log = new WeightLog();
        var ema = new WeightAveraging(decay: 0.9, warmup: false, useAverageAtEnd: false);
        using var learn = Synth.Learner(seed: 2, callbacks: [log, ema]);
        learn.Fit(Torch.Constant([0.05]), 1);
        var raw = Weights(learn);
        Assert.Equal(log.After[^1], raw);   // the model is left with the raw weights
        var validatedOnAverage = learn.ValidLoss;
        Assert.NotEqual(learn.Validate().Loss, validatedOnAverage);

        // Load the average by hand: validation gives what the fit reported.
        var average = ema.SaveCheckpointState();
        using var copy = Synth.Learner(seed: 2, callbacks: [new WeightAveraging(0.9)]);
        var other = (WeightAveraging)copy.Callbacks.Single(c => c is WeightAveraging);
        other.BeforeFit(copy);
        other.LoadCheckpointState(average);
        other.AfterFit(copy);   // copies the average into the model
        Assert.Equal(validatedOnAverage, copy.Validate().Loss, 1e-6);
    }

    [Fact]
    public void Lookahead_resets_the_weights_to_the_average_after_each_update()
    {
        var log = new WeightLog();
        var look = new WeightAveraging(decay: 0.5, every: 3, mode: AveragingMode.Lookahead, warmup: false);
        var after = new WeightLogAfter();
        using var learn = Synth.Learner(seed: 3, callbacks: [log, look, after]);
        learn.Fit(Torch.Constant([0.05]), 1);
        var initial = Synth.Learner(seed: 3);
        var slow = Weights(initial);
        initial.Dispose();
        for (int step = 1; step <= log.After.Count; step++)
        {
            if (step % 3 != 0) { Assert.Equal(log.After[step - 1], after.After[step - 1]); continue; }
            for (int i = 0; i < slow.Length; i++)
                for (int j = 0; j < slow[i].Length; j++)
                {
                    slow[i][j] = (float)(0.5 * slow[i][j] + 0.5 * log.After[step - 1][i][j]);
                    Assert.Equal(slow[i][j], after.After[step - 1][i][j], 1e-6f);
                }
        }
    }

    private sealed class WeightLogAfter : Callback
    {
        public List<float[][]> After { get; } = [];
        public override int Order => 45;
        public override void AfterStep(Learner learner) => After.Add(Weights(learner));
    }

    [Fact]
    public void Stopped_and_resumed_with_ema_equals_the_uninterrupted_run_bit_for_bit()
    {
        using var dir = new TempDirectory();
        Learner Make(params Callback[] extra) => Synth.Learner(seed: 4, batchSize: 48, callbacks: [new WeightAveraging(0.9, every: 2), .. extra]);
        using var reference = Make();
        var schedule = Torch.OneCycle([0.05], 3 * reference.Data.Train.BatchCount);
        reference.Fit(schedule, 3);

        var options = new CheckpointOptions { Directory = dir.Path, EveryEpoch = true };
        using (var first = Make(new CheckpointCallback(options), new StopAt(8)))
            Assert.Equal("test stop at 8", first.Fit(schedule, 3).StopReason);
        using var second = Make(new CheckpointCallback(options));
        Checkpoint.Resume(second, Checkpoint.Locate(dir.Path), schedule, 3);
        Assert.Equal(Weights(reference), Weights(second));
        Assert.Equal(reference.Recorder.Epochs.Select(e => e.ValidLoss), second.Recorder.Epochs.Select(e => e.ValidLoss));
    }

    [Fact]
    public void A_checkpoint_of_another_model_is_refused()
    {
        var ema = new WeightAveraging();
        using var learn = Synth.Learner();
        ema.BeforeFit(learn);
        var e = Assert.Throws<CheckpointException>(() => ema.LoadCheckpointState("""{"updates": 1, "average": ["AAAA"]}"""));
        Assert.Contains("the checkpoint averages 1 tensors, this model has 6", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightAveraging(decay: 1));
    }
}
