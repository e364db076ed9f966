using Cadence.Data;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

public class LrFinderTests
{
    /// <summary>Synchronous progress (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Collect<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }

    /// <summary>
    /// Least squares with two batches of 4 rows, not shuffled. In each batch the two columns are orthogonal with mean
    /// squares 1 and 9, so every batch's Hessian of the mean squared error is exactly 2·diag(1, 9): curvature L = 18,
    /// and SGD without momentum diverges above 2/L = 1/9. The batches' targets pull the stiff coordinate to 2/3 and
    /// 4/3 of its common optimum, so the sweep keeps it excited: it cannot sit exactly at the optimum, where an
    /// unstable direction would take many steps to grow out of rounding noise.
    /// </summary>
    private static Learner LeastSquares(out TorchSharp.Modules.Linear layer)
    {
        TorchRuntime.Configure(threads: 1);
        float[] x = [1, 3, 1, -3, -1, 3, -1, -3, 1, 3, 1, -3, -1, 3, -1, -3];
        // X·[2, −1] = [−1, 5, −5, 1] per batch, ± [1, −1, 1, −1] (the stiff column / 3), + 1 (orthogonal to both columns).
        long[] y = [1, 5, -3, 1, -1, 7, -5, 3];
        var features = tensor(x).reshape(8, 2);
        var targets = tensor(y);
        var set = new InMemoryDataset(features, targets, 1);
        var data = new DataLoaders(new Cadence.Data.DataLoader(set, 4), new Cadence.Data.DataLoader(set, 4));
        layer = nn.Linear(2, 1, hasBias: false);
        using (no_grad()) layer.weight!.zero_();
        return new Learner(layer, data, loss: (o, t) => nn.functional.mse_loss(o.squeeze(-1), t.to_type(ScalarType.Float32)),
            optimizer: OptimizerFactory.Sgd(momentum: 0), metrics: []);
    }

    [Fact]
    public void Convex_problem_stops_soon_after_the_divergence_threshold_and_valley_is_stable()
    {
        using var learn = LeastSquares(out var layer);
        var r = learn.LrFind();
        const double threshold = 2.0 / 18;
        Assert.True(r.StoppedEarly, r.Reason);
        Assert.Contains("exceeded 4 × the best", r.Reason, StringComparison.Ordinal);
        double last = r.Lrs[^1];
        Assert.True(last > threshold && last < 3 * threshold, $"stopped at lr {last}, the threshold is {threshold}");
        var valley = r.Valley!;
        Assert.True(valley.Lr is > 1e-4 and < threshold, $"valley {valley.Lr} should be inside the stable range (0, {threshold})");
        Assert.All(r.Suggestions.Values, s => Assert.True(s.Lr < threshold, $"{s.Method} {s.Lr}"));
        Assert.Equal(new float[] { 0, 0 }, layer.weight!.data<float>().ToArray());   // the model is back at w = 0
    }

    [Fact]
    public void Fastai2_sweep_is_exponential_over_numIt_batches_across_epochs()
    {
        using var learn = Synth.Learner();   // 8 batches an epoch: 100 batches need 13 epochs
        var r = learn.LrFind(stopDiv: false);
        Assert.Equal(100, r.Lrs.Count);
        Assert.False(r.StoppedEarly);
        Assert.Equal(1e-7, r.Lrs[0]);
        Assert.Equal(1e-3, r.Lrs[50], 1e-15);
        Assert.Equal(8.318, r.Lrs[99], 3);
        for (int t = 0; t < 100; t++) Assert.Equal(1e-7 * Math.Pow(1e8, t / 100.0), r.Lrs[t], 1e-12 * r.Lrs[t]);
        // The smoothed loss is the debiased EMA of the raw losses (β = 0.98).
        double avg = 0;
        for (int t = 0; t < 100; t++)
        {
            avg = 0.98 * avg + 0.02 * r.Losses[t];
            Assert.Equal(avg / (1 - Math.Pow(0.98, t + 1)), r.Smoothed[t], 1e-12 * r.Smoothed[t]);
        }
        Assert.Equal(10, r.WindowStart);
        Assert.Equal(85, r.WindowCount);   // [10 : −5]
        Assert.Equal(4, r.Suggestions.Count);
        Assert.Equal(LrSuggestions.Valley(r.Lrs.Skip(10).Take(85).ToArray(), r.Smoothed.Skip(10).Take(85).ToArray())!.Lr, r.Valley!.Lr);
    }

