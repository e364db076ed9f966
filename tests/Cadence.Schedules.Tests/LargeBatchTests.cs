using Cadence.Schedules;

namespace Cadence.Schedules.Tests;

/// <summary>Goyal et al. 2017: the linear scaling rule with gradual warm-up, composed with other policies.</summary>
public class LargeBatchTests
{
    [Fact]
    public void Step_schedule_at_batch_8192_warms_up_from_the_base_lr_to_32_times_it_by_equal_increments()
    {
        // The paper's ResNet-50 setting: lr 0.1 per 256 images, batch 8192 (k = 32), decays ×0.1 at epochs 30/60/80.
        // With 10 steps per epoch the warm-up is 5 epochs = 50 steps: 0.1 + (3.2 − 0.1)·t/50, then 3.2.
        var step = Torch.MultiStep([0.1], [300, 600, 800]);
        var s = LargeBatch.Scale(step, batchSize: 8192, baseBatchSize: 256, warmupSteps: 50);
        var lr = s.Trace(900).Lr[0];
        Assert.Equal(0.1, lr[0], 15);
        for (int t = 0; t < 50; t++) Assert.Equal(0.1 + 3.1 * t / 50, lr[t], 14);
        Assert.Equal(3.2, lr[50], 14);
        Assert.Equal(3.2, lr[299], 14);
        Assert.Equal(0.32, lr[300], 14);
        Assert.Equal(0.032, lr[600], 14);
        Assert.Equal(0.0032, lr[899], 14);
        Assert.Equal(32, LargeBatch.Factor(8192, 256));
    }

    [Fact]
    public void Every_group_and_every_step_is_the_original_times_the_same_multiplier_and_momentum_is_untouched()
    {
        var one = Torch.OneCycle([0.01, 0.1], totalSteps: 100);
        var s = LargeBatch.Scale(one, batchSize: 1024, baseBatchSize: 256, warmupSteps: 20);
        var (a, am) = one.Trace(100);
        var (b, bm) = s.Trace(100);
        for (int t = 0; t < 100; t++)
        {
            double m = t < 20 ? 1 + 3.0 * t / 20 : 4;
            for (int g = 0; g < 2; g++)
            {
                Assert.Equal(a[g][t] * m, b[g][t], 15);
                Assert.Equal(am![g][t], bm![g][t]);
            }
        }
        Assert.Equal(one.Length, s.Length);
        Assert.Equal(one.StepLimit, s.StepLimit);
        Assert.Contains("linear scaling rule", s.Reference, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_warm_up_the_factor_applies_from_the_first_step_and_a_smaller_batch_scales_down()
    {
        var c = Torch.Constant([0.4]);
        Assert.Equal(1.6, LargeBatch.Scale(c, 1024).At(0).Lr[0], 15);
        Assert.Equal(0.1, LargeBatch.Scale(c, 64).At(7).Lr[0], 15);
    }

    [Fact]
    public void The_warm_up_reads_as_its_own_piece_in_the_explanation()
    {
        var s = LargeBatch.Scale(Torch.Constant([0.1]) with { Length = 40 }, 2048, 256, 10);
        var pieces = ScheduleDescription.Segments(s.Lr[0], 40);
        Assert.Equal(2, pieces.Count);
        Assert.Equal(("linear", 0L, 9L), (pieces[0].Shape, pieces[0].Start, pieces[0].End));
        Assert.Equal(0.8, pieces[1].From, 15);
        Assert.Contains("rises from 0.1", s.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_parameters_are_all_named()
    {
        var e = Assert.Throws<ScheduleValidationException>(() => LargeBatch.Scale(Torch.Constant([0.1]), 0, -1, -3));
        Assert.Equal(["batch_size", "base_batch_size", "warmup_steps"], e.Errors.Select(x => x.Parameter).ToArray());
        var down = Assert.Throws<ScheduleValidationException>(() => LargeBatch.Scale(Torch.Constant([0.1]), 128, 256, 10));
        Assert.Contains("only applies when the batch grows", down.Message, StringComparison.Ordinal);
        var longer = Assert.Throws<ScheduleValidationException>(() => LargeBatch.Scale(Torch.OneCycle([0.1], 10), 512, 256, 11));
        Assert.Contains("must not exceed the schedule's 10 steps", longer.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Launcher.Ddp, 4, 1)]
    [InlineData(Launcher.Lightning, 4, 1)]
    [InlineData(Launcher.Accelerate, 4, 4)]
    [InlineData(Launcher.AccelerateSplitBatches, 4, 1)]
    public void Scheduler_calls_per_optimizer_step_follow_each_launcher(Launcher launcher, int processes, int calls) =>
        Assert.Equal(calls, LargeBatch.SchedulerCallsPerOptimizerStep(launcher, processes));
}
