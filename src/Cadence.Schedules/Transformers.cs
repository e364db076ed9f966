namespace Cadence.Schedules;

/// <summary>The shape of a WSD warm-up or decay (Hugging Face <c>warmup_type</c> / <c>decay_type</c>).</summary>
public enum WsdShape
{
    /// <summary><c>"linear"</c>: warm-up <c>p</c>, decay <c>1 − p</c>.</summary>
    Linear,
    /// <summary><c>"cosine"</c>: warm-up <c>½(1 − cos(π·p))</c>, decay <c>½(1 + cos(((π·c)·2)·p))</c>.</summary>
    Cosine,
    /// <summary><c>"1-sqrt"</c>: warm-up <c>1 − √(1 − p)</c>, decay <c>1 − √p</c>.</summary>
    OneMinusSqrt,
}

/// <summary>
/// Hugging Face transformers schedules (<c>transformers.optimization</c>) in closed form. Each helper there is a
/// <c>LambdaLR</c> whose multiplier <c>m(t)</c> is a pure function of the optimizer step, so group g's lr at step t
/// is <c>lr_g · m(t)</c>, computed in that order, with each multiplier evaluated in the reference's operation order
/// (bit-exact with the Python source, not merely close). Value t is what optimizer step t uses in the usual
/// <c>optimizer.step(); scheduler.step()</c> loop.
/// </summary>
/// <remarks>
/// <para>Validation errors name Cadence's parameters, which are HF's keywords with <c>num_</c> dropped (except
/// <c>num_cycles</c>) and <c>num_training_steps</c> written <c>total_steps</c>: <c>lr</c>, <c>warmup_steps</c>,
/// <c>total_steps</c>, <c>decay_steps</c>, <c>stable_steps</c>, <c>num_cycles</c>, <c>min_lr_ratio</c>, <c>lr_end</c>,
/// <c>power</c>, <c>timescale</c>, <c>warmup_type</c>, <c>decay_type</c>.</para>
/// <para>Every helper except <see cref="Wsd(IReadOnlyList{double}, long, long, long?, long?, WsdShape, WsdShape, double, double)"/>
/// warms up linearly <b>from 0</b>: <c>m(t) = t / max(1, W)</c> for t &lt; W, so m(0) = 0 and the first optimizer
/// step trains with lr 0 (unless W = 0). Past the training length each helper behaves differently; each factory
/// says how.</para>
/// </remarks>
public static class Transformers
{
    /// <summary>
    /// <c>get_constant_schedule_with_warmup(num_warmup_steps)</c> (policy <c>warmup-constant</c>): linear warm-up
    /// from 0 over <paramref name="warmupSteps"/> steps, then lr forever. W = 0 is <c>get_constant_schedule</c>;
    /// W = 1 gives <c>[0, lr, lr, …]</c>. No length.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    public static Schedule WarmupConstant(IReadOnlyList<double> lr, long warmupSteps)
    {
        new Check().Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0).ThrowIfAny();
        return Scaled("warmup-constant", "Hugging Face get_constant_schedule_with_warmup", lr, new HfConstantCurve(warmupSteps), null);
    }

    /// <summary>
    /// <c>get_linear_schedule_with_warmup(num_warmup_steps, num_training_steps)</c> (policy <c>warmup-linear</c>, the
    /// Trainer default): warm-up from 0, then <c>max(0, (N − t)/max(1, N − W))</c>, reaching exactly 0 at t = N (so the
    /// last step of an N-step run, t = N − 1, uses lr/(N − W)) and clamped at 0 after. W ≥ N: after the warm-up the lr
    /// drops straight to 0.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    /// <param name="totalSteps">N (<c>total_steps</c>, HF <c>num_training_steps</c>), ≥ 1.</param>
    public static Schedule WarmupLinear(IReadOnlyList<double> lr, long warmupSteps, long totalSteps)
    {
        new Check().Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0).AtLeast("total_steps", totalSteps, 1).ThrowIfAny();
        return Scaled("warmup-linear", "Hugging Face get_linear_schedule_with_warmup", lr, new HfLinearCurve(warmupSteps, totalSteps), totalSteps);
    }

    /// <summary>
    /// <c>get_cosine_schedule_with_warmup(num_warmup_steps, num_training_steps, num_cycles=0.5)</c> (policy
    /// <c>warmup-cosine</c>), and with <paramref name="minLrRatio"/> &gt; 0
    /// <c>get_cosine_with_min_lr_schedule_with_warmup(…, min_lr_rate=min_lr_ratio)</c>: warm-up from 0 (not from the
    /// floor), then <c>max(0, w·(1 − r) + r)</c> with <c>w = ½(1 + cos(((π·c)·2)·p))</c> and
    /// <c>p = (t − W)/max(1, N − W)</c>. With c = 0.5 the floor r is reached exactly at t = N; <b>past N the cosine
    /// is not clamped</b> and rises again (period 2(N − W) for c = 0.5). c = 2 gives two full waves and ends at lr.
    /// W ≥ N: after the warm-up the lr alternates lr, r·lr, lr, … . r = 0 is the plain helper exactly (HF itself
    /// evaluates the plain helper through the min-lr formula). For HF's absolute <c>min_lr</c>, pass
    /// <c>min_lr / lr[0]</c> computed in doubles (bit-exact, as HF divides the same two doubles by
    /// <c>optimizer.defaults["lr"]</c>); it then scales with each group's lr.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    /// <param name="totalSteps">N (<c>total_steps</c>), ≥ 1.</param>
    /// <param name="numCycles">c (<c>num_cycles</c>): cosine periods over the decay, &gt; 0; 0.5 is a half wave.</param>
    /// <param name="minLrRatio">r (<c>min_lr_ratio</c>, HF <c>min_lr_rate</c>), in [0, 1].</param>
    public static Schedule WarmupCosine(IReadOnlyList<double> lr, long warmupSteps, long totalSteps, double numCycles = 0.5, double minLrRatio = 0)
    {
        new Check().Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0).AtLeast("total_steps", totalSteps, 1)
            .Positive("num_cycles", numCycles).In("min_lr_ratio", minLrRatio, 0, 1).ThrowIfAny();
        string reference = minLrRatio > 0
            ? "Hugging Face get_cosine_with_min_lr_schedule_with_warmup"
            : "Hugging Face get_cosine_schedule_with_warmup";
        return Scaled("warmup-cosine", reference, lr, new HfCosineCurve(warmupSteps, totalSteps, numCycles, minLrRatio), totalSteps);
    }

    /// <summary>
    /// <c>get_cosine_with_hard_restarts_schedule_with_warmup(num_warmup_steps, num_training_steps, num_cycles=1)</c>
    /// (policy <c>warmup-cosine-restarts</c>; note the default c = 1, not 0.5): warm-up from 0, then c half cosines
    /// from 1 toward 0, <c>½(1 + cos(π·((c·p) mod 1)))</c> with Python's non-negative float mod. The lr jumps back to
    /// lr when c·p crosses an integer; a cycle is (N − W)/c steps and need not be whole, in which case the first step
    /// of a new cycle is already below lr. 0 is never reached inside a cycle; from t = N on (p ≥ 1) the lr is 0.
    /// With c = 1 it equals <see cref="WarmupCosine"/> for t &lt; N.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    /// <param name="totalSteps">N (<c>total_steps</c>), ≥ 1.</param>
    /// <param name="numCycles">c (<c>num_cycles</c>): number of half-cosine cycles, &gt; 0 (need not be an integer).</param>
    public static Schedule WarmupCosineRestarts(IReadOnlyList<double> lr, long warmupSteps, long totalSteps, double numCycles = 1)
    {
        new Check().Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0).AtLeast("total_steps", totalSteps, 1)
            .Positive("num_cycles", numCycles).ThrowIfAny();
        return Scaled("warmup-cosine-restarts", "Hugging Face get_cosine_with_hard_restarts_schedule_with_warmup", lr,
            new HfRestartsCurve(warmupSteps, totalSteps, numCycles), totalSteps);
    }

    /// <summary>
    /// <c>get_polynomial_decay_schedule_with_warmup(num_warmup_steps, num_training_steps, lr_end=1e-7, power=1.0)</c>
    /// (policy <c>warmup-polynomial</c>): warm-up from 0, then for W ≤ t ≤ N
    /// <c>m = ((lr_init − lr_end)·(1 − (t − W)/(N − W))^power + lr_end) / lr_init</c>, and <c>lr_end / lr_init</c> after
    /// N (so the lr is lr_end from t = N on; with power 0, m(N) = 0⁰ = 1 and the drop comes at N + 1). lr_init is the
    /// <b>first</b> group's lr (HF's <c>optimizer.defaults["lr"]</c>); a group with another lr ends at
    /// <c>lr_g·lr_end/lr_init</c>, not at lr_end. The lr is <c>lr_g·(x/lr_init)</c>, which can differ from x by an ulp,
    /// as in HF. W = N is rejected: HF divides by zero at t = N (the <c>scheduler.step()</c> after the last step of an
    /// N-step run). W &gt; N is accepted: the warm-up runs to (W − 1)/W, then the lr is lr_end.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group; lr[0] is lr_init.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0 and ≠ N.</param>
    /// <param name="totalSteps">N (<c>total_steps</c>), ≥ 1.</param>
    /// <param name="lrEnd">Final lr (<c>lr_end</c>), ≥ 0 and &lt; lr[0].</param>
    /// <param name="power">Exponent (<c>power</c>), ≥ 0 (HF raises at t = N for a negative one).</param>
    public static Schedule WarmupPolynomial(IReadOnlyList<double> lr, long warmupSteps, long totalSteps, double lrEnd = 1e-7, double power = 1.0)
    {
        var check = new Check().Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0).AtLeast("total_steps", totalSteps, 1)
            .NonNegative("lr_end", lrEnd).NonNegative("power", power);
        if (lr.Count > 0)
            check.That(!(lrEnd >= lr[0]), "lr_end", $"must be smaller than the initial lr {Check.F(lr[0])} (the first group's), got {Check.F(lrEnd)}");
        check.That(warmupSteps != totalSteps, "warmup_steps",
            $"must differ from total_steps ({totalSteps}): Hugging Face divides by zero at step {totalSteps} when they are equal");
        check.ThrowIfAny();
        return Scaled("warmup-polynomial", "Hugging Face get_polynomial_decay_schedule_with_warmup", lr,
            new HfPolynomialCurve(warmupSteps, totalSteps, lr[0], lrEnd, power), totalSteps);
    }

    /// <summary>
    /// <c>get_inverse_sqrt_schedule(num_warmup_steps, timescale=None)</c> (policy <c>inverse-sqrt</c>): warm-up from 0,
    /// then <c>1 / √((t + (τ − W)) / τ)</c>, i.e. √(τ/(t − W + τ)), 1 at t = W and decaying forever (no length).
    /// τ = <paramref name="timescale"/>, or W when null, or 10000 when null and W = 0. With τ = W it is the Noam decay
    /// √(W/t) normalised to a peak of 1; τ &lt; W decays faster.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    /// <param name="timescale">τ (<c>timescale</c>), &gt; 0 (HF divides by zero with 0), or null for the default.</param>
    public static Schedule InverseSqrt(IReadOnlyList<double> lr, long warmupSteps, long? timescale = null)
    {
        var check = new Check().Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0);
        if (timescale is { } tau) check.That(tau > 0, "timescale", $"must be an integer > 0, got {tau}");
        check.ThrowIfAny();
        long scale = timescale ?? (warmupSteps != 0 ? warmupSteps : 10_000);
        return Scaled("inverse-sqrt", "Hugging Face get_inverse_sqrt_schedule", lr, new HfInverseSqrtCurve(warmupSteps, scale), null);
    }

    /// <summary>
    /// <c>get_wsd_schedule(num_warmup_steps, num_decay_steps, num_training_steps=None, num_stable_steps=None,
    /// warmup_type="linear", decay_type="cosine", min_lr_ratio=0, num_cycles=0.5)</c> (policy <c>wsd</c>,
    /// Warmup-Stable-Decay): a shaped warm-up <b>from r</b> (m(0) = r, not 0) over W steps, 1 for S steps, a shaped
    /// decay over D steps, then r forever. Each shaped value is <c>max(0, f·(1 − r) + r)</c> with
    /// <c>p = t/max(1, W)</c> in the warm-up and <c>p = (t − W − S)/max(1, D)</c> in the decay. The decay's first step
    /// has p = 0 (m = 1), so the full lr lasts S + 1 steps, and its last has p = (D − 1)/D: r is reached only at
    /// t = W + S + D (= N when S is derived). S = <paramref name="stableSteps"/> when given (then
    /// <paramref name="totalSteps"/> is ignored, as HF does with a warning), else <c>N − W − D</c> with no clamp: a
    /// negative S starts the decay clock before the warm-up ends, so the decay is already under way at t = W.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    /// <param name="decaySteps">D (<c>decay_steps</c>), ≥ 0; 0 drops to r right after the stable phase.</param>
    /// <param name="totalSteps">N (<c>total_steps</c>), ≥ 1; required unless <paramref name="stableSteps"/> is given.</param>
    /// <param name="stableSteps">S (<c>stable_steps</c>), ≥ 0; takes precedence over <paramref name="totalSteps"/>.</param>
    /// <param name="warmupType">The warm-up's shape (<c>warmup_type</c>).</param>
    /// <param name="decayType">The decay's shape (<c>decay_type</c>).</param>
    /// <param name="minLrRatio">r (<c>min_lr_ratio</c>), in [0, 1].</param>
    /// <param name="numCycles">c (<c>num_cycles</c>), &gt; 0; used by the cosine decay only (1 = a full wave back up).</param>
    public static Schedule Wsd(IReadOnlyList<double> lr, long warmupSteps, long decaySteps, long? totalSteps = null, long? stableSteps = null,
        WsdShape warmupType = WsdShape.Linear, WsdShape decayType = WsdShape.Cosine, double minLrRatio = 0, double numCycles = 0.5) =>
        Wsd(new Check(), lr, warmupSteps, decaySteps, totalSteps, stableSteps, warmupType, decayType, minLrRatio, numCycles);

    /// <summary>
    /// <see cref="Wsd(IReadOnlyList{double}, long, long, long?, long?, WsdShape, WsdShape, double, double)"/> with the
    /// shapes given as Hugging Face strings (<c>"linear"</c>, <c>"cosine"</c>, <c>"1-sqrt"</c>); an unknown string is
    /// reported together with every other invalid parameter.
    /// </summary>
    /// <param name="lr">Base lr of each parameter group.</param>
    /// <param name="warmupSteps">W (<c>warmup_steps</c>), ≥ 0.</param>
    /// <param name="decaySteps">D (<c>decay_steps</c>), ≥ 0.</param>
    /// <param name="totalSteps">N (<c>total_steps</c>), ≥ 1; required unless <paramref name="stableSteps"/> is given.</param>
    /// <param name="stableSteps">S (<c>stable_steps</c>), ≥ 0; takes precedence over <paramref name="totalSteps"/>.</param>
    /// <param name="warmupType"><c>warmup_type</c>: linear, cosine or 1-sqrt.</param>
    /// <param name="decayType"><c>decay_type</c>: linear, cosine or 1-sqrt.</param>
    /// <param name="minLrRatio">r (<c>min_lr_ratio</c>), in [0, 1].</param>
    /// <param name="numCycles">c (<c>num_cycles</c>), &gt; 0.</param>
    public static Schedule Wsd(IReadOnlyList<double> lr, long warmupSteps, long decaySteps, long? totalSteps, long? stableSteps,
        string warmupType, string decayType, double minLrRatio = 0, double numCycles = 0.5)
    {
        var check = new Check();
        var warmup = ParseShape(check, "warmup_type", warmupType);
        var decay = ParseShape(check, "decay_type", decayType);
        return Wsd(check, lr, warmupSteps, decaySteps, totalSteps, stableSteps, warmup, decay, minLrRatio, numCycles);
    }

    /// <summary>
    /// Parses a Hugging Face WSD shape name: <c>"linear"</c>, <c>"cosine"</c> or <c>"1-sqrt"</c> (exact, lower case, as HF
    /// compares them).
    /// </summary>
    /// <param name="value">The name.</param>
    /// <param name="parameter">The parameter it was given for (<c>warmup_type</c> or <c>decay_type</c>), named in the error.</param>
    /// <exception cref="ScheduleValidationException">Any other string; <see cref="ArgumentException.ParamName"/> is <paramref name="parameter"/>.</exception>
    public static WsdShape ParseWsdShape(string? value, string parameter)
    {
        var check = new Check();
        var shape = ParseShape(check, parameter, value);
        check.ThrowIfAny();
        return shape;
    }

    /// <summary>The Hugging Face name of <paramref name="shape"/> (<c>"linear"</c>, <c>"cosine"</c>, <c>"1-sqrt"</c>).</summary>
    public static string Name(this WsdShape shape) => shape switch
    {
        WsdShape.Linear => "linear",
        WsdShape.Cosine => "cosine",
        WsdShape.OneMinusSqrt => "1-sqrt",
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "unknown WSD shape"),
    };

    private static WsdShape ParseShape(Check check, string parameter, string? value)
    {
        switch (value)
        {
            case "linear": return WsdShape.Linear;
            case "cosine": return WsdShape.Cosine;
            case "1-sqrt": return WsdShape.OneMinusSqrt;
            default:
                check.Fail(parameter, $"must be one of linear, cosine, 1-sqrt, got '{value}'");
                return WsdShape.Linear;
        }
    }

    private static Schedule Wsd(Check check, IReadOnlyList<double> lr, long warmupSteps, long decaySteps, long? totalSteps, long? stableSteps,
        WsdShape warmupType, WsdShape decayType, double minLrRatio, double numCycles)
    {
        check.Lr("lr", lr).AtLeast("warmup_steps", warmupSteps, 0).AtLeast("decay_steps", decaySteps, 0)
            .In("min_lr_ratio", minLrRatio, 0, 1).Positive("num_cycles", numCycles)
            .That(Enum.IsDefined(warmupType), "warmup_type", $"must be one of linear, cosine, 1-sqrt, got {warmupType}")
            .That(Enum.IsDefined(decayType), "decay_type", $"must be one of linear, cosine, 1-sqrt, got {decayType}");
        if (totalSteps is null && stableSteps is null)
            check.Fail("total_steps", "or stable_steps must be given (Hugging Face requires num_training_steps or num_stable_steps)");
        if (stableSteps is { } s) check.AtLeast("stable_steps", s, 0);
        else if (totalSteps is { } n) check.AtLeast("total_steps", n, 1);
        check.ThrowIfAny();

        long stable = stableSteps ?? totalSteps!.Value - warmupSteps - decaySteps;
        long end = warmupSteps + stable + decaySteps;
        return Scaled("wsd", "Hugging Face get_wsd_schedule", lr,
            new WsdCurve(warmupSteps, stable, decaySteps, warmupType, decayType, minLrRatio, numCycles), end > 0 ? end : null);
    }

    private static Schedule Scaled(string policy, string reference, IReadOnlyList<double> lr, Curve multiplier, long? length) => new()
    {
        Policy = policy,
        Reference = reference,
        Length = length,
        Lr = [.. lr.Select(l => (Curve)new ScaledCurve(l, multiplier))],
    };
}

