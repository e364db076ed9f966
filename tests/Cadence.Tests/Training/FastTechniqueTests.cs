using System.Text.Json;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

/// <summary>Label smoothing and Nesterov SGD against PyTorch's values (Fixtures/fast_techniques.json), lr multipliers, large-batch scaling.</summary>
public sealed class FastTechniqueTests
{
    private static readonly JsonElement Fixture =
        JsonDocument.Parse(File.ReadAllText(Repo.File("tests", "Cadence.Tests", "Fixtures", "fast_techniques.json"))).RootElement;

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    [Fact]
    public void Label_smoothing_matches_pytorch_loss_and_gradient()
    {
        TorchRuntime.Configure(threads: 1);
        var ls = Fixture.GetProperty("label_smoothing");
        var shape = ls.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
        var target = tensor(ls.GetProperty("target").EnumerateArray().Select(v => v.GetInt64()).ToArray());
        foreach (var c in ls.GetProperty("cases").EnumerateArray())
        {
            double eps = c.GetProperty("eps").GetDouble();
            using var logits = tensor(Floats(ls.GetProperty("logits"))).reshape(shape).requires_grad_(true);
            using var loss = Losses.CrossEntropy(eps)(logits, target);
            loss.backward();
            Assert.Equal(c.GetProperty("loss").GetDouble(), loss.item<float>(), 5e-6);
            var grad = logits.grad!.flatten().data<float>().ToArray();
            var expected = Floats(c.GetProperty("grad"));
            for (int i = 0; i < grad.Length; i++) Assert.Equal(expected[i], grad[i], 1e-6f);
        }
    }

    [Fact]
    public void Label_smoothing_is_the_mixture_of_nll_and_the_mean_over_classes()
    {
        using var logits = tensor(new float[] { 2, -1, 0.5f, 0, 1, 3 }).reshape(2, 3);
        using var target = tensor(new long[] { 0, 2 });
        using var logp = nn.functional.log_softmax(logits, 1);
        double nll = -(logp[0, 0].item<float>() + logp[1, 2].item<float>()) / 2;
        double uniform = -logp.mean().item<float>();
        using var loss = Losses.CrossEntropy(0.3)(logits, target);
        Assert.Equal(0.7 * nll + 0.3 * uniform, loss.item<float>(), 5e-6);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(1));
        Assert.StartsWith("label smoothing must be in [0, 1)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesterov_sgd_takes_pytorchs_steps_with_the_lr_and_momentum_changed_every_step()
    {
        TorchRuntime.Configure(threads: 1);
        var fx = Fixture.GetProperty("sgd_nesterov");
        var p = new Parameter(tensor(Floats(fx.GetProperty("start"))));
        using var opt = (OptimizerFactory.Sgd(momentum: 0.9, nesterov: true, weightDecay: fx.GetProperty("weight_decay").GetDouble())).Create([[p]]);
        var writer = new HyperParamWriter(opt);
        foreach (var step in fx.GetProperty("steps").EnumerateArray())
        {
            writer.Write([step.GetProperty("lr").GetDouble()], [step.GetProperty("momentum").GetDouble()], []);
            p.grad = tensor(Floats(step.GetProperty("grad")));
            opt.step();
            var expected = Floats(step.GetProperty("param"));
            var actual = p.detach().data<float>().ToArray();
            for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6f);
        }
    }

    /// <summary>A conv → BN → linear model with two layer groups.</summary>
    private static (nn.Module<Tensor, Tensor> Model, IReadOnlyList<IReadOnlyList<Parameter>> Groups, BatchNorm1d Bn) BnModel()
    {
        TorchRuntime.Configure(seed: 3, threads: 1);
        var l1 = nn.Linear(Synth.Features, 16);
        var bn = nn.BatchNorm1d(16);
        var l2 = nn.Linear(16, Synth.Classes);
        var model = nn.Sequential(l1, bn, nn.ReLU(), l2);
        return (model, [[.. l1.parameters(), .. bn.parameters()], [.. l2.parameters()]], bn);
    }

    private sealed class GroupLrLog : Callback
    {
        public List<double[]> Lr { get; } = [];
        public override void BeforeStep(Learner learner)
        {
            var w = learner.HyperParams;
            Lr.Add(Enumerable.Range(0, learner.Optimizer.ParamGroups.Count()).Select(w.GetOptimizerGroupLr).ToArray());
        }
    }

