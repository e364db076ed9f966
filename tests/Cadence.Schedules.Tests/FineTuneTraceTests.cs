using System.Globalization;
using System.Text.Json;
using Cadence.Schedules;

namespace Cadence.Schedules.Tests;

/// <summary>fastai v2's <c>fine_tune</c>, both phases, every group, lr and momentum, against bench/reference/fastai2_fine_tune.json.</summary>
public class FineTuneTraceTests
{
    private const string File = "fastai2_fine_tune";

    public static IEnumerable<object[]> Cases() => Reference.Cases(File).Select(c => new[] { c[1] });

    /// <summary>The plan for a case's CLI-style arguments (the options <c>cadence schedule fine-tune</c> will take).</summary>
    private static FineTunePlan Plan(JsonElement c)
    {
        var args = c.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray();
        string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 ? args[i + 1] : null;
        double D(string name, double fallback) => Arg(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int I(string name, int fallback) => Arg(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var moms = Arg("--moms")?.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return FineTune.Plan(I("--groups", 0), I("--epochs", 0), I("--batches-per-epoch", 0), D("--base-lr", 2e-3), I("--freeze-epochs", 1),
            D("--lr-mult", 100), D("--pct-start", 0.3), D("--div", 5), moms, D("--div-final", 1e5));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Both_phases_match_fastai(string name)
    {
        var c = Reference.Case(File, name);
        var plan = Plan(c);
        foreach (var (phase, schedule) in new[] { ("frozen", plan.Frozen), ("unfrozen", plan.Unfrozen) })
        {
            var expected = c.GetProperty(phase);
            if (expected.ValueKind == JsonValueKind.Null)
            {
                Assert.Null(schedule);
                continue;
            }
            Assert.NotNull(schedule);
            long n = expected.GetProperty("iterations").GetInt64();
            Assert.Equal(n, schedule!.Length);
            Assert.Equal(expected.GetProperty("epochs").GetInt32(), phase == "frozen" ? plan.FreezeEpochs : plan.Epochs);
            var (lr, mom) = schedule.Trace(n);
            Reference.AssertClose(Reference.Groups(expected, "lr")!, lr, GoldenTraceTests.Tolerance, $"{name} {phase} lr");
            Reference.AssertClose(Reference.Groups(expected, "momentum")!, mom!, GoldenTraceTests.Tolerance, $"{name} {phase} momentum");
        }
    }

    [Fact]
    public void The_preview_puts_the_frozen_phase_before_the_unfrozen_one()
    {
        var plan = FineTune.Plan(groups: 3, epochs: 3, batchesPerEpoch: 7);
        var (lr, mom) = plan.Trace();
        Assert.Equal(3, lr.Length);
        Assert.Equal(7 + 21, lr[0].Length);
        Assert.Equal(plan.Frozen!.At(6).Lr[2], lr[2][6]);
        Assert.Equal(plan.Unfrozen.At(0).Lr[0], lr[0][7]);
        Assert.Equal(plan.Unfrozen.At(0).Momentum![1], mom[1][7]);
        // fastai's numbers: slice(2e-3) then even_mults(1e-5, 1e-3, 3); first values lr_max/25 and lr_max/5.
        Assert.Equal([2e-4 / 25, 2e-4 / 25, 2e-3 / 25], lr.Select(g => g[0]));
        Assert.Equal([1e-5 / 5, 1e-5 * 10.0 / 5, 1e-5 * 100.0 / 5], lr.Select(g => g[7]));
        Assert.Equal([1e-5, 1e-5 * Math.Pow(10, 1), 1e-5 * Math.Pow(10, 2)], FineTune.EvenMults(1e-5, 1e-3, 3));
    }

    [Fact]
    public void Each_epoch_is_named_by_its_phase()
    {
        var plan = FineTune.Plan(groups: 2, epochs: 2, batchesPerEpoch: 3, freezeEpochs: 2);
        Assert.Equal(["frozen", "frozen", "unfrozen", "unfrozen"], Enumerable.Range(0, 4).Select(plan.PhaseOf));
        // Without a frozen phase every epoch is unfrozen.
        var unfrozenOnly = FineTune.Plan(groups: 2, epochs: 2, batchesPerEpoch: 3, freezeEpochs: 0);
        Assert.Equal(["unfrozen", "unfrozen"], Enumerable.Range(0, 2).Select(unfrozenOnly.PhaseOf));
    }

    [Fact]
    public void Bad_parameters_are_named_together()
    {
        var e = Assert.Throws<ScheduleValidationException>(() => FineTune.Plan(1, 0, 10, baseLr: -1, freezeEpochs: -1, lrMult: 0, pctStart: 2, div: 0));
        Assert.Equal(["groups", "epochs", "freeze_epochs", "base_lr", "lr_mult", "pct_start", "div"], e.Errors.Select(x => x.Parameter));
    }
}