/// <summary>HF's shared linear warm-up, <c>float(t) / float(max(1, W))</c>.</summary>
internal static class HfWarmup
{
    internal static double At(long step, long warmup) => (double)step / Math.Max(1L, warmup);

    internal static readonly Piece Piece = new(0, "linear");
}

/// <summary><c>_get_constant_schedule_with_warmup_lr_lambda</c>.</summary>
internal sealed record HfConstantCurve(long Warmup) : Curve
{
    public override double At(long step) => step < Warmup ? HfWarmup.At(step, Warmup) : 1.0;
    public override Piece PieceAt(long step) => step < Warmup ? HfWarmup.Piece : new(1, "constant");
}

/// <summary><c>_get_linear_schedule_with_warmup_lr_lambda</c>: <c>max(0, float(N − t) / float(max(1, N − W)))</c>.</summary>
internal sealed record HfLinearCurve(long Warmup, long Total) : Curve
{
    public override double At(long step) =>
        step < Warmup ? HfWarmup.At(step, Warmup) : Math.Max(0.0, (double)(Total - step) / Math.Max(1L, Total - Warmup));

    public override Piece PieceAt(long step) =>
        step < Warmup ? HfWarmup.Piece : step < Total ? new(1, "linear") : new(2, "constant");
}

/// <summary>
/// The second <c>_get_cosine_schedule_with_warmup_lr_lambda</c> (with <c>min_lr_rate</c>), which both cosine helpers run:
/// <c>w = 0.5·(1 + cos(π·c·2·p))</c> left to right, then <c>max(0, w·(1 − r) + r)</c>.
/// </summary>
internal sealed record HfCosineCurve(long Warmup, long Total, double Cycles, double MinRatio) : Curve
{
    public override double At(long step)
    {
        if (step < Warmup) return HfWarmup.At(step, Warmup);
        double progress = (double)(step - Warmup) / Math.Max(1L, Total - Warmup);
        double factor = 0.5 * (1.0 + Math.Cos(Math.PI * Cycles * 2.0 * progress));
        factor = factor * (1 - MinRatio) + MinRatio;
        return Math.Max(0.0, factor);
    }

