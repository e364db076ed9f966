using Cadence.Schedules;
using Xunit;

namespace Cadence.Schedules.Tests;

/// <summary>Comparisons at the precision a value was printed with in the specification.</summary>
internal static class Printed
{
    /// <summary>
    /// Each expected value was rounded to 5 significant digits: the actual value must round to it, i.e. lie within
    /// half a unit of the 5th significant digit. A printed 0 must be 0 to within 1e-15.
    /// </summary>
    public static void Sig5(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
        {
            double e = expected[t], a = actual[t];
            double tol = e == 0 ? 1e-15 : 0.5 * Math.Pow(10, Math.Floor(Math.Log10(Math.Abs(e))) - 4) * (1 + 1e-9);
            Assert.True(Math.Abs(a - e) <= tol, $"step {t}: expected {e} (5 significant digits), got {a:R}");
        }
    }

    /// <summary>Hugging Face's own test: absolute tolerance 1e-2 (lr 10).</summary>
    public static void Abs(double[] expected, double[] actual, double tol = 1e-2)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
            Assert.True(Math.Abs(actual[t] - expected[t]) <= tol, $"step {t}: expected {expected[t]} ± {tol}, got {actual[t]:R}");
    }

    public static double[] Lr(Schedule s, long steps, int group = 0) => s.Trace(steps).Lr[group];
}

/// <summary>Every worked example of §10.2–10.9 of the specification, plus HF's own test vectors (lr 10, W 2, N 10).</summary>
public class TransformersWorkedExamplesTests
{
    private static readonly double[] Lr01 = [0.1];
    private static readonly double[] Lr10 = [10.0];

    // §10.2 warmup-constant
    [Fact]
    public void Constant_examples()
    {
        Printed.Abs([0, 2.5, 5, 7.5, 10, 10], Printed.Lr(Transformers.WarmupConstant(Lr10, 4), 6));
        Printed.Sig5([0, .033333, .066667, .1, .1, .1], Printed.Lr(Transformers.WarmupConstant(Lr01, 3), 6));
        Printed.Sig5([.1, .1, .1, .1], Printed.Lr(Transformers.WarmupConstant(Lr01, 0), 4));
        Printed.Sig5([0, .1, .1, .1], Printed.Lr(Transformers.WarmupConstant(Lr01, 1), 4));
        var s = Transformers.WarmupConstant(Lr01, 3);
        Assert.Equal("warmup-constant", s.Policy);
        Assert.Null(s.Length);
        Assert.Equal(0.1, s.At(1_000_000_000).Lr[0]);
    }

    // §10.3 warmup-linear
    [Fact]
    public void Linear_examples()
    {
        Printed.Abs([0, 5, 10, 8.75, 7.5, 6.25, 5, 3.75, 2.5, 1.25], Printed.Lr(Transformers.WarmupLinear(Lr10, 2, 10), 10));
        Printed.Sig5([0, .033333, .066667, .1, .085714, .071429, .057143, .042857, .028571, .014286, 0, 0],
            Printed.Lr(Transformers.WarmupLinear(Lr01, 3, 10), 12));
        Printed.Sig5([.1, .075, .05, .025, 0, 0], Printed.Lr(Transformers.WarmupLinear(Lr01, 0, 4), 6));
        Printed.Sig5([0, .025, .05, .075, 0, 0], Printed.Lr(Transformers.WarmupLinear(Lr01, 4, 4), 6));
        var s = Transformers.WarmupLinear(Lr01, 3, 10);
        Assert.Equal("warmup-linear", s.Policy);
        Assert.Equal(10, s.Length);
        Assert.Equal(0.0, s.At(10).Lr[0]); // exactly 0 at N
        Assert.Equal(0.1 * (1.0 / 7), s.At(9).Lr[0]); // t = N − 1 uses lr0 / (N − W)
    }

