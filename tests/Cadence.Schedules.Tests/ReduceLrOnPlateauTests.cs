using Cadence.Schedules;
using Xunit;

namespace Cadence.Schedules.Tests;

public class ReduceLrOnPlateauTests
{
    private static double[] Run(ReduceLrOnPlateau p, IEnumerable<double> metrics, int group = 0) =>
        [.. metrics.Select(m => p.Step(m)[group])];

    // §4.7 worked examples: lr 0.1, patience 2, factor 0.1.
    [Fact]
    public void Spec_example_reduces_on_the_patience_plus_first_bad_step()
    {
        var p = new ReduceLrOnPlateau([0.1], new PlateauOptions { Patience = 2, Factor = 0.1 });
        Printed.Sig5([.1, .1, .1, .1, .01, .01, .01, .01, .001, .001], Run(p, [1.0, .9, .95, .96, .97, .89, .9, .9, .9, .9]));
        Assert.Equal(10, p.State.LastEpoch);
    }

    [Fact]
    public void Spec_example_with_cooldown()
    {
        var p = new ReduceLrOnPlateau([0.1], new PlateauOptions { Patience = 2, Factor = 0.1, Cooldown = 2 });
        Printed.Sig5([.1, .1, .1, .1, .01, .01, .01, .01, .01, .001], Run(p, [1.0, .9, .95, .96, .97, .99, .99, .99, .99, .99]));
    }

    [Fact]
    public void Defaults_are_pytorchs()
    {
        var o = new PlateauOptions();
        Assert.Equal((PlateauMode.Min, 0.1, 10, 1e-4, PlateauThresholdMode.Rel, 0, 1e-8), (o.Mode, o.Factor, o.Patience, o.Threshold, o.ThresholdMode, o.Cooldown, o.Eps));
        Assert.Equal([0.0], o.MinLr);
        var p = new ReduceLrOnPlateau([0.1]);
        Assert.Equal(new PlateauState(double.PositiveInfinity, 0, 0, [0.1], 0), p.State);
        Assert.Equal(double.NegativeInfinity, new ReduceLrOnPlateau([0.1], new() { Mode = PlateauMode.Max }).State.Best);
        // Patience 10: the 11th non-improving step reduces.
        var lrs = Run(p, Enumerable.Repeat(1.0, 12));
        Assert.Equal(0.1, lrs[10]);      // step 1 sets best; steps 2…11 are 10 bad steps
        Assert.Equal(0.1 * 0.1, lrs[11]);
    }

    [Fact]
    public void Nan_is_never_better_and_counts_as_bad()
    {
        var p = new ReduceLrOnPlateau([0.1], new PlateauOptions { Patience = 1 });
        p.Step(1.0);
        p.Step(double.NaN);
        Assert.Equal(1, p.State.NumBadEpochs);
        Assert.Equal(1.0, p.State.Best);
        Assert.Equal(0.1 * 0.1, p.Step(double.NaN)[0]);
        // A first NaN leaves best at +∞ and is bad too.
        var q = new ReduceLrOnPlateau([0.1], new PlateauOptions { Patience = 0, Mode = PlateauMode.Max });
        Assert.Equal(0.1 * 0.1, q.Step(double.NaN)[0]);
        Assert.Equal(double.NegativeInfinity, q.State.Best);
    }

    [Theory]
    [InlineData(PlateauMode.Min, PlateauThresholdMode.Rel, 0.95, false)]  // needs < 1·(1 − 0.1)
    [InlineData(PlateauMode.Min, PlateauThresholdMode.Rel, 0.89, true)]
    [InlineData(PlateauMode.Min, PlateauThresholdMode.Abs, 0.85, false)]  // needs < 1 − 0.15 = 0.85
    [InlineData(PlateauMode.Min, PlateauThresholdMode.Abs, 0.84, true)]
    [InlineData(PlateauMode.Max, PlateauThresholdMode.Rel, 1.1, false)]   // needs > 1·(0.1 + 1) = 1.1
    [InlineData(PlateauMode.Max, PlateauThresholdMode.Rel, 1.11, true)]
    [InlineData(PlateauMode.Max, PlateauThresholdMode.Abs, 1.2, true)]
    [InlineData(PlateauMode.Max, PlateauThresholdMode.Abs, 1.15, false)]  // needs > 1 + 0.15
    public void Threshold_modes(PlateauMode mode, PlateauThresholdMode thresholdMode, double second, bool improved)
    {
        double thr = thresholdMode == PlateauThresholdMode.Rel ? 0.1 : 0.15;
        var p = new ReduceLrOnPlateau([0.1], new PlateauOptions { Mode = mode, ThresholdMode = thresholdMode, Threshold = thr });
        p.Step(1.0);
        p.Step(second);
        Assert.Equal(improved ? second : 1.0, p.State.Best);
        Assert.Equal(improved ? 0 : 1, p.State.NumBadEpochs);
    }

    [Fact]
    public void Min_lr_floor_and_eps_skip()
    {
        var p = new ReduceLrOnPlateau([1.0, 0.1, 1e-8], new PlateauOptions { Patience = 0, Factor = 0.5, MinLr = [0.3, 0.0, 0.0] });
        Assert.Equal([1.0, 0.1, 1e-8], p.Step(1.0));   // improvement (from +∞)
        Assert.Equal([0.5, 0.05, 1e-8], p.Step(1.0));  // bad: reduce; group 2 would drop by 5e-9 ≤ eps: kept
        Assert.Equal([0.3, 0.025, 1e-8], p.Step(1.0)); // floored at min_lr
        Assert.Equal([0.3, 0.0125, 1e-8], p.Step(1.0));
        var scalar = new ReduceLrOnPlateau([1.0, 20.0], new PlateauOptions { Patience = 0, MinLr = [0.5] });
        scalar.Step(1);
        Assert.Equal([0.5, 2.0], scalar.Step(1)); // 1.0·0.1 floored at 0.5
    }