    // Past N the cosine keeps going (it rises again): a piece of its own so explanations can say so.
    public override Piece PieceAt(long step) =>
        step < Warmup ? HfWarmup.Piece : step < Total || Warmup >= Total ? new(1, "cosine") : new(2, "cosine");
}

/// <summary><c>_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda</c>.</summary>
internal sealed record HfRestartsCurve(long Warmup, long Total, double Cycles) : Curve
{
    private double Progress(long step) => (double)(step - Warmup) / Math.Max(1L, Total - Warmup);

    public override double At(long step)
    {
        if (step < Warmup) return HfWarmup.At(step, Warmup);
        double progress = Progress(step);
        if (progress >= 1.0) return 0.0;
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * PyMod1(Cycles * progress))));
    }

    public override Piece PieceAt(long step)
    {
        if (step < Warmup) return HfWarmup.Piece;
        double progress = Progress(step);
        if (progress >= 1.0) return new(-2, "constant");
        return new(1 + (long)Math.Floor(Cycles * progress), "cosine");
    }

    /// <summary>Python's <c>x % 1.0</c>: the C remainder moved into [0, 1), and +0 for a zero result.</summary>
    internal static double PyMod1(double x)
    {
        double mod = x % 1.0; // C fmod, as CPython's float_rem starts with
        if (mod != 0) { if (mod < 0) mod += 1.0; }
        else mod = 0.0;
        return mod;
    }
}