    // §10.4 warmup-cosine
    [Fact]
    public void Cosine_examples()
    {
        Printed.Abs([0, 5, 10, 9.61, 8.53, 6.91, 5, 3.08, 1.46, 0.38], Printed.Lr(Transformers.WarmupCosine(Lr10, 2, 10), 10));
        Printed.Sig5([0, .033333, .066667, .1, .095048, .081174, .061126, .038874, .018826, .0049516, 0, .0049516, .018826],
            Printed.Lr(Transformers.WarmupCosine(Lr01, 3, 10), 13));
        Printed.Sig5([0, .05, .1, .05, 0, .05, .1, .05, 0, .05, .1], Printed.Lr(Transformers.WarmupCosine(Lr01, 2, 10, numCycles: 2), 11));
        Printed.Sig5([0, .033333, .066667, .1, 0, .1, 0], Printed.Lr(Transformers.WarmupCosine(Lr01, 3, 3), 7));
        var s = Transformers.WarmupCosine(Lr01, 3, 10);
        Assert.Equal("warmup-cosine", s.Policy);
        Assert.Equal(0.0, s.At(10).Lr[0]); // m(N) = 0 exactly
        Assert.True(s.At(11).Lr[0] > 0);   // not clamped past N
    }

    // §10.5 warmup-cosine with min_lr_ratio
    [Fact]
    public void Cosine_min_lr_examples()
    {
        Printed.Sig5([0, .033333, .066667, .1, .095544, .083057, .065013, .044987, .026943, .014456, .01],
            Printed.Lr(Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: 0.1), 11));
        double r = 0.005 / 0.1;
        Assert.Equal(0.049999999999999996, r);
        Printed.Sig5([0, .033333, .066667, .1, .095296, .082116, .06307, .04193, .022884, .009704, .005],
            Printed.Lr(Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: r), 11));
        Printed.Sig5([.1, .092678, .075, .057322, .05, .057322, .075], Printed.Lr(Transformers.WarmupCosine(Lr01, 0, 4, minLrRatio: 0.5), 7));
    }

    [Fact]
    public void Cosine_min_lr_ratio_zero_is_plain_cosine_bit_for_bit()
    {
        var plain = Transformers.WarmupCosine(Lr01, 3, 10);
        var zero = Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: 0);
        Assert.Equal(plain.Trace(40).Lr[0], zero.Trace(40).Lr[0]);
        Assert.Equal("Hugging Face get_cosine_schedule_with_warmup", plain.Reference);
        Assert.Equal("Hugging Face get_cosine_with_min_lr_schedule_with_warmup", Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: 0.1).Reference);
    }

    // §10.6 warmup-cosine-restarts
    [Fact]
    public void Restarts_examples()
    {
        Printed.Abs([0, 5, 10, 8.53, 5, 1.46, 10, 8.53, 5, 1.46], Printed.Lr(Transformers.WarmupCosineRestarts(Lr10, 2, 10, 2), 10));
        Printed.Sig5([0, .033333, .066667, .1, .095048, .081174, .061126, .038874, .018826, .0049516, 0],
            Printed.Lr(Transformers.WarmupCosineRestarts(Lr01, 3, 10), 11));
        Printed.Sig5([0, .05, .1, .085355, .05, .014645, .1, .085355, .05, .014645, 0],
            Printed.Lr(Transformers.WarmupCosineRestarts(Lr01, 2, 10, 2), 11));
        Printed.Sig5([0, .1, .081174, .038874, .0049516, .095048, .061126, .018826, 0],
            Printed.Lr(Transformers.WarmupCosineRestarts(Lr01, 1, 8, 2), 9));
        // 0 from N on, no rise (unlike warmup-cosine).
        Assert.All(Printed.Lr(Transformers.WarmupCosineRestarts(Lr01, 3, 10), 30)[10..], v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Restarts_with_one_cycle_equal_cosine_before_N()
    {
        var restarts = Printed.Lr(Transformers.WarmupCosineRestarts(Lr01, 5, 40, 1), 40);
        var cosine = Printed.Lr(Transformers.WarmupCosine(Lr01, 5, 40), 40);
        for (int t = 0; t < 40; t++) Assert.Equal(cosine[t], restarts[t], 15);
    }

    [Fact]
    public void Python_float_mod_is_non_negative()
    {
        Assert.Equal(0.25, HfRestartsCurve.PyMod1(2.25));
        Assert.Equal(0.75, HfRestartsCurve.PyMod1(-0.25));
        Assert.True(double.IsPositive(HfRestartsCurve.PyMod1(-2.0)) && HfRestartsCurve.PyMod1(-2.0) == 0);
    }

    // §10.7 warmup-polynomial
    [Fact]
    public void Polynomial_examples()
    {
        Printed.Abs([0, 5, 10, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156],
            Printed.Lr(Transformers.WarmupPolynomial(Lr10, 2, 10, lrEnd: 1e-7, power: 2), 10));
        Printed.Sig5([0, .033333, .066667, .1, .085714, .071429, .057143, .042857, .028571, .014286, 1e-07],
            Printed.Lr(Transformers.WarmupPolynomial(Lr01, 3, 10), 11));
        Printed.Sig5([0, .05, .1, .078906, .060625, .045156, .0325, .022656, .015625, .011406, .01, .01],
            Printed.Lr(Transformers.WarmupPolynomial(Lr01, 2, 10, lrEnd: 0.01, power: 2), 12));
        Printed.Sig5([.1, .087942, .07364, .055, .01, .01],
            Printed.Lr(Transformers.WarmupPolynomial(Lr01, 0, 4, lrEnd: 0.01, power: 0.5), 6));
        var twoGroups = Transformers.WarmupPolynomial([0.1, 0.05], 2, 6, lrEnd: 0.01);
        Printed.Sig5([0, .025, .05, .03875, .0275, .01625, .005, .005], Printed.Lr(twoGroups, 8, group: 1));
    }

    [Fact]
    public void Polynomial_edges()
    {
        // power 0: 0^0 = 1 at N, lr_end only after N.
        var p0 = Printed.Lr(Transformers.WarmupPolynomial(Lr01, 1, 5, lrEnd: 0.001, power: 0), 8);
        Assert.Equal(0.1, p0[5], 15);
        Assert.Equal(0.001, p0[6], 15);
        // W > N: warm-up to (W − 1)/W, then lr_end.
        Printed.Sig5([0, .02, .04, .06, .08, 1e-7, 1e-7, 1e-7], Printed.Lr(Transformers.WarmupPolynomial(Lr01, 5, 3), 8));
    }

    // §10.8 inverse-sqrt
    [Fact]
    public void Inverse_sqrt_examples()
    {
        Printed.Abs([0, 5, 10, 8.165, 7.071, 6.325, 5.774, 5.345, 5, 4.714], Printed.Lr(Transformers.InverseSqrt(Lr10, 2), 10));
        Printed.Sig5([0, .033333, .066667, .1, .086603, .07746, .070711, .065465, .061237, .057735], Printed.Lr(Transformers.InverseSqrt(Lr01, 3), 10));
        Printed.Sig5([.1, .099995, .09999, .099985], Printed.Lr(Transformers.InverseSqrt(Lr01, 0), 4));
        Printed.Sig5([0, .025, .05, .075, .1, .095346, .091287, .087706], Printed.Lr(Transformers.InverseSqrt(Lr01, 4, timescale: 10), 8));
        Printed.Sig5([0, .02, .04, .06, .08, .1, .08165, .070711, .063246], Printed.Lr(Transformers.InverseSqrt(Lr01, 5, timescale: 2), 9));
        Assert.Null(Transformers.InverseSqrt(Lr01, 3).Length);
    }

    // §10.9 wsd
    [Fact]
    public void Wsd_examples()
    {
        Printed.Sig5([0, .05, .1, .1, .1, .1, .1, .1, .075, .025, 0, 0], Printed.Lr(Transformers.Wsd(Lr01, 2, 3, totalSteps: 10), 12));
        Printed.Sig5([.01, .055, .1, .1, .1, .1, .1, .0775, .055, .0325, .01, .01],
            Printed.Lr(Transformers.Wsd(Lr01, 2, 4, totalSteps: 10, decayType: WsdShape.Linear, minLrRatio: 0.1), 12));
        Printed.Sig5([0, .013397, .029289, .05, .1, .1, .1, .05, .029289, .013397, 0],
            Printed.Lr(Transformers.Wsd(Lr01, 4, 4, totalSteps: 10, warmupType: WsdShape.OneMinusSqrt, decayType: WsdShape.OneMinusSqrt), 11));
        Printed.Sig5([.02, .031716, .06, .088284, .1],
            Printed.Lr(Transformers.Wsd(Lr01, 4, 3, totalSteps: 10, warmupType: WsdShape.Cosine, minLrRatio: 0.2), 5));
        Printed.Sig5([0, .025, .05, .075, .075, .0625, .05, .0375, .025, .0125, 0],
            Printed.Lr(Transformers.Wsd(Lr01, 4, 8, totalSteps: 10, decayType: WsdShape.Linear), 11));
        // §10.13: W 2, S 5, D 3, r 0.1 (current HF): [.01, .055, .1, …, .0775, .0325, .01].
        var s = Printed.Lr(Transformers.Wsd(Lr01, 2, 3, stableSteps: 5, minLrRatio: 0.1), 11);
        Printed.Sig5([.01, .055, .1], s[..3]);
        Printed.Sig5([.0775, .0325, .01], s[8..]);
    }

    [Fact]
    public void Wsd_string_overload_and_stable_wins()
    {
        var byEnum = Transformers.Wsd(Lr01, 2, 3, totalSteps: 100, stableSteps: 2, minLrRatio: 0.1);
        var byString = Transformers.Wsd(Lr01, 2, 3, 100, 2, "linear", "cosine", minLrRatio: 0.1);
        var stableOnly = Transformers.Wsd(Lr01, 2, 3, stableSteps: 2, minLrRatio: 0.1);
        Assert.Equal(stableOnly.Trace(12).Lr[0], byEnum.Trace(12).Lr[0]);
        Assert.Equal(stableOnly.Trace(12).Lr[0], byString.Trace(12).Lr[0]);
        Assert.Equal(7, byEnum.Length); // W + S + D; N ignored
        Assert.Equal(10, Transformers.Wsd(Lr01, 2, 3, totalSteps: 10).Length);
        Assert.Equal(WsdShape.OneMinusSqrt, Transformers.ParseWsdShape("1-sqrt", "decay_type"));
        Assert.Equal("1-sqrt", WsdShape.OneMinusSqrt.Name());
    }

    [Fact]
    public void Every_group_is_its_lr_times_the_same_multiplier()
    {
        double[] lrs = [0.1, 0.03];
        foreach (var s in new[]
        {
            Transformers.WarmupConstant(lrs, 7), Transformers.WarmupLinear(lrs, 7, 37), Transformers.WarmupCosine(lrs, 4, 20, minLrRatio: 0.05),
            Transformers.WarmupCosineRestarts(lrs, 5, 60, 4), Transformers.InverseSqrt(lrs, 100), Transformers.Wsd(lrs, 5, 5, totalSteps: 16, warmupType: WsdShape.Cosine),
        })
        {
            var single = s with { Lr = [s.Lr[0]] };
            for (long t = 0; t < 70; t++)
            {
                double m = ((ScaledCurve)s.Lr[0]).Factor.At(t);
                Assert.Equal(0.1 * m, s.At(t).Lr[0]);
                Assert.Equal(0.03 * m, s.At(t).Lr[1]);
            }
            Assert.Equal(2, s.Groups);
            Assert.Equal(1, single.Groups);
        }
    }

    [Fact]
    public void Pieces_name_the_phases()
    {
        var cosine = Transformers.WarmupCosine(Lr01, 3, 10).Lr[0];
        Assert.Equal("linear", cosine.PieceAt(0).Shape);
        Assert.Equal("cosine", cosine.PieceAt(5).Shape);
        Assert.NotEqual(cosine.PieceAt(9).Id, cosine.PieceAt(11).Id); // past N: its own piece
        var restarts = Transformers.WarmupCosineRestarts(Lr01, 2, 10, 2).Lr[0];
        Assert.NotEqual(restarts.PieceAt(5).Id, restarts.PieceAt(6).Id); // a restart
        Assert.Equal("constant", restarts.PieceAt(10).Shape);
        Assert.Equal("inverse square root", Transformers.InverseSqrt(Lr01, 3).Lr[0].PieceAt(3).Shape);
        Assert.Equal("polynomial", Transformers.WarmupPolynomial(Lr01, 2, 10, power: 2).Lr[0].PieceAt(4).Shape);
        var wsd = Transformers.Wsd(Lr01, 2, 3, totalSteps: 10).Lr[0];
        Assert.Equal(["linear", "constant", "cosine", "constant"],
            new[] { wsd.PieceAt(1), wsd.PieceAt(3), wsd.PieceAt(8), wsd.PieceAt(10) }.Select(p => p.Shape));
    }

    /// <summary>
    /// Spot checks against bench/reference/hf_transformers.json (transformers' own code), to the last bit; the full
    /// file is checked through the CLI.
    /// </summary>
    [Fact]
    public void Reference_trace_spot_checks_are_bit_exact()
    {
        Assert.Equal([0.0, 0.03333333333333333, 0.06666666666666667, 0.1, 0.0952960212253649, 0.08211576558828985, 0.06306974436292494,
                0.041930255637075066, 0.02288423441171016, 0.009703978774635094, 0.005],
            Printed.Lr(Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: 0.049999999999999996), 11));
        Assert.Equal([0.0, 0.05, 0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1, 0.08535533905932738, 0.05,
                0.014644660940672627, 0.1, 0.08535533905932738, 0.0, 0.0],
            Printed.Lr(Transformers.WarmupCosineRestarts(Lr01, 2, 12, 2.5), 14));
        var poly = Transformers.WarmupPolynomial([0.1, 0.05], 2, 6, lrEnd: 0.01).Trace(8).Lr;
        Assert.Equal([0.0, 0.05, 0.1, 0.0775, 0.05500000000000001, 0.0325, 0.01, 0.01], poly[0]);
        Assert.Equal([0.0, 0.025, 0.05, 0.03875, 0.027500000000000004, 0.01625, 0.005, 0.005], poly[1]);
        Assert.Equal([0.0, 0.025, 0.05, 0.07500000000000001, 0.07500000000000001, 0.0625, 0.05, 0.037500000000000006, 0.025, 0.0125, 0.0],
            Printed.Lr(Transformers.Wsd(Lr01, 4, 8, totalSteps: 10, decayType: WsdShape.Linear), 11));
        Assert.Equal([0.03, 0.044, 0.057999999999999996, 0.072, 0.086, 0.03, 0.03, 0.03],
            Printed.Lr(Transformers.Wsd(Lr01, 5, 2, 4, null, "linear", "linear", minLrRatio: 0.3), 8));
        Assert.Equal([0.0, 0.020000000000000004, 0.04000000000000001, 0.06, 0.08000000000000002, 0.1, 0.0, 0.1, 0.0],
            Printed.Lr(Transformers.WarmupCosine(Lr01, 5, 2), 9));
    }
}
