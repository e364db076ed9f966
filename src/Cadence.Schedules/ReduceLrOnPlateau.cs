using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Cadence.Schedules;

/// <summary>Whether the monitored metric should go down (a loss) or up (an accuracy): PyTorch's <c>mode</c>.</summary>
public enum PlateauMode
{
    /// <summary><c>"min"</c>: lower is better.</summary>
    Min,
    /// <summary><c>"max"</c>: higher is better.</summary>
    Max,
}

/// <summary>How <see cref="PlateauOptions.Threshold"/> is applied: PyTorch's <c>threshold_mode</c>.</summary>
public enum PlateauThresholdMode
{
    /// <summary><c>"rel"</c>: better means below <c>best·(1 − threshold)</c> (min) or above <c>best·(threshold + 1)</c> (max).</summary>
    Rel,
    /// <summary><c>"abs"</c>: better means below <c>best − threshold</c> (min) or above <c>best + threshold</c> (max).</summary>
    Abs,
}

/// <summary>
/// The options of PyTorch's <c>ReduceLROnPlateau(optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
/// threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8)</c>, with its defaults.
/// </summary>
public sealed record PlateauOptions
{
    /// <summary><c>mode</c>: whether the metric should decrease (default) or increase.</summary>
    public PlateauMode Mode { get; init; } = PlateauMode.Min;

    /// <summary><c>factor</c>: the lr is multiplied by it on a plateau; in (0, 1) (PyTorch raises for ≥ 1).</summary>
    public double Factor { get; init; } = 0.1;

    /// <summary><c>patience</c>: non-improving steps tolerated; the reduction happens on the (patience + 1)-th in a row. ≥ 0.</summary>
    public int Patience { get; init; } = 10;

    /// <summary><c>threshold</c>: how much better a metric must be to count as an improvement. ≥ 0 (and &lt; 1 in rel mode).</summary>
    public double Threshold { get; init; } = 1e-4;

    /// <summary><c>threshold_mode</c>: relative (default) or absolute threshold.</summary>
    public PlateauThresholdMode ThresholdMode { get; init; } = PlateauThresholdMode.Rel;

    /// <summary><c>cooldown</c>: steps after a reduction during which bad steps are not counted. ≥ 0.</summary>
    public int Cooldown { get; init; }

    /// <summary><c>min_lr</c>: lower bound of each group's lr; one value (for every group) or one per group. Each ≥ 0.</summary>
    public IReadOnlyList<double> MinLr { get; init; } = [0.0];

    /// <summary><c>eps</c>: a reduction smaller than this (old − new ≤ eps) is not applied. ≥ 0.</summary>
    public double Eps { get; init; } = 1e-8;

    /// <summary>Parses PyTorch's <c>mode</c> string, <c>"min"</c> or <c>"max"</c>.</summary>
    /// <exception cref="ScheduleValidationException">Any other string (ParamName <c>mode</c>).</exception>
    public static PlateauMode ParseMode(string? value) => value switch
    {
        "min" => PlateauMode.Min,
        "max" => PlateauMode.Max,
        _ => throw new ScheduleValidationException([new("mode", $"must be one of min, max, got '{value}'")]),
    };

    /// <summary>Parses PyTorch's <c>threshold_mode</c> string, <c>"rel"</c> or <c>"abs"</c>.</summary>
    /// <exception cref="ScheduleValidationException">Any other string (ParamName <c>threshold_mode</c>).</exception>
    public static PlateauThresholdMode ParseThresholdMode(string? value) => value switch
    {
        "rel" => PlateauThresholdMode.Rel,
        "abs" => PlateauThresholdMode.Abs,
        _ => throw new ScheduleValidationException([new("threshold_mode", $"must be one of rel, abs, got '{value}'")]),
    };