    [Fact]
    public void Interrupted_run_restored_from_json_continues_identically()
    {
        var options = new PlateauOptions { Patience = 2, Factor = 0.5, Cooldown = 1, MinLr = [1e-3, 1e-4], ThresholdMode = PlateauThresholdMode.Abs, Threshold = 0.01 };
        var rng = new Random(1234);
        double[] metrics = [.. Enumerable.Range(0, 200).Select(i => 1.0 / (1 + i / 20.0) + rng.NextDouble() * 0.05)];
        metrics[37] = double.NaN;

        var straight = new ReduceLrOnPlateau([0.1, 0.02], options);
        var expected = metrics.Select(m => straight.Step(m)).ToArray();

        foreach (int cut in new[] { 0, 1, 5, 37, 38, 99, 200 })
        {
            var first = new ReduceLrOnPlateau([0.1, 0.02], options);
            var got = new List<double[]>();
            for (int i = 0; i < cut; i++) got.Add(first.Step(metrics[i]));
            string json = first.State.ToJson();
            var state = PlateauState.FromJson(json);
            Assert.Equal(first.State, state);
            var resumed = ReduceLrOnPlateau.Restore(options, state);
            for (int i = cut; i < metrics.Length; i++) got.Add(resumed.Step(metrics[i]));
            Assert.Equal(expected.Length, got.Count);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i]);
            Assert.Equal(straight.State, resumed.State);
        }
        Assert.True(straight.Lr[0] < 0.1); // the run did reduce
    }

    [Fact]
    public void Json_uses_pytorch_key_names_and_round_trips_infinity()
    {
        var s = new ReduceLrOnPlateau([0.1, 0.1 / 3]).State;
        string json = s.ToJson();
        Assert.Equal("{\"best\":\"Infinity\",\"num_bad_epochs\":0,\"cooldown_counter\":0,\"lr\":[0.1,0.03333333333333333],\"last_epoch\":0}", json);
        Assert.Equal(s, PlateauState.FromJson(json));
        var max = new PlateauState(double.NegativeInfinity, 3, 1, [0.1], 9);
        Assert.Equal(max, PlateauState.FromJson(max.ToJson()));
        var bad = Assert.Throws<ScheduleValidationException>(() => PlateauState.FromJson("{\"best\":1,\"lr\":[0.1],\"last_epoch\":0}"));
        Assert.Equal(["num_bad_epochs", "cooldown_counter"], bad.Errors.Select(e => e.Parameter));
    }

    [Fact]
    public void State_is_a_snapshot()
    {
        var p = new ReduceLrOnPlateau([0.1]);
        var s = p.State;
        s.Lr[0] = 5;
        Assert.Equal(0.1, p.Lr[0]);
        var returned = p.Step(1);
        returned[0] = 7;
        Assert.Equal(0.1, p.Lr[0]);
    }

    public static TheoryData<string, Action> Invalid => new()
    {
        { "factor", () => _ = new ReduceLrOnPlateau([0.1], new() { Factor = 1.0 }) },
        { "factor", () => _ = new ReduceLrOnPlateau([0.1], new() { Factor = 0 }) },
        { "patience", () => _ = new ReduceLrOnPlateau([0.1], new() { Patience = -1 }) },
        { "cooldown", () => _ = new ReduceLrOnPlateau([0.1], new() { Cooldown = -1 }) },
        { "threshold", () => _ = new ReduceLrOnPlateau([0.1], new() { Threshold = 1 }) },
        { "threshold", () => _ = new ReduceLrOnPlateau([0.1], new() { Threshold = -1e-4, ThresholdMode = PlateauThresholdMode.Abs }) },
        { "eps", () => _ = new ReduceLrOnPlateau([0.1], new() { Eps = double.NaN }) },
        { "min_lr", () => _ = new ReduceLrOnPlateau([0.1, 0.2], new() { MinLr = [0, 0, 0] }) },
        { "min_lr", () => _ = new ReduceLrOnPlateau([0.1], new() { MinLr = [-1] }) },
        { "min_lr", () => _ = new ReduceLrOnPlateau([0.1], new() { MinLr = [] }) },
        { "mode", () => _ = new ReduceLrOnPlateau([0.1], new() { Mode = (PlateauMode)5 }) },
        { "lr", () => _ = new ReduceLrOnPlateau([0.0]) },
        { "mode", () => PlateauOptions.ParseMode("minimum") },
        { "threshold_mode", () => PlateauOptions.ParseThresholdMode("relative") },
        { "num_bad_epochs", () => ReduceLrOnPlateau.Restore(new(), new PlateauState(1, -1, 0, [0.1], 3)) },
        { "best", () => ReduceLrOnPlateau.Restore(new(), new PlateauState(double.NaN, 0, 0, [0.1], 3)) },
        { "min_lr", () => ReduceLrOnPlateau.Restore(new() { MinLr = [0, 0] }, new PlateauState(1, 0, 0, [0.1, 0.1, 0.1], 3)) },
        { "lr", () => ReduceLrOnPlateau.Restore(new(), new PlateauState(1, 0, 0, [], 3)) },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_options_are_named(string param, Action act) =>
        Assert.Equal(param, Assert.Throws<ScheduleValidationException>(act).ParamName);

    [Fact]
    public void Parsers_accept_pytorch_strings()
    {
        Assert.Equal(PlateauMode.Max, PlateauOptions.ParseMode("max"));
        Assert.Equal(PlateauThresholdMode.Abs, PlateauOptions.ParseThresholdMode("abs"));
    }
}
