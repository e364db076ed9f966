using Cadence.Schedules;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Cadence.Schedules.Tests;

/// <summary>Random valid configurations give finite, non-negative values within the policy's own range; invalid ones name the parameter.</summary>
public class PropertyTests
{
    private static double Lr(int x) => Math.Pow(10, -1 - (Math.Abs(x) % 50) / 10.0);   // 1e-6 … 1e-1

    private static void AllGood(Schedule s, long n, double lo, double hi)
    {
        var (lr, mom) = s.Trace(n);
        foreach (var g in lr)
            foreach (var v in g)
                // The references' own formulas cancel near their ends (e.g. (min − max)·1 + max): allow that rounding, relative to the range.
                Assert.True(double.IsFinite(v) && v >= 0 && v >= lo - 1e-9 * hi && v <= hi * (1 + 1e-12), $"{s.Policy}: {v} outside [{lo}, {hi}]");
        if (mom is not null)
            foreach (var g in mom) Assert.All(g, v => Assert.True(double.IsFinite(v)));
    }

    [Property(MaxTest = 300)]
    public void Fit07_clr_stays_between_floor_and_peak(PositiveInt bpe, PositiveInt cycleLen, PositiveInt div, PositiveInt cutDiv, int lrSeed)
    {
        long nb = (bpe.Get % 200 + 1) * (long)(cycleLen.Get % 5 + 1);
        double d = div.Get % 60 + 1, c = cutDiv.Get % 20 + 1, lr = Lr(lrSeed);
        if (nb < c) return;   // refused: see the next property
        var s = FastAi07.Fit([lr], bpe.Get % 200 + 1, 1, cycleLen.Get % 5 + 1, useClr: new UseClr(d, c));
        AllGood(s, s.Length!.Value, lr / d, lr);
    }

    [Property(MaxTest = 200)]
    public void Fit07_clr_refuses_cycles_shorter_than_cut_div(PositiveInt bpe, PositiveInt extra)
    {
        long b = bpe.Get % 10 + 1;
        double cutDiv = b + 1 + extra.Get % 5;
        var e = Assert.Throws<ScheduleValidationException>(() => FastAi07.Fit([0.01], b, 1, 1, useClr: new UseClr(10, cutDiv)));
        Assert.Equal("use_clr", e.ParamName);
    }

    [Property(MaxTest = 300)]
    public void OneCycle_stays_between_min_and_max(PositiveInt total, int pctSeed, bool linear, bool three, int lrSeed)
    {
        long t = total.Get % 500 + 2;
        double pct = (Math.Abs(pctSeed) % 99 + 1) / 100.0, lr = Lr(lrSeed);
        if (pct * t - 1 == 0) return;
        var s = Torch.OneCycle([lr], t, pct, linear, threePhase: three);
        AllGood(s, t, lr / 25 / 1e4, lr);
    }

    [Property(MaxTest = 300)]
    public void Cyclic_stays_between_base_and_max(PositiveInt up, PositiveInt down, int mode, PositiveInt steps, int lrSeed)
    {
        double lr = Lr(lrSeed);
        var m = (CyclicMode)(Math.Abs(mode) % 3);
        var s = Torch.Cyclic([lr / 4], [lr], up.Get % 50 + 1, down.Get % 50 + 1, m, gamma: 0.999);
        AllGood(s, steps.Get % 400 + 1, lr / 4, lr);
    }

    [Property(MaxTest = 200)]
    public void FastAi_one_cycle_and_sgdr_stay_below_the_peak(PositiveInt epochs, PositiveInt bpe, int lrSeed, PositiveInt cycles)
    {
        double lr = Lr(lrSeed);
        var s = FastAi.FitOneCycle([lr], epochs.Get % 5 + 1, bpe.Get % 100 + 1);
        AllGood(s, s.Length!.Value, lr / 1e5, lr);
        try
        {
            var sgdr = FastAi.FitSgdr([lr], cycles.Get % 4 + 1, 1, bpe.Get % 20 + 1);
            AllGood(sgdr, sgdr.Length!.Value, 0, lr);
        }
        catch (ScheduleValidationException e) { Assert.Equal("cycle_mult", e.ParamName); }   // fastai's exact-sum assertion
    }

