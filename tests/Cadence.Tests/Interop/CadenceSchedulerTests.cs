using Cadence.TestSupport;
using Cadence.Interop;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Tests.Interop;

public class CadenceSchedulerTests
{
    private static double[] GroupLr(optim.Optimizer o) => o.ParamGroups.Select(g => g.LearningRate).ToArray();

    private static double[] GroupMomentum(optim.Optimizer o)
    {
        var w = new HyperParamWriter(o);
        return Enumerable.Range(0, w.Groups).Select(w.GetMomentum).ToArray();
    }

    private static double Rel(double a, double b) => a == b ? 0 : Math.Abs(a - b) / Math.Max(Math.Abs(a), Math.Abs(b));

    [Fact]
    public void Sgd_parameter_updates_use_exactly_the_scheduled_lr_and_momentum_of_every_group()
    {
        using var toy = new Toy(layers: 3);
        using var optimizer = toy.Sgd(momentum: 0.5);
        var schedule = Torch.OneCycle([1e-3, 1e-2, 5e-2], totalSteps: 12, baseMomentum: [0.85, 0.8, 0.7], maxMomentum: [0.95, 0.9, 0.99]);
        var scheduler = new CadenceScheduler(optimizer, schedule);
        // The reference update, computed here from the schedule's values alone: buf = m·buf + g (g at the first
        // step), p ← p − lr·buf. If the optimizer used any other lr or momentum, the parameters would drift apart.
        var buffers = new Dictionary<Parameter, Tensor>();
        for (int t = 0; t < 12; t++)
        {
            Assert.Equal(t, scheduler.Position);
            var hp = schedule.At(t);
            Assert.Equal(hp.Lr, GroupLr(optimizer));
            Assert.Equal(hp.Momentum!, GroupMomentum(optimizer));
            Assert.Equal(hp.Lr, scheduler.get_last_lr());
            toy.Backward(optimizer);
            var expected = new List<(Parameter P, Tensor Value)>();
            for (int g = 0; g < toy.Groups.Length; g++)
            {
                foreach (var p in toy.Groups[g])
                {
                    var grad = p.grad!.detach().clone();
                    var buf = buffers.TryGetValue(p, out var b) ? b.mul(hp.Momentum![g]).add(grad) : grad;
                    buffers[p] = buf;
                    expected.Add((p, p.detach().clone().sub(buf.mul(hp.Lr[g]))));
                }
            }
            optimizer.step();
            foreach (var (p, value) in expected)
            {
                double err = (p.detach() - value).abs().max().item<double>();
                double scale = value.abs().max().item<double>();
                Assert.True(err <= 1e-13 * Math.Max(scale, 1), $"step {t}: parameter differs from the scheduled update by {err}");
            }
            scheduler.step();
        }
        Assert.Equal(12, scheduler.Position);
        foreach (var b in buffers.Values) b.Dispose();
    }

    [Fact]
    public void AdamW_groups_get_the_broadcast_lr_and_beta1_at_every_step_of_a_real_loop()
    {
        using var toy = new Toy(layers: 3);
        using var optimizer = toy.AdamW();
        var schedule = Torch.Cyclic([1e-4], [1e-2], stepSizeUp: 3, stepSizeDown: 2, baseMomentum: [0.8], maxMomentum: [0.95]);
        optim.lr_scheduler.LRScheduler scheduler = new CadenceScheduler(optimizer, schedule);
        var before = toy.Parameters.Select(p => p.detach().clone()).ToArray();
        for (int t = 0; t < 11; t++)
        {
            var hp = schedule.At(t);
            Assert.Equal(Enumerable.Repeat(hp.Lr[0], 3), GroupLr(optimizer));
            Assert.Equal(Enumerable.Repeat(hp.Momentum![0], 3), GroupMomentum(optimizer));
            Assert.All(optimizer.ParamGroups, g => Assert.Equal(0.99, ((AdamW.Options)((ParamGroup)g).Options).beta2));
            toy.Backward(optimizer);
            optimizer.step();
            scheduler.step();
        }
        Assert.All(toy.Parameters.Zip(before), pair => Assert.False(pair.First.detach().eq(pair.Second).all().item<bool>()));
    }

