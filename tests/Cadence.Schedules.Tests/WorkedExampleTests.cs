using Cadence.Schedules;

namespace Cadence.Schedules.Tests;

/// <summary>The worked numbers of ../shared/reference/schedules.md, to the digits printed there.</summary>
public class WorkedExampleTests
{
    private static void Close(double[] expected, double[] actual, double rel = 5e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= rel * Math.Max(Math.Abs(expected[i]), 1e-12), $"step {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Fastai07_use_clr_20_5()
    {
        var s = FastAi07.Fit([0.01], 10, 1, 1, useClr: new UseClr(20, 5));
        Close([0.0005, 0.00525, 0.01, 0.0088125, 0.007625, 0.0064375, 0.00525, 0.0040625, 0.002875, 0.0016875], s.Trace(10).Lr[0]);
        Assert.Equal(0.0005, s.At(10).Lr[0], 15);   // the next cycle repeats exactly
    }

    [Fact]
    public void Fastai07_use_clr_with_momentum_leads_by_one_batch()
    {
        var (lr, mom) = FastAi07.Fit([0.01], 10, 1, 1, useClr: new UseClr(10, 4, 0.95, 0.85)).Trace(10);
        Close([.001, .0055, .01, .008875, .00775, .006625, .0055, .004375, .00325, .002125], lr[0]);
        Close([.90, .85, .8625, .875, .8875, .90, .9125, .925, .9375, .95], mom![0]);
    }

    [Fact]
    public void Fastai07_cos_anneal_with_cycle_mult()
    {
        var s = FastAi07.Fit([0.01], 4, 3, 1, 2);
        Assert.Equal(28, s.Length);
        var lr = s.Trace(28).Lr[0];
        Close([1e-4, .0085355, .005, .0014645, .01, .0096194, .0085355, .0069134, .005, .0030866, .0014645, .00038060, .01, .0099039], lr[..14]);
        Assert.Equal(9.607e-5, lr[27], 8);
    }

    [Fact]
    public void Fastai07_epochs_rule_and_differential_lrs()
    {
        Assert.Equal(7, FastAi07.Epochs(3, 1, 2));
        Assert.Equal(14, FastAi07.Epochs(3, 2, 2));
        Assert.Equal(13, FastAi07.Epochs(3, 1, 3));
        var s = FastAi07.Fit([1e-3, 3e-3, 1e-2], 10, 1, 1, useClr: new UseClr(20, 5));
        Close([5e-5, 1.5e-4, 5e-4], s.At(0).Lr);
        Close([1e-3, 3e-3, 1e-2], s.At(2).Lr);
    }

    [Fact]
    public void Fastai07_use_clr_beta()
    {
        var (lr, mom) = FastAi07.Fit([0.01], 10, 1, 1, useClrBeta: new UseClrBeta(20, 10, 0.95, 0.85)).Trace(10);
        Close([.0005, .002875, .00525, .007625, .01, .007625, .00525, .002875, .0005, .0002525], lr[0]);
        Close([.925, .90, .875, .85, .875, .90, .925, .95, .95, .95], mom![0]);
    }

    [Fact]
    public void Torch_one_cycle_defaults()
    {
        var (lr, mom) = Torch.OneCycle([0.01], 10).Trace(11);
        Close([4e-4, .0052, .01, .0095048, .0081175, .0061126, .0038874, .0018826, .00049519, 4e-8, .00049519], lr[0]);
        Close([.95, .90, .85, .85495, .86883, .88887, .91113, .93117, .94505, .95, .94505], mom![0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Torch.OneCycle([0.01], 10).At(11));
    }

    [Fact]
    public void Torch_cyclic_test_vectors()
    {
        var (lr, mom) = Torch.Cyclic([1], [5], 4, baseMomentum: [1], maxMomentum: [5]).Trace(11);
        Close([1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3], lr[0]);
        Close([5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3], mom![0]);
        Close([1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2, 2.5, 3, 2.5, 2, 1.5, 1, 1.25, 1.5, 1.75, 2, 1.75],
            Torch.Cyclic([1], [5], 4, mode: CyclicMode.Triangular2, cycleMomentum: false).Trace(22).Lr[0]);
    }

    [Fact]
    public void Torch_cosine_goes_back_up_after_t_max()
    {
        Close([.5, .45225, .32725, .17275, .047746, 0, .047746, .17275, .32725, .45225, .5, .45225], Torch.Cosine([0.5], 5).Trace(12).Lr[0], 1e-4);
    }

    [Fact]
    public void Fastai2_fit_one_cycle_and_sgdr()
    {
        var (lr, mom) = FastAi.FitOneCycle([0.01], 1, 10).Trace(10);
        Close([4e-4, .0037167, .0090833, .0098907, .0090451, .0075000, .0055227, .0034550, .0016544, .00043237], lr[0]);
        Close([.95, .91545, .85955, .85109, .85955, .875, .89477, .91545, .93346, .94568], mom![0]);
        // The float32 boundary: the first batch of cycle 3 of fit_sgdr(3, 1) with 4 batches per epoch stays at the end of cycle 2.
        var sgdr = FastAi.FitSgdr([0.01], 3, 1, 4).Trace(28).Lr[0];
        Assert.True(sgdr[12] < 1e-10, $"fastai's float32 boundary: expected ~0 at batch 12, got {sgdr[12]}");
        Assert.Equal(0.0099039, sgdr[13], 7);
    }

    [Fact]
    public void Describe_explains_use_clr_from_the_structure()
    {
        var text = FastAi07.Fit([0.01], 100, 1, 3, useClr: new UseClr(32, 5)).Describe();
        Assert.Contains("over 300 iterations (3 epochs of 100 batches)", text);
        Assert.Contains("iterations 0–60 (61 steps", text);
        Assert.Contains("rises from 0.0003125 to 0.01 linearly", text);
        Assert.Contains("1/32 of the peak", text);
        Assert.Contains("Momentum is not scheduled", text);
        var sgdr = Torch.CosineWarmRestarts([0.01], 2, 2).Describe(14);
        Assert.Contains("restart", sgdr);
    }
}