    [Fact]
    public void An_lr_multiplier_scales_its_parameters_lr_at_every_step_and_the_schedule_drives_every_group()
    {
        var (model, groups, bn) = BnModel();
        var biases = ParameterKinds.BatchNormBiases(model);
        Assert.Single(biases);
        Assert.Equal(bn.bias!.Handle, biases.Single().Handle);
        var factory = OptimizerFactory.Sgd(0.9) with { LrMultipliers = [new LrMultiplier("batchnorm-bias", biases, 64)] };
        var layout = factory.Groups(groups);
        // Layer group 0: its weights and the BN weight, then the BN bias; layer group 1: the head.
        Assert.Equal([(0, 1.0, 3, (string?)null), (0, 64.0, 1, "batchnorm-bias"), (1, 1.0, 2, null)],
            layout.Select(g => (g.LayerGroup, g.LrMultiplier, g.Parameters.Count, g.Kind)));

        var log = new GroupLrLog();
        using var learn = new Learner(model, Synth.Data(), optimizer: factory, layerGroups: groups, callbacks: [log]);
        var schedule = Torch.OneCycle([0.01, 0.05], 2 * learn.Data.Train.BatchCount, linear: true);
        learn.Fit(schedule, 2);
        Assert.Equal(2 * learn.Data.Train.BatchCount, log.Lr.Count);
        for (int t = 0; t < log.Lr.Count; t++)
        {
            var hp = schedule.At(t);
            Assert.Equal([hp.Lr[0], hp.Lr[0] * 64, hp.Lr[1]], log.Lr[t]);
            Assert.Equal(hp.Lr, learn.Recorder.Steps[t].Lr);   // the recorder sees the schedule's value per layer group
            Assert.Equal(hp.Momentum!, learn.Recorder.Steps[t].Momentum);
        }
        Assert.Equal(2, learn.HyperParams.Groups);
    }

    [Fact]
    public void With_plain_sgd_the_multiplied_parameter_moves_factor_times_as_far()
    {
        var (model, groups, bn) = BnModel();
        var factory = OptimizerFactory.Sgd(momentum: 0) with { LrMultipliers = [new LrMultiplier("batchnorm-bias", ParameterKinds.BatchNormBiases(model), 8)] };
        using var learn = new Learner(model, Synth.Data(batchSize: 256), optimizer: factory, layerGroups: groups);
        var before = bn.bias!.detach().clone();
        var grad = new Tensor[1];
        learn.Add(new GradProbe(bn.bias, grad));
        learn.Fit(Torch.Constant([0.01]), 1);   // one batch: one step
        var moved = (bn.bias.detach() - before).data<float>().ToArray();
        var expected = (grad[0] * -0.08).data<float>().ToArray();
        for (int i = 0; i < moved.Length; i++) Assert.Equal(expected[i], moved[i], 1e-6f);
    }

    private sealed class GradProbe(Parameter p, Tensor[] grad) : Callback
    {
        public override void BeforeStep(Learner learner) => grad[0] = p.grad!.clone().DetachFromDisposeScope();
    }

    [Fact]
    public void Without_multipliers_the_optimizer_has_one_group_per_layer_group_as_before()
    {
        var (_, groups, _) = BnModel();
        var layout = OptimizerFactory.Sgd().Groups(groups);
        Assert.Equal([0, 1], layout.Select(g => g.LayerGroup));
        Assert.All(layout, g => Assert.Equal(1.0, g.LrMultiplier));
        Assert.Equal(groups[0].Count, layout[0].Parameters.Count);
    }

    [Fact]
    public void Bad_multipliers_and_layouts_are_refused_with_their_name()
    {
        var (model, groups, _) = BnModel();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new LrMultiplier("bn", ParameterKinds.BatchNormBiases(model), 0));
        Assert.StartsWith("lr multiplier 'bn': must be a finite number > 0", e.Message, StringComparison.Ordinal);
        using var opt = OptimizerFactory.Sgd().Create(groups);
        var bad = Assert.Throws<ArgumentException>(() => new HyperParamWriter(opt, [new OptimizerGroup(1, 1, groups[1], null), new OptimizerGroup(0, 1, groups[0], null)]));
        Assert.StartsWith("optimizer group 0: layer groups must come in order", bad.Message, StringComparison.Ordinal);
    }
}