    [Fact]
    public void Group_counts_must_match_or_the_schedule_has_one_group()
    {
        using var toy = new Toy(layers: 3);
        using var optimizer = toy.Sgd();
        var e = Assert.Throws<ArgumentException>(() => new CadenceScheduler(optimizer, Torch.Cosine([0.1, 0.01], tMax: 10)));
        Assert.Equal("schedule", e.ParamName);
        Assert.Contains("the schedule has 2 parameter groups but the optimizer has 3", e.Message);
        var three = new CadenceScheduler(optimizer, Torch.Cosine([0.1, 0.01, 0.001], tMax: 10));
        Assert.Equal([0.1, 0.01, 0.001], three.get_last_lr());
    }

    [Fact]
    public void Momentum_schedule_on_an_optimizer_without_momentum_is_refused_by_name()
    {
        using var toy = new Toy(layers: 2);
        using var optimizer = optim.Adagrad(toy.Parameters, lr: 0.1);
        var e = Assert.Throws<ArgumentException>(() => new CadenceScheduler(optimizer, Torch.OneCycle([0.1], 10)));
        Assert.Equal("optimizer", e.ParamName);
        Assert.Contains("PyTorch OneCycleLR schedules momentum, but parameter group 0 of Adagrad has neither SGD momentum nor Adam/AdamW beta1", e.Message);
        var lrOnly = new CadenceScheduler(optimizer, Torch.OneCycle([0.1], 10, cycleMomentum: false));
        lrOnly.step();
        Assert.Equal(Torch.OneCycle([0.1], 10).At(1).Lr, GroupLr(optimizer));
    }