    internal void Validate(Check check, int groups)
    {
        check.That(Enum.IsDefined(Mode), "mode", $"must be min or max, got {Mode}")
            .That(Enum.IsDefined(ThresholdMode), "threshold_mode", $"must be rel or abs, got {ThresholdMode}")
            .In("factor", Factor, 0, 1, loOpen: true, hiOpen: true)
            .AtLeast("patience", Patience, 0)
            .AtLeast("cooldown", Cooldown, 0)
            .NonNegative("eps", Eps);
        if (ThresholdMode == PlateauThresholdMode.Rel) check.In("threshold", Threshold, 0, 1, hiOpen: true);
        else check.NonNegative("threshold", Threshold);
        if (MinLr is null || MinLr.Count == 0) check.Fail("min_lr", "needs one value, or one per parameter group");
        else
        {
            foreach (var v in MinLr)
                if (!(v >= 0 && double.IsFinite(v))) { check.Fail("min_lr", $"must be finite numbers ≥ 0, got {Check.F(v)}"); break; }
            if (MinLr.Count != 1 && groups > 0 && MinLr.Count != groups)
                check.Fail("min_lr", $"has {MinLr.Count} values but there are {groups} parameter groups; give one value or one per group");
        }
    }

    internal double MinLrOf(int group) => MinLr.Count == 1 ? MinLr[0] : MinLr[group];
}

/// <summary>
/// Everything <see cref="ReduceLrOnPlateau"/> remembers between steps (PyTorch's <c>state_dict()</c> minus the
/// options): enough to stop a run, save it, and continue it exactly.
/// </summary>
/// <param name="Best">Best metric so far; +∞ (mode min) or −∞ (mode max) before the first step.</param>
/// <param name="NumBadEpochs">Consecutive non-improving steps counted so far (<c>num_bad_epochs</c>).</param>
/// <param name="CooldownCounter">Cooldown steps still to run (<c>cooldown_counter</c>).</param>
/// <param name="Lr">Current lr of each parameter group.</param>
/// <param name="LastEpoch">Number of <see cref="ReduceLrOnPlateau.Step"/> calls so far (<c>last_epoch</c>).</param>
public sealed record PlateauState(double Best, int NumBadEpochs, int CooldownCounter, double[] Lr, long LastEpoch)
{
    /// <summary>Value equality, comparing <see cref="Lr"/> element by element (bit patterns of the doubles, via <see cref="double.Equals(double)"/>).</summary>
    public bool Equals(PlateauState? other) =>
        other is not null && Best.Equals(other.Best) && NumBadEpochs == other.NumBadEpochs && CooldownCounter == other.CooldownCounter
        && LastEpoch == other.LastEpoch && (Lr ?? []).AsSpan().SequenceEqual(other.Lr ?? []);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Best);
        hash.Add(NumBadEpochs);
        hash.Add(CooldownCounter);
        hash.Add(LastEpoch);
        foreach (var v in Lr ?? []) hash.Add(v);
        return hash.ToHashCode();
    }

    /// <summary>
    /// JSON with PyTorch's key names: <c>{"best":…, "num_bad_epochs":…, "cooldown_counter":…, "lr":[…], "last_epoch":…}</c>.
    /// Doubles are written in their shortest round-trip form, so <see cref="FromJson"/> gives back the same bits;
    /// an infinite <c>best</c> is written as the string <c>"Infinity"</c> or <c>"-Infinity"</c>.
    /// </summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WritePropertyName("best");
            WriteDouble(w, Best);
            w.WriteNumber("num_bad_epochs", NumBadEpochs);
            w.WriteNumber("cooldown_counter", CooldownCounter);
            w.WriteStartArray("lr");
            foreach (var v in Lr ?? []) WriteDouble(w, v);
            w.WriteEndArray();
            w.WriteNumber("last_epoch", LastEpoch);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads what <see cref="ToJson"/> wrote.</summary>
    /// <exception cref="ScheduleValidationException">A key is missing or has the wrong type (ParamName is the key).</exception>
    /// <exception cref="JsonException">The text is not JSON.</exception>
    public static PlateauState FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var check = new Check();
        if (root.ValueKind != JsonValueKind.Object)
        {
            check.Fail("state", $"must be a JSON object, got {root.ValueKind}").ThrowIfAny();
        }
        double best = ReadDouble(root, "best", check);
        long numBad = ReadLong(root, "num_bad_epochs", check);
        long cooldown = ReadLong(root, "cooldown_counter", check);
        long lastEpoch = ReadLong(root, "last_epoch", check);
        double[] lr = [];
        if (!root.TryGetProperty("lr", out var lrs) || lrs.ValueKind != JsonValueKind.Array)
            check.Fail("lr", "must be present as an array of numbers");
        else
        {
            lr = new double[lrs.GetArrayLength()];
            int i = 0;
            foreach (var e in lrs.EnumerateArray())
            {
                if (!TryDouble(e, out lr[i])) { check.Fail("lr", $"must hold numbers, got {e.GetRawText()}"); break; }
                i++;
            }
        }
        check.That(numBad is >= int.MinValue and <= int.MaxValue, "num_bad_epochs", "is out of range")
            .That(cooldown is >= int.MinValue and <= int.MaxValue, "cooldown_counter", "is out of range");
        check.ThrowIfAny();
        return new PlateauState(best, (int)numBad, (int)cooldown, lr, lastEpoch);
    }

    private static void WriteDouble(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumberValue(v);
        else w.WriteStringValue(v.ToString(CultureInfo.InvariantCulture)); // "Infinity", "-Infinity", "NaN"
    }

    private static bool TryDouble(JsonElement e, out double v)
    {
        v = 0;
        return e.ValueKind switch
        {
            JsonValueKind.Number => e.TryGetDouble(out v),
            JsonValueKind.String => e.GetString() switch
            {
                "Infinity" => (v = double.PositiveInfinity) > 0,
                "-Infinity" => (v = double.NegativeInfinity) < 0,
                "NaN" => double.IsNaN(v = double.NaN),
                _ => false,
            },
            _ => false,
        };
    }

    private static double ReadDouble(JsonElement root, string key, Check check)
    {
        if (root.TryGetProperty(key, out var e) && TryDouble(e, out double v)) return v;
        check.Fail(key, "must be present as a number (or \"Infinity\" / \"-Infinity\")");
        return 0;
    }

    private static long ReadLong(JsonElement root, string key, Check check)
    {
        if (root.TryGetProperty(key, out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v)) return v;
        check.Fail(key, "must be present as an integer");
        return 0;
    }
}

