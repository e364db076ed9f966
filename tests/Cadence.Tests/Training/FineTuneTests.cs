using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

public sealed class FineTuneTests
{
    /// <summary>Every step: the lr each group's optimizer options hold, and which groups are frozen; a snapshot of the weights after each fit.</summary>
    private sealed class Watch(Func<Dictionary<string, Tensor>> snapshot) : Callback
    {
        public readonly List<(double[] Lr, bool[] Frozen)> Steps = [];
        public readonly List<Dictionary<string, Tensor>> AfterFits = [];

        public override void BeforeStep(Learner learner)
        {
            var w = learner.HyperParams;
            Steps.Add(([.. Enumerable.Range(0, w.Groups).Select(w.GetLr)], [.. Enumerable.Range(0, w.Groups).Select(learner.IsFrozen)]));
        }

        public override void AfterFit(Learner learner) => AfterFits.Add(snapshot());
    }

    /// <summary>8-16-16-4 with BatchNorm after each hidden layer; groups [l0, bn0], [l1, bn1], [l2].</summary>
    private static (Learner Learner, Watch Watch, Dictionary<string, Tensor> Before) Make(bool trainBn = true)
    {
        var data = Synth.Data();
        TorchRuntime.Configure(seed: 1, threads: 1);
        var l0 = nn.Linear(Synth.Features, 16);
        var bn0 = nn.BatchNorm1d(16);
        var l1 = nn.Linear(16, 16);
        var bn1 = nn.BatchNorm1d(16);
        var l2 = nn.Linear(16, Synth.Classes);
        var model = nn.Sequential(("l0", l0), ("bn0", bn0), ("r0", nn.ReLU()), ("l1", l1), ("bn1", bn1), ("r1", nn.ReLU()), ("l2", l2));
        // BatchNorm starts at weight 1, bias 0: give it something to move away from.
        IReadOnlyList<IReadOnlyList<Parameter>> groups = [[.. l0.parameters(), .. bn0.parameters()], [.. l1.parameters(), .. bn1.parameters()], [.. l2.parameters()]];
        Dictionary<string, Tensor> Snapshot() => model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var watch = new Watch(Snapshot);
        var learn = new Learner(model, data, layerGroups: groups, callbacks: [watch]) { TrainBn = trainBn };
        return (learn, watch, Snapshot());
    }

    private static bool Same(Tensor a, Tensor b) => a.equal(b).all().item<bool>();

    [Fact]
    public void Runs_fastai_s_two_phases_with_batchnorm_training_in_the_frozen_groups()
    {
        var (learn, watch, before) = Make();
        using var _ = learn;
        var result = learn.FineTune(epochs: 2, baseLr: 4e-3);
        long batches = learn.Data.Train.BatchCount;
        var plan = result.Plan;
        Assert.Equal(FineTune.Plan(3, 2, batches, 4e-3).Trace().Lr, plan.Trace().Lr);
        Assert.Equal(1, result.Frozen!.Epochs);
        Assert.Equal(2, result.Unfrozen!.Epochs);
        Assert.Equal(3 * batches, watch.Steps.Count);

        // Phase 1: groups 0 and 1 frozen, but they hold BatchNorm, so the schedule is written into every group (fastai's
        // ParamScheduler does the same) — slice(4e-3) gives 4e-4, 4e-4, 4e-3 at the peak.
        for (int t = 0; t < batches; t++)
        {
            Assert.Equal([true, true, false], watch.Steps[t].Frozen);
            Assert.Equal(plan.Frozen!.At(t).Lr, watch.Steps[t].Lr);
        }
        for (int t = 0; t < 2 * batches; t++)
        {
            Assert.Equal([false, false, false], watch.Steps[(int)batches + t].Frozen);
            Assert.Equal(plan.Unfrozen.At(t).Lr, watch.Steps[(int)batches + t].Lr);
        }

        var afterFrozen = watch.AfterFits[0];
        Assert.True(Same(before["l0.weight"], afterFrozen["l0.weight"]), "a frozen linear layer moved");
        Assert.True(Same(before["l1.bias"], afterFrozen["l1.bias"]), "a frozen linear layer moved");
        Assert.False(Same(before["bn0.weight"], afterFrozen["bn0.weight"]), "BatchNorm of a frozen group did not train (train_bn)");
        Assert.False(Same(before["bn1.bias"], afterFrozen["bn1.bias"]), "BatchNorm of a frozen group did not train (train_bn)");
        Assert.False(Same(before["l2.weight"], afterFrozen["l2.weight"]), "the head did not train");
        var end = watch.AfterFits[1];
        Assert.False(Same(afterFrozen["l0.weight"], end["l0.weight"]), "the unfrozen body did not train");
        Assert.True(learn.LayerGroups.SelectMany(g => g).All(p => p.requires_grad));
    }