    [Fact]
    public void NumIt_below_six_is_raised_to_six()
    {
        using var learn = Synth.Learner();
        var r = learn.LrFind(numIt: 2, stopDiv: false);
        Assert.Equal(6, r.Lrs.Count);
        // [0 : −5] of 6 points leaves 1: minimum and valley (Python's lrs[−1]) answer, steep and slide cannot.
        Assert.Equal([LrSuggestion.Minimum, LrSuggestion.Valley], r.Suggestions.Keys.Order());
        Assert.Equal(r.Lrs[0], r.Valley!.Lr);
    }

    [Fact]
    public void Linear_sweeps_of_both_modes()
    {
        using var learn = Synth.Learner(batchSize: 26);   // 256 / 26: 10 batches an epoch
        var v2 = learn.LrFind(startLr: 1e-3, endLr: 1, numIt: 20, stopDiv: false, linear: true);
        for (int t = 0; t < 20; t++) Assert.Equal(1e-3 + t / 20.0 * (1 - 1e-3), v2.Lrs[t], 1e-15);
        var v07 = learn.LrFind(endLr: 10, stopDiv: false, linear: true, mode: LrFindMode.FastAi07);
        Assert.Equal(10, v07.Lrs.Count);   // one epoch
        double[] expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];   // §1.7: 1e-5·(1e6/10)·(k − 1)
        for (int k = 0; k < 10; k++) Assert.Equal(expected[k], v07.Lrs[k], 1e-9);
    }

    [Fact]
    public void Fastai07_sweep_is_one_epoch_from_1e5_and_never_reaches_the_end()
    {
        using var learn = Synth.Learner(batchSize: 26);
        var r = learn.LrFind(stopDiv: false, mode: LrFindMode.FastAi07, numIt: 500);
        double[] expected = [1e-5, 3.981e-5, 1.585e-4, 6.31e-4, 2.512e-3, 0.01, 0.03981, 0.1585, 0.631, 2.512];
        Assert.Equal(10, r.Lrs.Count);
        for (int k = 0; k < 10; k++) Assert.Equal(expected[k], r.Lrs[k], 4e-4 * expected[k]);
        Assert.Contains("one epoch", r.Reason, StringComparison.Ordinal);
        Assert.Equal(10, r.WindowStart);
        Assert.Equal(0, r.WindowCount);   // 0.7's plot drops the first 10 and the last 6
        Assert.Empty(r.Suggestions);
    }

    /// <summary>A loss whose value is scripted per call (the gradient is the real one times zero).</summary>
    private static LossFunction Scripted(Func<int, double> value)
    {
        int calls = 0;
        return (o, t) => nn.functional.cross_entropy(o, t) * 0 + value(calls++);
    }

    [Fact]
    public void Fastai07_tracks_the_best_only_from_batch_12_and_does_not_record_the_stopping_batch()
    {
        // 1, 1, 1, then 100 …: the smoothed loss passes 4× its early value at batch 4. Batch 16 jumps to 1e4.
        static double Script(int call) => call < 3 ? 1 : call == 15 ? 1e4 : 100;
        var (model, groups) = Synth.Model();
        using var data = Synth.Data(train: 640);   // 20 batches an epoch
        using var learn = new Learner(model, data, loss: Scripted(Script), layerGroups: groups);
        var v07 = learn.LrFind(mode: LrFindMode.FastAi07);
        Assert.True(v07.StoppedEarly);
        Assert.Equal(15, v07.Lrs.Count);           // batch 16 stopped the run and is not recorded
        Assert.Equal(16, v07.Batches);
        Assert.Contains("not recorded", v07.Reason, StringComparison.Ordinal);
        Assert.True(v07.Smoothed[3] > 4 * v07.Smoothed[2]);   // v2 would have stopped here

        using var learn2 = new Learner(Synth.Model().Model, data, loss: Scripted(Script));
        var v2 = learn2.LrFind();
        Assert.True(v2.StoppedEarly);
        Assert.Equal(4, v2.Lrs.Count);             // best from batch 1; the stopping batch is recorded
        Assert.Equal(4, v2.Batches);
    }

    [Fact]
    public void NaN_loss_neither_crashes_nor_poisons_the_suggestions()
    {
        static LossFunction NanFrom(int batch)
        {
            int calls = 0;
            return (o, t) => calls++ >= batch ? nn.functional.cross_entropy(o, t) * double.NaN : nn.functional.cross_entropy(o, t);
        }
        var (model, groups) = Synth.Model();
        using var data = Synth.Data();
        using (var learn = new Learner(model, data, loss: NanFrom(60), layerGroups: groups))
        {
            var before = model.parameters().Select(p => p.detach().clone()).ToArray();
            var v2 = learn.LrFind();
            Assert.Equal(100, v2.Lrs.Count);       // fastai v2: NaN does not stop the search
            Assert.False(v2.StoppedEarly);
            Assert.True(double.IsNaN(v2.Smoothed[60]) && double.IsNaN(v2.Smoothed[^1]));
            Assert.Equal(50, v2.WindowCount);      // points 10 … 59, cut at the first NaN
            Assert.Contains("NaN at batch 61", v2.Reason, StringComparison.Ordinal);
            Assert.Equal(4, v2.Suggestions.Count);
            Assert.All(v2.Suggestions.Values, s => Assert.True(double.IsFinite(s.Lr) && s.Lr <= v2.Lrs[59] && double.IsFinite(s.PointLoss)));
            var after = model.parameters().ToArray();
            for (int i = 0; i < before.Length; i++) Assert.Equal(Bits(before[i]), Bits(after[i]));
        }
        using var data20 = Synth.Data(train: 640);
        using (var learn = new Learner(Synth.Model().Model, data20, loss: NanFrom(14)))
        {
            var v07 = learn.LrFind(mode: LrFindMode.FastAi07);
            Assert.True(v07.StoppedEarly);
            Assert.Equal(14, v07.Lrs.Count);       // 0.7: NaN stops the run, unrecorded
            Assert.Contains("NaN", v07.Reason, StringComparison.Ordinal);
        }
    }

    private static byte[] Bits(Tensor t) => t.cpu().bytes.ToArray();

    public static TheoryData<string> Optimizers => new() { "sgd", "adamw" };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Weights_buffers_gradients_and_optimizer_state_are_restored_bit_for_bit(string opt)
    {
        TorchRuntime.Configure(seed: 3, threads: 1);
        var l1 = nn.Linear(Synth.Features, 16);
        var bn = nn.BatchNorm1d(16);
        var l2 = nn.Linear(16, Synth.Classes);
        var model = nn.Sequential(l1, bn, nn.ReLU(), l2);
        using var data = Synth.Data();
        OptimizerFactory factory = opt == "sgd" ? OptimizerFactory.Sgd(momentum: 0.9, weightDecay: 1e-4) : OptimizerFactory.AdamW();
        using var learn = new Learner(model, data, optimizer: factory,
            layerGroups: [[.. l1.parameters(), .. bn.parameters()], [.. l2.parameters()]]);
        learn.Fit(0.05, cycleLen: 1, useClrBeta: new UseClrBeta(10, 10, 0.95, 0.85));   // leaves momentum / moments, 0.85-ish β1, grads

        var stateBefore = model.state_dict().ToDictionary(kv => kv.Key, kv => Bits(kv.Value));
        var gradsBefore = model.parameters().Select(p => Bits(p.grad!)).ToArray();
        var optimizerBefore = OptimizerTensors(learn.Optimizer).Select(Bits).ToArray();
        long[] stepsBefore = AdamSteps(learn.Optimizer);
        var hp = learn.HyperParams;
        var hpBefore = Enumerable.Range(0, hp.Groups).Select(g => (hp.GetLr(g), hp.GetMomentum(g))).ToArray();
        var stepsRecorded = learn.Recorder.Steps.ToArray();
        var epochsRecorded = learn.Recorder.Epochs.ToArray();
        (long iteration, double smooth, double valid) = (learn.Iteration, learn.Recorder.SmoothLoss, learn.ValidLoss);
        model.eval();

        var r = learn.LrFind(endLr: 100, groupLrs: [0.1, 1]);
        Assert.True(r.StoppedEarly, r.Reason);   // it really went wild before being restored

        foreach (var (name, tensor) in model.state_dict()) Assert.Equal(stateBefore[name], Bits(tensor));
        Assert.Equal(gradsBefore, model.parameters().Select(p => Bits(p.grad!)).ToArray());
        var optimizerAfter = OptimizerTensors(learn.Optimizer).Select(Bits).ToArray();
        Assert.Equal(optimizerBefore.Length, optimizerAfter.Length);
        Assert.True(optimizerBefore.Length >= model.parameters().Count());
        for (int i = 0; i < optimizerBefore.Length; i++) Assert.Equal(optimizerBefore[i], optimizerAfter[i]);
        Assert.Equal(stepsBefore, AdamSteps(learn.Optimizer));
        Assert.Equal(hpBefore, Enumerable.Range(0, hp.Groups).Select(g => (hp.GetLr(g), hp.GetMomentum(g))).ToArray());
        Assert.False(model.training);
        // The learner's own history and counters are untouched.
        Assert.Equal(stepsRecorded, learn.Recorder.Steps.ToArray());
        Assert.Equal(epochsRecorded, learn.Recorder.Epochs.ToArray());
        Assert.Equal((iteration, smooth, valid), (learn.Iteration, learn.Recorder.SmoothLoss, learn.ValidLoss));
    }

    [Fact]
    public void A_fresh_optimizer_gets_no_momentum_buffers_from_the_sweep()
    {
        using var learn = Synth.Learner(opt: OptimizerFactory.Sgd(momentum: 0.9));
        learn.LrFind(numIt: 20);
        Assert.Empty(OptimizerTensors(learn.Optimizer));   // SGD creates its buffers lazily; restored to none
        Assert.All(learn.Model.parameters(), p => Assert.Null(p.grad));
    }

    private static List<Tensor> OptimizerTensors(optim.Optimizer optimizer)
    {
        var list = new List<Tensor>();
        foreach (var s in ((OptimizerHelper)optimizer).state_dict().State)
        {
            switch (s)
            {
                case SGD.State sgd: if (sgd.momentum_buffer is not null) list.Add(sgd.momentum_buffer); break;
                case AdamW.State adam: list.Add(adam.exp_avg); list.Add(adam.exp_avg_sq); break;
                default: throw new InvalidOperationException(s.GetType().Name);
            }
        }
        return list;
    }

    private static long[] AdamSteps(optim.Optimizer optimizer) =>
        ((OptimizerHelper)optimizer).state_dict().State.OfType<AdamW.State>().Select(s => s.step).ToArray();

    [Fact]
    public void Differential_lrs_keep_their_ratios_and_frozen_groups_are_left_alone()
    {
        using var learn = Synth.Learner();
        learn.FreezeTo(1);
        double frozenLr = learn.HyperParams.GetLr(0);
        var seen = new List<double[]>();
        var progress = new Collect<LrFindProgress>(p => seen.Add(Enumerable.Range(0, 3).Select(learn.HyperParams.GetLr).ToArray()));
        var r = learn.LrFind(numIt: 30, stopDiv: false, groupLrs: [1e-4, 1e-3, 1e-2], progress: progress);
        Assert.Equal(30, seen.Count);
        for (int t = 0; t < 30; t++)
        {
            Assert.Equal(frozenLr, seen[t][0]);
            Assert.Equal(r.Lrs[t], seen[t][2]);                     // the last group sweeps start → end
            Assert.Equal(0.1, seen[t][1] / seen[t][2], 1e-12);      // the others keep their ratio to it
        }
        Assert.Equal(1e-7, r.Lrs[0]);
        Assert.Equal(frozenLr, learn.HyperParams.GetLr(0));
    }

    [Fact]
    public void Invalid_options_are_named_with_their_range()
    {
        using var learn = Synth.Learner();
        var e = Assert.Throws<ArgumentException>(() => learn.LrFind(startLr: -1, numIt: 0, groupLrs: [1, 2]));
        Assert.Contains("startLr: must be a positive finite number, got -1", e.Message, StringComparison.Ordinal);
        Assert.Contains("numIt: must be ≥ 1, got 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("groupLrs: give one lr per layer group (3), got 2", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => learn.LrFind(startLr: 1, endLr: 0.5));
        Assert.Contains("endLr: must be a finite number above the start lr (1), got 0.5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancellation_restores_the_model_first()
    {
        using var learn = Synth.Learner();
        var before = learn.Model.parameters().Select(p => p.detach().clone()).ToArray();
        using var cts = new CancellationTokenSource();
        var progress = new Collect<LrFindProgress>(p => { if (p.Iteration == 5) cts.Cancel(); });
        Assert.Throws<OperationCanceledException>(() => learn.LrFind(progress: progress, cancellationToken: cts.Token));
        var after = learn.Model.parameters().ToArray();
        for (int i = 0; i < before.Length; i++) Assert.Equal(Bits(before[i]), Bits(after[i]));
    }

    [Fact]
    public void Lr_auto_runs_the_range_test_and_says_which_lr_it_chose_and_why()
    {
        using var learn = Synth.Learner();
        double untrained = learn.Validate().Loss;
        var messages = new List<string>();
        var said = new Collect<string>(messages.Add);
        Assert.Equal(0.05, learn.Resolve(0.05, said));
        Assert.Empty(messages);   // a number needs no range test

        var result = learn.Fit(Lr.Auto, cycleLen: 2, useClr: new UseClr(10, 3), messages: said);
        var message = Assert.Single(messages);
        Assert.StartsWith("lr auto: ", message, StringComparison.Ordinal);
        Assert.Contains("valley suggestion of an LR range test over", message, StringComparison.Ordinal);
        Assert.Contains("longest descent", message, StringComparison.Ordinal);
        double chosen = double.Parse(message["lr auto: ".Length..message.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
        double peak = learn.Recorder.Steps.Max(s => s.Lr[2]);
        Assert.Equal(chosen, peak, 5e-4 * chosen);   // use_clr peaks at the chosen lr
        Assert.Equal(2, result.Epochs);
        Assert.True(result.ValidLoss < untrained, $"valid loss {result.ValidLoss}, untrained {untrained}");
    }

    [Fact]
    public void FitOneCycle_with_lr_auto_peaks_at_the_chosen_lr()
    {
        using var learn = Synth.Learner();
        var messages = new List<string>();
        learn.FitOneCycle(2, Lr.Auto, messages: new Collect<string>(messages.Add));
        var message = Assert.Single(messages);
        double chosen = double.Parse(message["lr auto: ".Length..message.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(chosen, learn.Recorder.Steps.Max(s => s.Lr[0]), 5e-4 * chosen);   // every group, lr_max = the suggestion
        Assert.Equal(16, learn.Recorder.Steps.Count);
    }

    [Fact]
    public void Lr_auto_explains_when_the_curve_is_too_short()
    {
        using var data = Synth.Data();
        using var learn = new Learner(Synth.Model().Model, data, loss: Scripted(call => call < 3 ? 1 : 100));   // diverges at batch 4
        var e = Assert.Throws<InvalidOperationException>(() => learn.Resolve(Lr.Auto));
        Assert.Contains("too few for the valley suggestion", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => (Lr)double.NaN);
    }
}