/// <summary>
/// PyTorch's <c>ReduceLROnPlateau</c>: divides the lr of every group by 1/<c>factor</c> when the monitored metric
/// has stopped improving. Unlike every other Cadence policy it depends on the metrics seen, so it is not a
/// <see cref="Curve"/>; its whole state is the explicit, serializable <see cref="PlateauState"/>.
/// </summary>
/// <remarks>
/// <para><see cref="Step"/>, once per validation, does exactly what PyTorch's <c>step(metrics)</c> does:</para>
/// <list type="number">
/// <item>if the metric is better than <c>best</c> (see <see cref="PlateauThresholdMode"/>), it becomes <c>best</c> and the
/// bad-step count is reset to 0; otherwise the count grows by one;</item>
/// <item>during a cooldown, the cooldown counter goes down by one and the bad-step count is reset to 0;</item>
/// <item>when the count exceeds <c>patience</c>, each group's lr becomes <c>max(lr·factor, min_lr)</c>, but only if that
/// lowers it by more than <c>eps</c>; the cooldown starts and the count is reset.</item>
/// </list>
/// <para>So the reduction happens on the (patience + 1)-th consecutive non-improving step. A NaN metric is never
/// better (every comparison with NaN is false), so it counts as a bad step, as in PyTorch; an infinite one is
/// compared as it is (−∞ in min mode becomes a best nothing can beat).</para>
/// </remarks>
public sealed class ReduceLrOnPlateau
{
    private readonly double[] _lr;
    private double _best;
    private int _numBadEpochs;
    private int _cooldownCounter;
    private long _lastEpoch;

    /// <summary>Starts a run: best is the worst possible value, no bad steps, no cooldown, <c>last_epoch</c> 0.</summary>
    /// <param name="lr">Initial lr of each parameter group (positive, finite).</param>
    /// <param name="options">The options, or null for PyTorch's defaults.</param>
    /// <exception cref="ScheduleValidationException">Invalid lr or options; every problem is listed.</exception>
    public ReduceLrOnPlateau(IReadOnlyList<double> lr, PlateauOptions? options = null)
    {
        options ??= new PlateauOptions();
        var check = new Check().Lr("lr", lr);
        options.Validate(check, lr.Count);
        check.ThrowIfAny();
        Options = options;
        _lr = [.. lr];
        _best = options.Mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;
    }