    /// <summary>Before every step: how many parameters have an SGD momentum buffer.</summary>
    private sealed class Buffers : Callback
    {
        public readonly List<int> Counts = [];

        public override void BeforeStep(Learner learner) =>
            Counts.Add(((OptimizerHelper)learner.Optimizer).state_dict().State.OfType<SGD.State>().Count(s => s.momentum_buffer is not null));
    }

    [Fact]
    public void Each_phase_starts_with_a_new_optimizer_state_as_fastai_s_freeze_and_unfreeze_clear_it()
    {
        var (learn, _, _) = Make();
        using var _learn = learn;
        var buffers = new Buffers();
        learn.Add(buffers);
        learn.FineTune(epochs: 1);
        int batches = (int)learn.Data.Train.BatchCount;
        Assert.Equal(2 * batches, buffers.Counts.Count);
        // Frozen: the head (l2) and the frozen groups' BatchNorm (bn0, bn1) train, two tensors each.
        Assert.Equal([0, .. Enumerable.Repeat(6, batches - 1)], buffers.Counts.Take(batches));
        // Unfrozen: no buffer is carried over from the frozen phase; then all ten tensors have one.
        Assert.Equal([0, .. Enumerable.Repeat(10, batches - 1)], buffers.Counts.Skip(batches));
    }

    [Fact]
    public void The_optimizer_cannot_be_reset_while_fitting_and_a_reset_makes_a_new_one()
    {
        var (learn, _, _) = Make();
        using var _learn = learn;
        var first = learn.Optimizer;
        learn.ResetOptimizer();
        Assert.NotSame(first, learn.Optimizer);
        learn.Add(new ResetInFit());
        Assert.Throws<InvalidOperationException>(() => learn.Fit(0.01));
    }

    private sealed class ResetInFit : Callback
    {
        public override void BeforeStep(Learner learner) => learner.ResetOptimizer();
    }

    [Fact]
    public void Without_train_bn_frozen_groups_stay_put_and_are_not_written()
    {
        var (learn, watch, before) = Make(trainBn: false);
        using var _ = learn;
        double lr0 = learn.HyperParams.GetLr(0);
        learn.FineTune(epochs: 1);
        long batches = learn.Data.Train.BatchCount;
        for (int t = 0; t < batches; t++) Assert.Equal(lr0, watch.Steps[t].Lr[0]);
        Assert.True(Same(before["bn0.weight"], watch.AfterFits[0]["bn0.weight"]));
        Assert.True(Same(before["l1.weight"], watch.AfterFits[0]["l1.weight"]));
    }

    [Fact]
    public void Freeze_epochs_zero_skips_the_frozen_phase_and_one_group_is_refused()
    {
        var (learn, watch, _) = Make();
        using (learn)
        {
            var result = learn.FineTune(epochs: 1, freezeEpochs: 0);
            Assert.Null(result.Frozen);
            Assert.Equal(learn.Data.Train.BatchCount, watch.Steps.Count);
            Assert.Equal(result.Plan.Unfrozen.At(0).Lr, watch.Steps[0].Lr);
        }
        using var single = Synth.Learner(oneGroup: true);
        var e = Assert.Throws<ScheduleValidationException>(() => single.FineTune(1));
        Assert.Equal("groups", e.Errors.Single().Parameter);
    }
}
