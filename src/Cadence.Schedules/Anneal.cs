namespace Cadence.Schedules;

/// <summary>
/// The shape of one phase: a value that moves from <see cref="Start"/> to <see cref="End"/> as the
/// phase's progress goes from 0 to 1 (fastai's <c>sched_lin</c>, <c>sched_cos</c>, …).
/// </summary>
/// <remarks>
/// The references write the same shape with different operation orders, and those round differently
/// where a value approaches zero. Each record keeps its reference's order so that policies built from it
/// match that reference to the last bit, not merely to a tolerance.
/// </remarks>
public abstract record Anneal(double Start, double End)
{
    /// <summary>The value at progress <paramref name="pct"/> (0 = start of the phase, 1 = its end).</summary>
    public abstract double At(double pct);

    /// <summary>
    /// The value at step <paramref name="step"/> of a phase of <paramref name="steps"/> steps. PyTorch and
    /// fastai 0.7 compute <c>π·step/steps</c> rather than <c>π·(step/steps)</c>; shapes that care override this.
    /// </summary>
    public virtual double At(long step, long steps) => At((double)step / steps);

    /// <summary>A short name of the shape, used by <see cref="ScheduleDescription"/>.</summary>
    public abstract string Shape { get; }
}

/// <summary>Constant <see cref="Anneal.Start"/> (fastai <c>sched_no</c>, 0.7 <c>DecayType.NO</c>).</summary>
public sealed record Flat(double Value) : Anneal(Value, Value)
{
    /// <inheritdoc />
    public override double At(double pct) => Start;
    /// <inheritdoc />
    public override string Shape => "constant";
}

/// <summary>Straight line: <c>start + pct·(end − start)</c> (fastai <c>sched_lin</c>, PyTorch linear annealing).</summary>
public sealed record Linear(double Start, double End) : Anneal(Start, End)
{
    /// <inheritdoc />
    public override double At(double pct) => Start + pct * (End - Start);
    /// <inheritdoc />
    public override string Shape => "linear";
}

/// <summary>
/// Half cosine in fastai's form: <c>start + (1 + cos(π·(1 − pct)))·(end − start)/2</c>
/// (fastai v2 <c>sched_cos</c>, 0.7 <c>DecayType.COSINE</c> uses <see cref="CosineFromEnd"/>).
/// </summary>
public sealed record Cosine(double Start, double End) : Anneal(Start, End)
{
    /// <inheritdoc />
    public override double At(double pct) => Start + (1 + Math.Cos(Math.PI * (1 - pct))) * (End - Start) / 2;
    /// <inheritdoc />
    public override string Shape => "cosine";
}

/// <summary>
/// Half cosine in PyTorch's form: <c>end + (start − end)/2·(cos(π·pct) + 1)</c> (<c>_annealing_cos</c>,
/// CosineAnnealingLR, CosineAnnealingWarmRestarts, fastai 0.7 <c>DecayType.COSINE</c>). Exact at the end
/// value, where fastai's form cancels.
/// </summary>
public sealed record CosineFromEnd(double Start, double End) : Anneal(Start, End)
{
    /// <inheritdoc />
    public override double At(double pct) => End + (Start - End) / 2.0 * (Math.Cos(Math.PI * pct) + 1);
    /// <inheritdoc />
    public override double At(long step, long steps) => End + (Start - End) / 2.0 * (Math.Cos(Math.PI * step / steps) + 1);
    /// <inheritdoc />
    public override string Shape => "cosine";
}

/// <summary>Geometric: <c>start·(end/start)^pct</c> (fastai <c>sched_exp</c>, the LR range test's sweep).</summary>
public sealed record Exponential(double Start, double End) : Anneal(Start, End)
{
    /// <inheritdoc />
    public override double At(double pct) => Start * Math.Pow(End / Start, pct);
    /// <inheritdoc />
    public override string Shape => "exponential";
}

/// <summary>fastai v2 <c>SchedPoly</c>: <c>start + (end − start)·pct^power</c>.</summary>
public sealed record Polynomial(double Start, double End, double Power) : Anneal(Start, End)
{
    /// <inheritdoc />
    public override double At(double pct) => Start + (End - Start) * Math.Pow(pct, Power);
    /// <inheritdoc />
    public override string Shape => $"polynomial (power {Power.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}

/// <summary>fastai 0.7 <c>DecayType.POLYNOMIAL</c>: <c>end + (start − end)·(1 − pct)^power</c>.</summary>
public sealed record PolynomialToEnd(double Start, double End, double Power) : Anneal(Start, End)
{
    /// <inheritdoc />
    public override double At(double pct) => End + (Start - End) * Math.Pow(1 - pct, Power);
    /// <inheritdoc />
    public override string Shape => $"polynomial (power {Power.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}