    [Property(MaxTest = 300)]
    public void Warmup_family_stays_between_zero_and_lr(NonNegativeInt warmup, PositiveInt total, int lrSeed, PositiveInt cycles)
    {
        double lr = Lr(lrSeed);
        long w = warmup.Get % 50, n = w + total.Get % 300 + 1;
        AllGood(Transformers.WarmupLinear([lr], w, n), n + 5, 0, lr);
        AllGood(Transformers.WarmupCosine([lr], w, n, numCycles: cycles.Get % 4 * 0.5 + 0.5), n, 0, lr);
        AllGood(Transformers.WarmupCosineRestarts([lr], w, n, cycles.Get % 4 + 1), n + 5, 0, lr);
        AllGood(Transformers.InverseSqrt([lr], w), n, 0, lr);
        AllGood(Transformers.Wsd([lr], w, n / 2 + 1, totalSteps: n + n / 2 + 1), n + n / 2 + 1, 0, lr);
    }

    [Property(MaxTest = 200)]
    public void Invalid_learning_rates_name_the_parameter(double bad)
    {
        if (bad > 0 && double.IsFinite(bad)) return;
        Assert.Equal("max_lr", Assert.Throws<ScheduleValidationException>(() => Torch.OneCycle([bad], 100)).ParamName);
        Assert.Equal("lr", Assert.Throws<ScheduleValidationException>(() => FastAi07.Fit([bad], 10)).ParamName);
        Assert.Equal("lr_max", Assert.Throws<ScheduleValidationException>(() => FastAi.FitOneCycle([bad], 1, 10)).ParamName);
        Assert.Equal("lr", Assert.Throws<ScheduleValidationException>(() => Transformers.WarmupLinear([bad], 1, 10)).ParamName);
        Assert.Equal("lr", Assert.Throws<ScheduleValidationException>(() => Torch.Cosine([bad], 10)).ParamName);
    }

    [Property(MaxTest = 200)]
    public void Invalid_pct_start_names_the_parameter(double pct)
    {
        if (pct is >= 0 and <= 1) return;
        Assert.Equal("pct_start", Assert.Throws<ScheduleValidationException>(() => Torch.OneCycle([0.1], 100, pct)).ParamName);
        Assert.Equal("pct_start", Assert.Throws<ScheduleValidationException>(() => FastAi.FitOneCycle([0.1], 1, 100, pctStart: pct)).ParamName);
    }

    [Fact]
    public void Any_step_is_computed_without_replay()
    {
        // CosineAnnealingWarmRestarts(T_0=10, T_mult=2): cycle n covers steps 10·(2^n − 1) … 10·(2^(n+1) − 1) − 1.
        var s = Torch.CosineWarmRestarts([0.1], 10, 2);
        Assert.Equal(0.1, s.At(10 + 20 + 40).Lr[0]);   // the first step of the fourth cycle: a restart, exactly lr
        const long t = 1_000_000_000_000L;   // in cycle 36, which starts at 10·(2^36 − 1) and lasts 10·2^36 steps
        long start = 10 * ((1L << 36) - 1), length = 10 * (1L << 36);
        Assert.InRange(t, start, start + length - 1);
        double expected = 0.1 * (1 + Math.Cos(Math.PI * (t - start) / length)) / 2;   // 0.0570153 at T_cur = 312805232650
        Assert.Equal(expected, s.At(t).Lr[0], 1e-12);
        Assert.Equal(0.1 * (1 + Math.Cos(Math.PI * (length - 1.0) / length)) / 2, s.At(start + length - 1).Lr[0], 1e-15);   // last step of that cycle
        Assert.Equal(0.1, s.At(start + length).Lr[0]);   // and the next restart
    }
}