    private ReduceLrOnPlateau(PlateauOptions options, PlateauState state)
    {
        Options = options;
        _lr = [.. state.Lr];
        _best = state.Best;
        _numBadEpochs = state.NumBadEpochs;
        _cooldownCounter = state.CooldownCounter;
        _lastEpoch = state.LastEpoch;
    }

    /// <summary>
    /// Continues a run from a saved <paramref name="state"/> (e.g. from <see cref="PlateauState.FromJson"/>) with the
    /// same <paramref name="options"/> it ran with; the next <see cref="Step"/> gives what the original run's next step
    /// would have given.
    /// </summary>
    /// <exception cref="ScheduleValidationException">Invalid options, or a state that no run could have reached
    /// (negative counters or lr, NaN best, a number of groups that <c>min_lr</c> does not fit).</exception>
    public static ReduceLrOnPlateau Restore(PlateauOptions options, PlateauState state)
    {
        var check = new Check();
        int groups = state.Lr?.Length ?? 0;
        options.Validate(check, groups);
        check.That(groups > 0, "lr", "needs at least one value (one per parameter group)");
        foreach (var v in state.Lr ?? [])
            if (!(v >= 0 && double.IsFinite(v))) { check.Fail("lr", $"must be finite numbers ≥ 0, got {Check.F(v)}"); break; }
        check.That(!double.IsNaN(state.Best), "best", "must not be NaN (a NaN metric never becomes the best)")
            .AtLeast("num_bad_epochs", state.NumBadEpochs, 0)
            .AtLeast("cooldown_counter", state.CooldownCounter, 0)
            .AtLeast("last_epoch", state.LastEpoch, 0)
            .ThrowIfAny();
        return new ReduceLrOnPlateau(options, state);
    }

    /// <summary>The options this run uses.</summary>
    public PlateauOptions Options { get; }

    /// <summary>Number of parameter groups.</summary>
    public int Groups => _lr.Length;

    /// <summary>The current lr of each group (a copy).</summary>
    public double[] Lr => [.. _lr];

    /// <summary>Whether the next step is in a cooldown (bad steps are not counted).</summary>
    public bool InCooldown => _cooldownCounter > 0;

    /// <summary>A snapshot of the whole state (its <see cref="PlateauState.Lr"/> is a copy).</summary>
    public PlateauState State => new(_best, _numBadEpochs, _cooldownCounter, [.. _lr], _lastEpoch);

    /// <summary>
    /// Records one value of the monitored metric (call once per validation) and returns the lr of every group to use
    /// from now on (a new array). NaN counts as a non-improving value.
    /// </summary>
    public double[] Step(double metric)
    {
        _lastEpoch++;
        if (IsBetter(metric, _best))
        {
            _best = metric;
            _numBadEpochs = 0;
        }
        else _numBadEpochs++;

        if (_cooldownCounter > 0)
        {
            _cooldownCounter--;
            _numBadEpochs = 0; // bad steps during a cooldown are ignored
        }

        if (_numBadEpochs > Options.Patience)
        {
            for (int g = 0; g < _lr.Length; g++)
            {
                double old = _lr[g];
                double reduced = Math.Max(old * Options.Factor, Options.MinLrOf(g));
                if (old - reduced > Options.Eps) _lr[g] = reduced;
            }
            _cooldownCounter = Options.Cooldown;
            _numBadEpochs = 0;
        }
        return [.. _lr];
    }

    /// <summary>PyTorch's <c>_is_better</c>, in its operation order.</summary>
    private bool IsBetter(double a, double best) => (Options.Mode, Options.ThresholdMode) switch
    {
        (PlateauMode.Min, PlateauThresholdMode.Rel) => a < best * (1.0 - Options.Threshold),
        (PlateauMode.Min, PlateauThresholdMode.Abs) => a < best - Options.Threshold,
        (PlateauMode.Max, PlateauThresholdMode.Rel) => a > best * (Options.Threshold + 1.0),
        _ => a > best + Options.Threshold,
    };
}