    [Fact]
    public void Stepping_past_the_end_throws_and_changes_nothing()
    {
        using var toy = new Toy(layers: 1);
        using var optimizer = toy.Sgd();
        var schedule = Torch.OneCycle([0.01], totalSteps: 4);
        var scheduler = new CadenceScheduler(optimizer, schedule);
        for (int i = 0; i < 4; i++) scheduler.step();   // step 4 = total_steps: allowed, as in PyTorch
        var lr = GroupLr(optimizer);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.step());
        Assert.Contains("one-cycle is defined for steps 0…4", e.Message);
        Assert.Equal(4, scheduler.Position);
        Assert.Equal(lr, GroupLr(optimizer));
        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.Step(-1));
        scheduler.Step(2);   // random access, backwards
        Assert.Equal(schedule.At(2).Lr, GroupLr(optimizer));
        Assert.Equal(schedule.At(2).Momentum!, GroupMomentum(optimizer));
        scheduler.step(epoch: 3);   // PyTorch's step(epoch) is the same jump
        Assert.Equal(3, scheduler.Position);
        Assert.Equal(schedule.At(3).Lr, scheduler.get_last_lr());
    }

    public static TheoryData<string> AgreeingCases => new() { "step", "cosine", "one-cycle" };

    /// <summary>Where TorchSharp 0.107's scheduler is right (one group, no momentum), the two agree at every step.</summary>
    [Theory]
    [MemberData(nameof(AgreeingCases))]
    public void Agrees_step_by_step_with_TorchSharp_where_TorchSharp_is_right(string policy)
    {
        using var toy = new Toy(layers: 1);
        using var theirs = toy.Sgd();
        using var ours = toy.Sgd();
        const int n = 30;
        (optim.lr_scheduler.LRScheduler Theirs, Schedule Ours) pair = policy switch
        {
            "step" => (optim.lr_scheduler.StepLR(theirs, step_size: 4, gamma: 0.5), Torch.Step([0.1], stepSize: 4, gamma: 0.5)),
            "cosine" => (optim.lr_scheduler.CosineAnnealingLR(theirs, T_max: 7, eta_min: 0.001), Torch.Cosine([0.1], tMax: 7, etaMin: 0.001)),
            _ => (optim.lr_scheduler.OneCycleLR(theirs, 0.05, total_steps: n, cycle_momentum: false), Torch.OneCycle([0.05], n, cycleMomentum: false)),
        };
        optim.lr_scheduler.LRScheduler cadence = new CadenceScheduler(ours, pair.Ours);
        for (int t = 0; t < n; t++)
        {
            double a = GroupLr(theirs)[0], b = GroupLr(ours)[0];
            // StepLR and CosineAnnealingLR are recursive in TorchSharp (as in PyTorch 1.13): equal up to rounding.
            Assert.True(Rel(a, b) <= 1e-12, $"{policy} step {t}: TorchSharp {a:R}, Cadence {b:R}");
            Assert.True(Rel(pair.Theirs.get_last_lr().Single(), cadence.get_last_lr().Single()) <= 1e-12);
            Assert.Equal(0.9, GroupMomentum(theirs)[0]);
            Assert.Equal(0.9, GroupMomentum(ours)[0]);
            pair.Theirs.step();
            cadence.step();
        }
    }

    private static (double[][] Lr, double[][] Momentum) Drive(optim.Optimizer optimizer, optim.lr_scheduler.LRScheduler scheduler, int steps)
    {
        int groups = optimizer.ParamGroups.Count();
        var lr = Enumerable.Range(0, groups).Select(_ => new double[steps]).ToArray();
        var mom = Enumerable.Range(0, groups).Select(_ => new double[steps]).ToArray();
        for (int t = 0; t < steps; t++)
        {
            var l = GroupLr(optimizer);
            var m = GroupMomentum(optimizer);
            for (int g = 0; g < groups; g++) { lr[g][t] = l[g]; mom[g][t] = m[g]; }
            if (t < steps - 1) scheduler.step();
        }
        return (lr, mom);
    }

    /// <summary>
    /// Measured on TorchSharp 0.107: with several groups OneCycleLR gives some groups after the first values from
    /// another phase position, and its last allowed step (step T) writes lr 0 and momentum 0. Cadence matches PyTorch.
    /// </summary>
    [Fact]
    public void OneCycleLR_with_three_groups_TorchSharp_is_wrong_Cadence_matches_PyTorch()
    {
        var c = Schedules.Tests.Reference.Case("pytorch", "onecycle_3groups_list_max_lr");   // OneCycleLR(max_lr=[0.001, 0.01, 0.1], total_steps=20) on SGD
        var refLr = Schedules.Tests.Reference.Groups(c, "lr")!;
        var refMom = Schedules.Tests.Reference.Groups(c, "momentum")!;
        int n = c.GetProperty("iterations").GetInt32();   // 21: steps 0…20
        using var toy = new Toy(layers: 3);

        using var theirsOpt = toy.Sgd();
        var (tsLr, tsMom) = Drive(theirsOpt, optim.lr_scheduler.OneCycleLR(theirsOpt, [0.001, 0.01, 0.1], total_steps: 20), n);
        // Groups 0 and 2 are right up to step 19; group 1 is right up to step 5, then runs its warm-up backwards
        // (step 6 gets step 4's value, 0.00908… instead of 0.00987…).
        for (int t = 0; t < 20; t++)
        {
            foreach (int g in new[] { 0, 2 })
            {
                Assert.True(Rel(refLr[g][t], tsLr[g][t]) <= 1e-12, $"group {g} step {t}");
                Assert.True(Rel(refMom[g][t], tsMom[g][t]) <= 1e-12, $"group {g} step {t}");
            }
            bool groupOneRight = Rel(refLr[1][t], tsLr[1][t]) <= 1e-12;
            Assert.True(groupOneRight == t <= 5, $"group 1 step {t}: TorchSharp {tsLr[1][t]:R}, PyTorch {refLr[1][t]:R}");
        }
        Assert.True(Rel(tsLr[1][4], tsLr[1][6]) <= 1e-12);
        // Step 20 (one past the last optimizer step of the run; PyTorch allows it): TorchSharp zeroes lr and momentum.
        Assert.Equal([0.0, 0.0], new[] { tsLr[0][20], tsMom[0][20] });
        Assert.Equal([0.0, 0.0], new[] { tsLr[2][20], tsMom[2][20] });
        Assert.True(refLr[0][20] > 0 && refMom[0][20] > 0.9);

        using var oursOpt = toy.Sgd();
        var (lr, mom) = Drive(oursOpt, new CadenceScheduler(oursOpt, Torch.OneCycle([0.001, 0.01, 0.1], 20)), n);
        Schedules.Tests.Reference.AssertClose(refLr, lr, 1e-12, "Cadence lr");
        Schedules.Tests.Reference.AssertClose(refMom, mom, 1e-12, "Cadence momentum");
    }

    [Fact]
    public void OneCycleLR_with_two_groups_TorchSharp_is_wrong_from_the_peak_Cadence_matches_PyTorch()
    {
        var c = Schedules.Tests.Reference.Case("pytorch", "onecycle_2groups_list_momentum");
        var refLr = Schedules.Tests.Reference.Groups(c, "lr")!;
        var refMom = Schedules.Tests.Reference.Groups(c, "momentum")!;
        int n = c.GetProperty("iterations").GetInt32();   // 10: steps 0…9
        using var toy = new Toy(layers: 2);

        using var theirsOpt = toy.Sgd();
        var (tsLr, _) = Drive(theirsOpt, optim.lr_scheduler.OneCycleLR(theirsOpt, [0.02, 0.2], total_steps: 9, pct_start: 0.5,
            base_momentum: [0.8, 0.85], max_momentum: [0.9, 0.99]), n);
        for (int t = 0; t < 9; t++)
        {
            Assert.True(Rel(refLr[0][t], tsLr[0][t]) <= 1e-12, $"group 0 step {t}");
            Assert.True((Rel(refLr[1][t], tsLr[1][t]) <= 1e-12) == t <= 3, $"group 1 step {t}: TorchSharp {tsLr[1][t]:R}, PyTorch {refLr[1][t]:R}");
        }
        Assert.Equal(8e-7, refLr[1][8], 15);
        Assert.True(tsLr[1][8] > 0.04, $"TorchSharp's group 1 ends at {tsLr[1][8]} instead of 8e-7");

        using var oursOpt = toy.Sgd();
        var (lr, mom) = Drive(oursOpt, new CadenceScheduler(oursOpt, Torch.OneCycle([0.02, 0.2], 9, pctStart: 0.5,
            baseMomentum: [0.8, 0.85], maxMomentum: [0.9, 0.99])), n);
        Schedules.Tests.Reference.AssertClose(refLr, lr, 1e-12, "Cadence lr");
        Schedules.Tests.Reference.AssertClose(refMom, mom, 1e-12, "Cadence momentum");
    }

    /// <summary>Measured on TorchSharp 0.107: CyclicLR raises momentum with the lr (to 1.0 at the peak); PyTorch lowers it.</summary>
    [Fact]
    public void CyclicLR_momentum_direction_TorchSharp_is_wrong_Cadence_matches_PyTorch()
    {
        var c = Schedules.Tests.Reference.Case("pytorch", "cyclic_default_mom_up3");   // CyclicLR(base_lr=0.001, max_lr=0.006, step_size_up=3)
        var refLr = Schedules.Tests.Reference.Groups(c, "lr")!;
        var refMom = Schedules.Tests.Reference.Groups(c, "momentum")!;
        int n = c.GetProperty("iterations").GetInt32();
        using var toy = new Toy(layers: 1);

        using var theirsOpt = toy.Sgd();
        var (tsLr, tsMom) = Drive(theirsOpt, optim.lr_scheduler.CyclicLR(theirsOpt, 0.001, 0.006, step_size_up: 3), n);
        Schedules.Tests.Reference.AssertClose(refLr, tsLr, 1e-12, "TorchSharp lr");   // the lr is right
        Assert.Equal(0.8, refMom[0][3], 15);   // PyTorch: momentum at its lowest when the lr peaks
        Assert.Equal(1.0, tsMom[0][3], 15);    // TorchSharp: momentum 1.0 (no decay at all) at the peak
        for (int t = 1; t < n; t++)
            Assert.Equal(Math.Sign(tsLr[0][t] - tsLr[0][t - 1]), Math.Sign(tsMom[0][t] - tsMom[0][t - 1]));

        using var oursOpt = toy.Sgd();
        var (lr, mom) = Drive(oursOpt, new CadenceScheduler(oursOpt, Torch.Cyclic([0.001], [0.006], stepSizeUp: 3)), n);
        Schedules.Tests.Reference.AssertClose(refLr, lr, 1e-12, "Cadence lr");
        Schedules.Tests.Reference.AssertClose(refMom, mom, 1e-12, "Cadence momentum");
    }

    /// <summary>Measured on TorchSharp 0.107: OneCycleLR with momentum cannot start from a saved position.</summary>
    [Fact]
    public void OneCycleLR_with_momentum_cannot_resume_in_TorchSharp_Cadence_can()
    {
        using var toy = new Toy(layers: 1);
        using var optimizer = toy.Sgd();
        var e = Assert.Throws<KeyNotFoundException>(() => optim.lr_scheduler.OneCycleLR(optimizer, 0.01, total_steps: 10, last_epoch: 4));
        Assert.Contains("base_momentum", e.Message);

        var schedule = Torch.OneCycle([0.01], 10);
        var resumed = new CadenceScheduler(optimizer, schedule, position: 5);
        Assert.Equal(schedule.At(5).Lr, GroupLr(optimizer));
        Assert.Equal(schedule.At(5).Momentum!, GroupMomentum(optimizer));
    }

    [Fact]
    public void State_round_trips_through_a_file_and_resumes_exactly()
    {
        var schedule = Torch.OneCycle([0.01, 0.05], totalSteps: 40, threePhase: true);
        using var temp = new TempDirectory("cadence-sched");
        string dir = temp.Path;
        {
            string path = Path.Combine(dir, "scheduler.json");
            using var toy = new Toy(layers: 2);
            using var first = toy.Sgd();
            var a = new CadenceScheduler(first, schedule);
            for (int i = 0; i < 17; i++) a.step();
            a.Save(path);
            Assert.Equal(a.State, CadenceSchedulerState.FromJson(File.ReadAllText(path)));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

            using var second = toy.Sgd(momentum: 0.1);
            var b = new CadenceScheduler(second, schedule);
            b.Load(path);
            Assert.Equal(17, b.Position);
            for (int t = 17; t <= 40; t++)
            {
                Assert.Equal(GroupLr(first), GroupLr(second));
                Assert.Equal(GroupMomentum(first), GroupMomentum(second));
                Assert.Equal(a.get_last_lr(), b.get_last_lr());
                if (t < 40) { a.step(); b.step(); }
            }
        }
    }

    [Fact]
    public void Loading_a_state_of_another_schedule_or_another_file_is_refused()
    {
        using var temp = new TempDirectory("cadence-sched");
        string dir = temp.Path;
        {
            string path = Path.Combine(dir, "s.json");
            using var toy = new Toy(layers: 1);
            using var optimizer = toy.Sgd();
            var saved = new CadenceScheduler(optimizer, Torch.OneCycle([0.01], 10));
            saved.Step(3);
            saved.Save(path);

            var otherLr = new CadenceScheduler(optimizer, Torch.OneCycle([0.02], 10));
            var e = Assert.Throws<InvalidDataException>(() => otherLr.Load(path));
            Assert.Contains("saved from a different 'one-cycle' schedule: at step 3", e.Message);
            Assert.Equal(0, otherLr.Position);

            var otherPolicy = new CadenceScheduler(optimizer, Torch.Cosine([0.01], 10));
            Assert.Contains("saved for policy 'one-cycle' with 1 group(s), but this scheduler follows 'cosine'",
                Assert.Throws<InvalidDataException>(() => otherPolicy.Load(path)).Message);

            File.WriteAllText(path, """{"best": 1.0}""");
            Assert.Contains("is not a Cadence scheduler state", Assert.Throws<InvalidDataException>(() => saved.Load(path)).Message);
            File.WriteAllText(path, "not json");
            Assert.Contains("is not valid JSON", Assert.Throws<InvalidDataException>(() => saved.Load(path)).Message);
        }
    }

    /// <summary>Stop a run, make a new scheduler from the saved file, continue: the weights end bit-identical.</summary>
    [Fact]
    public void Training_resumed_with_a_new_scheduler_ends_with_the_same_weights()
    {
        var schedule = Torch.Cyclic([1e-3, 2e-3], [0.05, 0.1], stepSizeUp: 4, stepSizeDown: 3);
        Tensor[] Train(bool interrupt)
        {
            using var toy = new Toy(layers: 2, seed: 3);
            using var optimizer = toy.Sgd();
            var scheduler = new CadenceScheduler(optimizer, schedule);
            string path = Path.Combine(Path.GetTempPath(), $"cadence-resume-{Environment.ProcessId}.json");
            for (int t = 0; t < 20; t++)
            {
                if (interrupt && t == 9)
                {
                    scheduler.Save(path);
                    scheduler = new CadenceScheduler(optimizer, schedule);   // writes step 0 …
                    scheduler.Load(path);                                     // … and back to step 9
                    File.Delete(path);
                }
                toy.Backward(optimizer);
                optimizer.step();
                scheduler.step();
            }
            return toy.Parameters.Select(p => p.detach().clone()).ToArray();
        }
        var straight = Train(interrupt: false);
        var resumed = Train(interrupt: true);
        Assert.All(straight.Zip(resumed), pair => Assert.True(pair.First.eq(pair.Second).all().item<bool>()));
    }

    [Fact]
    public void Plateau_scheduler_follows_ReduceLrOnPlateau_and_resumes_from_a_file()
    {
        var options = new PlateauOptions { Patience = 1, Factor = 0.5, Cooldown = 1, MinLr = [1e-3] };
        double[] metrics = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9];
        using var toy = new Toy(layers: 2);
        using var optimizer = toy.Sgd();
        var scheduler = new PlateauScheduler(optimizer, options);
        var reference = new ReduceLrOnPlateau([0.1, 0.1], options);
        Assert.Throws<InvalidOperationException>(() => scheduler.step());
        string path = Path.Combine(Path.GetTempPath(), $"cadence-plateau-{Environment.ProcessId}.json");
        try
        {
            for (int i = 0; i < metrics.Length; i++)
            {
                if (i == 6)
                {
                    scheduler.Save(path);
                    scheduler = new PlateauScheduler(optimizer, options);
                    scheduler.Load(path);
                }
                var expected = reference.Step(metrics[i]);
                scheduler.step(metrics[i]);
                Assert.Equal(expected, GroupLr(optimizer));
                Assert.Equal(expected, scheduler.get_last_lr());
            }
            Assert.Equal(reference.State, scheduler.State);
            Assert.True(GroupLr(optimizer)[0] < 0.1);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void The_three_line_OneCycleLR_replacement_in_docs_compiles_and_runs()
    {
        using var toy = new Toy(layers: 2);
        using var optimizer = toy.Sgd();
        int totalSteps = 8;
        // BEGIN docs/interop.md: three lines
        // var scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr: 0.01, total_steps: totalSteps);
        var scheduler = new CadenceScheduler(optimizer, Torch.OneCycle(maxLr: [0.01], totalSteps: totalSteps));
        // END docs/interop.md
        for (int step = 0; step < totalSteps; step++)
        {
            toy.Backward(optimizer);
            optimizer.step();
            scheduler.step();
        }
        Assert.Equal([.. Enumerable.Repeat(Torch.OneCycle([0.01], totalSteps).At(totalSteps).Lr[0], 2)], GroupLr(optimizer));

        string doc = File.ReadAllText(Path.Combine(Schedules.Tests.Reference.RepoRoot, "docs", "interop.md"));
        string source = File.ReadAllText(Path.Combine(Schedules.Tests.Reference.RepoRoot, "tests", "Cadence.Tests", "Interop", "CadenceSchedulerTests.cs"));
        int begin = source.IndexOf("// BEGIN docs/interop.md: three lines", StringComparison.Ordinal);
        int end = source.IndexOf("// END docs/interop.md", begin, StringComparison.Ordinal);
        var lines = source[begin..end].Split('\n').Skip(1).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.All(lines, line => Assert.Contains(line, doc));
    }
}