/// <summary><c>_get_polynomial_decay_schedule_with_warmup_lr_lambda</c> (no max(1, ·) guard: W ≠ N is validated).</summary>
internal sealed record HfPolynomialCurve(long Warmup, long Total, double LrInit, double LrEnd, double Power) : Curve
{
    public override double At(long step)
    {
        if (step < Warmup) return HfWarmup.At(step, Warmup);
        if (step > Total) return LrEnd / LrInit;
        double lrRange = LrInit - LrEnd;
        long decaySteps = Total - Warmup;
        double pctRemaining = 1 - (double)(step - Warmup) / decaySteps;
        double decay = lrRange * Math.Pow(pctRemaining, Power) + LrEnd;
        return decay / LrInit;
    }

    public override Piece PieceAt(long step) =>
        step < Warmup ? HfWarmup.Piece
        : step > Total ? new(2, "constant")
        : new(1, Power == 1 ? "linear" : "polynomial");
}

/// <summary><c>_get_inverse_sqrt_schedule_lr_lambda</c>: <c>1.0 / sqrt((t + (τ − W)) / τ)</c>, the shift an integer.</summary>
internal sealed record HfInverseSqrtCurve(long Warmup, long Timescale) : Curve
{
    public override double At(long step)
    {
        if (step < Warmup) return HfWarmup.At(step, Warmup);
        long shift = Timescale - Warmup;
        return 1.0 / Math.Sqrt((double)(step + shift) / Timescale);
    }

