using Cadence.Schedules;

namespace Cadence.Schedules.Tests;

/// <summary>Every policy against its reference's own numbers: relative error ≤ 1e-12 at every step, lr and momentum, every group.</summary>
public class GoldenTraceTests
{
    public const double Tolerance = 1e-12;

    public static IEnumerable<object[]> AllCases() =>
        new[] { "pytorch", "fastai07", "fastai2", "hf_transformers" }.SelectMany(f => Reference.Cases(f));

    public static IEnumerable<object[]> AllErrors() =>
        new[] { "pytorch", "fastai07", "fastai2", "hf_transformers" }.SelectMany(f => Reference.Cases(f, "errors"));

    /// <summary>
    /// Where Cadence refuses on purpose what the reference accepts: issue #2 makes non-increasing milestones an
    /// error (PyTorch's MultiStepLR silently sorts or counts them twice), and SequentialLR with a milestone at 0
    /// is a known PyTorch bug (#185872).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Refused = new Dictionary<string, string>
    {
        ["multistep_unsorted"] = "milestones",
        ["multistep_duplicate"] = "milestones",
        ["sequential_milestone0"] = "milestones",
    };

    /// <summary>
    /// PyTorch 1.13 computes CosineAnnealingLR recursively; its rounding drifts from the closed form Cadence
    /// evaluates (O(1) per step) by about 1e-12 after a few hundred steps past T_max.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, double> Drift = new Dictionary<string, double>
    {
        ["cosine_T300_eta0.099_drift"] = 1e-11,
    };

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Matches_the_reference(string file, string name)
    {
        var c = Reference.Case(file, name);
        if (Refused.TryGetValue(name, out var parameter))
        {
            var e = Assert.Throws<ScheduleValidationException>(() => Reference.Build(c, c.GetProperty("iterations").GetInt64()));
            Assert.Contains(e.Errors, x => x.Parameter == parameter);
            return;
        }
        double tolerance = Drift.GetValueOrDefault(name, Tolerance);
        long n = c.GetProperty("iterations").GetInt64();
        var expectedLr = Reference.Groups(c, "lr")!;
        var expectedMom = Reference.Groups(c, "momentum");
        var schedule = Reference.Build(c, n);
        // A reference that goes negative (PyTorch's linear OneCycleLR one step past its end) is refused from that step on.
        int firstNegative = expectedLr.Select(g => Array.FindIndex(g, v => v < 0)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (firstNegative >= 0)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => schedule.Trace(firstNegative + 1));
            n = firstNegative;
            expectedLr = [.. expectedLr.Select(g => g[..firstNegative])];
            expectedMom = expectedMom is null ? null : [.. expectedMom.Select(g => g[..firstNegative])];
        }
        var (lr, mom) = schedule.Trace(n);
        Reference.AssertClose(expectedLr, lr, tolerance, $"{name} lr");
        if (expectedMom is null) Assert.Null(mom);
        else
        {
            Assert.NotNull(mom);
            Reference.AssertClose(expectedMom, mom!, tolerance, $"{name} momentum");
        }
    }

    [Theory]
    [MemberData(nameof(AllErrors))]
    public void Refuses_what_the_reference_rejects(string file, string name)
    {
        var c = Reference.Case(file, name, "errors");
        var expected = c.GetProperty("parameter").GetString()!;
        long n = c.TryGetProperty("iterations", out var it) && it.ValueKind == System.Text.Json.JsonValueKind.Number ? it.GetInt64() : 10;
        var e = Assert.ThrowsAny<ArgumentException>(() =>
        {
            var schedule = Reference.Build(c, n);
            schedule.Trace(n);
        });
        string parameter = e is ScheduleValidationException v
            ? string.Join(" ", v.Errors.Select(x => "--" + x.Parameter.ToLowerInvariant().Replace('_', '-')))
            : e.ParamName == "step" ? "--iterations" : "--" + e.ParamName;
        Assert.Contains(expected, parameter);
    }
}
