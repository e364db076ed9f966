using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

/// <summary>Cancels the fit after training batch <see cref="Batches"/> of epoch <see cref="Epoch"/> (0-based epoch, batches done).</summary>
internal sealed class StopAfterBatch(int epoch, long batches) : Callback
{
    public int Epoch { get; } = epoch;
    public long Batches { get; } = batches;
    public override int Order => 100;
    public override void AfterBatch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (learner.Epoch == Epoch && learner.BatchesDone == Batches) learner.Cancel(Scope.Fit, "test stop");
    }
}

public sealed class AccumulationTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-accumulate");

    public void Dispose() => _temp.Dispose();

    private const int Epochs = 3;   // Synth: 256 training samples

    private static Learner Make(int batchSize, int accumulate, params Callback[] callbacks)
    {
        var learner = Synth.Learner(seed: 5, opt: OptimizerFactory.Sgd(momentum: 0.9, weightDecay: 1e-4), batchSize: batchSize, callbacks: callbacks);
        learner.AccumulationSteps = accumulate;
        return learner;
    }

    private static float[][] Weights(Learner learn) => learn.Model.state_dict().Values.Select(t => t.detach().cpu().flatten().data<float>().ToArray()).ToArray();

    [Fact]
    public void One_batch_per_step_is_the_plain_loop_bit_for_bit()
    {
        // The loop every PyTorch user writes, against the learner with AccumulationSteps = 1 (the default path).
        const double lr = 0.05;   // SGD keeps its momentum (0.9)
        using var learner = Make(batchSize: 48, accumulate: 1);
        var result = learner.Fit(Torch.Constant([lr]), Epochs);

        var (model, groups) = Synth.Model(seed: 5);
        using var data = Synth.Data(batchSize: 48, seed: 5);
        using var optimizer = OptimizerFactory.Sgd(momentum: 0.9, weightDecay: 1e-4).Create(groups);
        var writer = new HyperParamWriter(optimizer);
        model.train();
        for (int e = 0; e < Epochs; e++)
        {
            data.Train.StartEpoch();
            for (long b = 0; b < data.Train.BatchCount; b++)
            {
                using var scope = NewDisposeScope();
                var (x, y) = data.Train.GetBatch(b);
                var loss = nn.functional.cross_entropy(model.forward(x), y);
                optimizer.zero_grad();
                loss.backward();
                writer.Write([lr], [], []);
                optimizer.step();
            }
        }
        Assert.Equal(Epochs * 6, result.Iterations);   // 256 samples in batches of 48: 6 per epoch, the last of 16
        var expected = model.state_dict().Values.Select(t => t.detach().flatten().data<float>().ToArray()).ToArray();
        var actual = Weights(learner);
        for (int i = 0; i < expected.Length; i++) Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"tensor {i} differs");
    }

    [Theory]
    [InlineData(48, 2, 96)]    // batches 48,48 | 48,48 | 48,16 = 96 | 96 | 64
    [InlineData(48, 4, 192)]   // the last group is short: 48×4 | 48,16 = 192 | 64
    [InlineData(32, 3, 96)]    // 8 batches: 3 | 3 | 2 = 96 | 96 | 64
    public void Accumulating_n_batches_of_b_equals_batches_of_n_times_b(int batchSize, int accumulate, int bigBatch)
    {
        using var small = Make(batchSize, accumulate);
        using var big = Make(bigBatch, 1);
        Assert.Equal(big.Data.Train.BatchCount, small.StepsPerEpoch);
        var schedule = FastAi.FitOneCycle([0.1], Epochs, small.StepsPerEpoch);
        var a = small.Fit(schedule, Epochs);
        var b = big.Fit(schedule, Epochs);

        Assert.Equal(b.Iterations, a.Iterations);
        Assert.Equal(Epochs * small.StepsPerEpoch, a.Iterations);
        Assert.Equal(big.Recorder.Steps.Select(s => (s.Step, s.Lr[0], s.Momentum[0])), small.Recorder.Steps.Select(s => (s.Step, s.Lr[0], s.Momentum[0])));
        var (x, y) = (Weights(big), Weights(small));
        for (int i = 0; i < x.Length; i++)
            for (int j = 0; j < x[i].Length; j++) Assert.True(Math.Abs(x[i][j] - y[i][j]) <= 1e-5 + 1e-4 * Math.Abs(x[i][j]), $"tensor {i}[{j}]: {x[i][j]} vs {y[i][j]}");
        Assert.Equal(b.ValidLoss, a.ValidLoss, 4);
        // The weights did move: a run of other steps ends elsewhere.
        using var other = Make(batchSize, 1);
        other.Fit(FastAi.FitOneCycle([0.1], Epochs, other.StepsPerEpoch), Epochs);
        Assert.True(Weights(other)[0].Zip(y[0]).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    public static TheoryData<int, long, bool> Stops => new()
    {
        // 256 samples in batches of 48, 3 per step: 6 batches and 2 steps per epoch
        { 0, 2, true },    // mid-group: 2 of the first group's 3 batches done
        { 1, 4, true },    // mid-group in the second epoch
        { 1, 3, false },   // at a step boundary: no gradients to keep
    };

    [Theory]
    [MemberData(nameof(Stops))]
    public void Interrupted_and_resumed_equals_the_uninterrupted_run_bit_for_bit(int epoch, long batches, bool midGroup)
    {
        using var reference = Make(48, 3);
        var schedule = FastAi.FitOneCycle([0.1], Epochs, reference.StepsPerEpoch);
        var full = reference.Fit(schedule, Epochs);
        Assert.Equal(Epochs * 2, full.Iterations);

        var options = new CheckpointOptions { Directory = _temp.Path, EveryIterations = 1, EveryEpoch = true };
        using (var first = Make(48, 3, new CheckpointCallback(options), new StopAfterBatch(epoch, batches)))
            Assert.Equal("test stop", first.Fit(schedule, Epochs).StopReason);
        // Iteration checkpoints are written at step boundaries only; the interrupt one is the newest.
        foreach (var path in Checkpoint.Rolling(_temp.Path).SkipLast(1))
            Assert.Equal(0, Checkpoint.ReadInfo(path).Position.BatchesDone % 3);
        string latest = Checkpoint.Locate(_temp.Path);
        var info = Checkpoint.ReadInfo(latest);
        Assert.Equal((epoch, batches, 3), (info.Position.Epoch, info.Position.BatchesDone, info.AccumulationSteps));
        Assert.Equal(midGroup, File.Exists(Path.Combine(latest, "gradients.bin")));

        using (var wrong = Make(48, 2))
        {
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Resume(wrong, latest, FastAi.FitOneCycle([0.1], Epochs, wrong.StepsPerEpoch), Epochs));
            Assert.Contains("saved with 3 batches per optimizer step, the learner accumulates 2", e.Message, StringComparison.Ordinal);
        }
        using var second = Make(48, 3);
        var result = Checkpoint.Resume(second, latest, schedule, Epochs);
        Assert.Null(result.StopReason);
        Assert.Equal(full.Iterations, result.Iterations);
        Assert.Equal(full.ValidLoss, result.ValidLoss);
        var (x, y) = (Weights(reference), Weights(second));
        for (int i = 0; i < x.Length; i++) Assert.True(x[i].AsSpan().SequenceEqual(y[i]), $"tensor {i} differs");
        Assert.Equal(reference.Recorder.Steps.Select(s => (s.Step, s.Loss, s.SmoothLoss)), second.Recorder.Steps.Select(s => (s.Step, s.Loss, s.SmoothLoss)));
    }

    [Fact]
    public void Schedules_count_optimizer_steps_and_bad_values_are_refused()
    {
        using var learner = Make(48, 4);
        Assert.Equal(2, learner.StepsPerEpoch);
        var e = Assert.Throws<ArgumentException>(() => learner.Fit(FastAi.FitOneCycle([0.1], 1, 6), 1));
        Assert.Contains("build it for 2 steps per epoch (6 batches, 4 per step)", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => learner.AccumulationSteps = 0);
    }
}