    public override Piece PieceAt(long step) => step < Warmup ? HfWarmup.Piece : new(1, "inverse square root");
}

/// <summary><c>_get_wsd_scheduler_lambda</c>.</summary>
internal sealed record WsdCurve(long Warmup, long Stable, long Decay, WsdShape WarmupType, WsdShape DecayType, double MinRatio, double Cycles) : Curve
{
    public override double At(long step)
    {
        double factor;
        if (step < Warmup)
        {
            double progress = (double)step / Math.Max(1L, Warmup);
            factor = WarmupType switch
            {
                WsdShape.Linear => progress,
                WsdShape.Cosine => 0.5 * (1.0 - Math.Cos(Math.PI * progress)),
                _ => 1.0 - Math.Sqrt(1.0 - progress),
            };
            factor = factor * (1.0 - MinRatio) + MinRatio;
            return Math.Max(0.0, factor);
        }
        if (step < Warmup + Stable) return 1.0;
        if (step < Warmup + Stable + Decay)
        {
            double progress = (double)(step - Warmup - Stable) / Math.Max(1L, Decay);
            factor = DecayType switch
            {
                WsdShape.Linear => 1.0 - progress,
                WsdShape.Cosine => 0.5 * (1.0 + Math.Cos(Math.PI * Cycles * 2.0 * progress)),
                _ => 1.0 - Math.Sqrt(progress),
            };
            factor = factor * (1.0 - MinRatio) + MinRatio;
            return Math.Max(0.0, factor);
        }
        return MinRatio;
    }

    public override Piece PieceAt(long step) =>
        step < Warmup ? new(0, ShapeName(WarmupType))
        : step < Warmup + Stable ? new(1, "constant")
        : step < Warmup + Stable + Decay ? new(2, ShapeName(DecayType))
        : new(3, "constant");

    private static string ShapeName(WsdShape shape) => shape == WsdShape.OneMinusSqrt ? "1 − square root" : shape.Name();
}
