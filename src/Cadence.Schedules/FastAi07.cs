namespace Cadence.Schedules;

/// <summary>fastai 0.7's <c>use_clr=(div, cut_div[, max_mom, min_mom])</c>: <see cref="CircularLr07"/>.</summary>
/// <param name="Div">lr/div is the floor of the cycle (where it starts).</param>
/// <param name="CutDiv">The first 1/cut_div of the cycle climbs, the rest descends.</param>
/// <param name="MaxMom">Momentum at the floor of the lr (optional; both or neither).</param>
/// <param name="MinMom">Momentum at the peak of the lr.</param>
public readonly record struct UseClr(double Div, double CutDiv, double? MaxMom = null, double? MinMom = null);

/// <summary>fastai 0.7's <c>use_clr_beta=(div, pct[, max_mom, min_mom])</c>, its first 1cycle: <see cref="CircularLrBeta07"/>.</summary>
/// <param name="Div">lr/div is where the cycle starts and ends its triangle.</param>
/// <param name="Pct">Percentage (0–100) of the cycle spent annihilating from lr/div towards lr/div/100.</param>
/// <param name="MaxMom">Momentum at the ends of the triangle (optional; both or neither).</param>
/// <param name="MinMom">Momentum at the lr peak.</param>
public readonly record struct UseClrBeta(double Div, double Pct, double? MaxMom = null, double? MinMom = null);

/// <summary>fastai 0.7 <c>DecayType</c> for <see cref="TrainingPhase07"/>.</summary>
public enum DecayType07
{
    /// <summary>Constant start value.</summary>
    No = 1,
    /// <summary>Linear from start to end.</summary>
    Linear = 2,
    /// <summary>Half cosine from start to end.</summary>
    Cosine = 3,
    /// <summary>Geometric from start to end.</summary>
    Exponential = 4,
    /// <summary><c>end + (start − end)(1 − pct)^power</c>.</summary>
    Polynomial = 5,
}

/// <summary>One phase of fastai 0.7's <c>fit_opt_sched</c> (<c>TrainingPhase</c>).</summary>
/// <param name="Epochs">Length of the phase in epochs.</param>
/// <param name="LrStart">Learning rate at the start (one per group, or one for all).</param>
/// <param name="LrEnd">Learning rate at the end (null: 0 for linear/cosine/polynomial, unused otherwise).</param>
/// <param name="LrDecay">Shape of the lr.</param>
/// <param name="MomentumStart">Momentum at the start.</param>
/// <param name="MomentumEnd">Momentum at the end (null as for the lr).</param>
/// <param name="MomentumDecay">Shape of the momentum.</param>
/// <param name="LrPower">Power of a polynomial lr decay.</param>
/// <param name="MomentumPower">Power of a polynomial momentum decay.</param>
public sealed record TrainingPhase07(
    double Epochs, IReadOnlyList<double> LrStart, IReadOnlyList<double>? LrEnd = null, DecayType07 LrDecay = DecayType07.No,
    double MomentumStart = 0.9, double? MomentumEnd = null, DecayType07 MomentumDecay = DecayType07.No,
    double LrPower = 1, double MomentumPower = 1);

/// <summary>
/// fastai 0.7 (<c>learn.fit</c>, <c>sgdr.py</c>): value t is what batch t + 1 trains with. Every group's lr is
/// its own initial lr times the same factor, so the ratios of differential learning rates are kept.
/// </summary>
public static class FastAi07
{
    /// <summary>
    /// The number of epochs <c>learn.fit</c> trains: <c>sum_geom(cycle_len or 1, cycle_mult, n_cycle)</c> =
    /// <c>a·n</c> when <c>r = 1</c>, else <c>ceil(a·(1 − rⁿ)/(1 − r))</c>. Note that only the cosine schedule
    /// actually grows its cycles; <c>use_clr</c> repeats identical cycles over the same number of epochs.
    /// </summary>
    public static long Epochs(int cycles, int? cycleLen, int cycleMult)
    {
        long a = cycleLen ?? 1;
        if (cycleMult == 1) return a * cycles;
        long rn = 1;
        for (int i = 0; i < cycles; i++) rn = checked(rn * cycleMult);
        return (long)Math.Ceiling(checked(a * (1 - rn)) / (double)(1 - cycleMult));
    }

    /// <summary>
    /// <c>learn.fit(lrs, n_cycle, cycle_len, cycle_mult, use_clr, use_clr_beta)</c>: a constant lr without
    /// <paramref name="cycleLen"/>; SGDR (<see cref="CosAnneal07"/>) with it; the slanted triangle with
    /// <paramref name="useClr"/>; fastai's first 1cycle with <paramref name="useClrBeta"/>.
    /// </summary>
    /// <param name="lr">One learning rate, or one per parameter group (differential learning rates).</param>
    /// <param name="batchesPerEpoch">Batches in one epoch (<c>len(data.trn_dl)</c>).</param>
    /// <param name="cycles"><c>n_cycle</c>.</param>
    /// <param name="cycleLen"><c>cycle_len</c>, in epochs.</param>
    /// <param name="cycleMult"><c>cycle_mult</c>: each cosine cycle is this many times longer than the one before.</param>
    /// <param name="useClr"><c>use_clr</c>.</param>
    /// <param name="useClrBeta"><c>use_clr_beta</c>.</param>
    public static Schedule Fit(IReadOnlyList<double> lr, long batchesPerEpoch, int cycles = 1, int? cycleLen = null,
        int cycleMult = 1, UseClr? useClr = null, UseClrBeta? useClrBeta = null)
    {
        var check = new Check().Lr("lr", lr)
            .AtLeast("batches_per_epoch", batchesPerEpoch, 1)
            .AtLeast("cycles", cycles, 1)
            .AtLeast("cycle_mult", cycleMult, 1);
        if (cycleLen is { } len) check.AtLeast("cycle_len", len, 1);
        if (useClr is not null && useClrBeta is not null)
            check.Fail("use_clr", "give either use_clr or use_clr_beta, not both");
        if ((useClr is not null || useClrBeta is not null) && cycleLen is null)
            check.Fail("cycle_len", $"is required with {(useClr is not null ? "use_clr" : "use_clr_beta")} (it sets the length of a cycle)");
        check.ThrowIfAny();

        long nb = batchesPerEpoch * (cycleLen ?? 1);
        long epochs = Epochs(cycles, cycleLen, cycleMult);
        IReadOnlyList<Curve>? momentum = null;
        Curve[] curves;
        string reference;
        if (useClr is { } clr)
        {
            var c = new Check()
                .AtLeast("use_clr", clr.Div, 1)
                .AtLeast("use_clr", clr.CutDiv, 1);
            double cutPt = PyFloorDiv(nb, clr.CutDiv);
            c.That(!(clr.CutDiv >= 1) || cutPt >= 1, "use_clr",
                $"cut_div {Check.F(clr.CutDiv)} leaves no iteration to climb in a cycle of {nb} (nb // cut_div = 0; fastai 0.7 divides by zero here): use cut_div ≤ {nb} or a longer cycle_len");
            (curves, momentum, reference) = Cyclical(c, "use_clr", lr, clr.MaxMom, clr.MinMom,
                l => new CircularLr07(l, nb, clr.Div, cutPt), (m0, m1) => new CircularMomentum07(m0, m1, nb, cutPt),
                "fastai 0.7 CircularLR (use_clr)");
        }
        else if (useClrBeta is { } beta)
        {
            var c = new Check().AtLeast("use_clr_beta", beta.Div, 1)
                .That(beta.Pct >= 0 && beta.Pct < 100, "use_clr_beta", $"pct must be in [0, 100), got {Check.F(beta.Pct)}");
            long cycleNb = (long)(nb * (1 - beta.Pct / 100) / 2);
            c.That(!(beta.Pct >= 0 && beta.Pct < 100) || cycleNb >= 1, "use_clr_beta",
                $"a cycle of {nb} iterations with pct {Check.F(beta.Pct)} leaves int(nb·(1 − pct/100)/2) = 0 iterations per half-triangle (fastai 0.7 divides by zero): use a longer cycle_len or a smaller pct");
            (curves, momentum, reference) = Cyclical(c, "use_clr_beta", lr, beta.MaxMom, beta.MinMom,
                l => new CircularLrBeta07(l, nb, beta.Div, cycleNb), (m0, m1) => new CircularMomentumBeta07(m0, m1, nb, cycleNb),
                "fastai 0.7 CircularLR_beta (use_clr_beta)");
        }
        else if (cycleLen is not null)
        {
            curves = [.. lr.Select(l => (Curve)new CosAnneal07(l, nb, cycleMult))];
            reference = "fastai 0.7 CosAnneal (cycle_len)";
        }
        else
        {
            curves = [.. lr.Select(Curve.Constant)];
            reference = "fastai 0.7 fit (constant lr)";
        }
        return new Schedule
        {
            Policy = "fit",
            Reference = reference,
            Lr = curves,
            Momentum = momentum,
            Length = epochs * batchesPerEpoch,
            StepsPerEpoch = batchesPerEpoch,
        };
    }

    /// <summary>
    /// fastai 0.7 <c>fit_opt_sched</c>: phases of <c>epochs·batchesPerEpoch</c> batches; batch k of a phase uses
    /// progress k/num_it, so each phase's end value is never used (<c>DecayScheduler.next_val</c>).
    /// </summary>
    public static Schedule Phases(IReadOnlyList<TrainingPhase07> phases, long batchesPerEpoch)
    {
        var check = new Check().AtLeast("batches_per_epoch", batchesPerEpoch, 1)
            .That(phases.Count > 0, "phases", "needs at least one phase");
        int groups = 1;
        for (int i = 0; i < phases.Count; i++)
        {
            var p = phases[i];
            check.Positive($"phases[{i}].epochs", p.Epochs).Lr($"phases[{i}].lr", p.LrStart);
            if (p.LrEnd is not null) check.That(p.LrEnd.All(v => v >= 0 && double.IsFinite(v)), $"phases[{i}].lr", "end values must be finite and ≥ 0");
            groups = Math.Max(groups, check.Groups(($"phases[{i}].lr", p.LrStart), ($"phases[{i}].lr", p.LrEnd)));
            long n = (long)(batchesPerEpoch * p.Epochs);
            check.That(n >= 1, $"phases[{i}].epochs", $"gives {n} batches; a phase needs at least one");
            if (p.LrDecay == DecayType07.Exponential)
                check.That(p.LrEnd is not null && p.LrEnd.All(v => v > 0), $"phases[{i}].lr", "an exponential decay needs a positive end value");
        }
        check.ThrowIfAny();

        long total = 0;
        var lengths = phases.Select(p => (long)(batchesPerEpoch * p.Epochs)).ToArray();
        foreach (var l in lengths) total += l;
        var lr = new Curve[groups];
        var mom = new Curve[groups];
        for (int g = 0; g < groups; g++)
        {
            lr[g] = Curve.Concat([.. phases.Select((p, i) => (lengths[i], Curve.Over(
                Decay(p.LrDecay, Check.Of(p.LrStart, g), p.LrEnd is null ? null : Check.Of(p.LrEnd, g), p.LrPower), lengths[i])))]);
            mom[g] = Curve.Concat([.. phases.Select((p, i) => (lengths[i], Curve.Over(
                Decay(p.MomentumDecay, p.MomentumStart, p.MomentumEnd, p.MomentumPower), lengths[i])))]);
        }
        return new Schedule
        {
            Policy = "fit-opt-sched",
            Reference = "fastai 0.7 fit_opt_sched (TrainingPhase)",
            Lr = lr,
            Momentum = mom,
            Length = total,
            StepsPerEpoch = batchesPerEpoch,
        };
    }

    private static Anneal Decay(DecayType07 type, double start, double? end, double power) => type switch
    {
        DecayType07.No => new Flat(start),
        DecayType07.Linear => new Linear(start, end ?? 0),
        DecayType07.Cosine => new CosineFromEnd(start, end ?? 0),
        DecayType07.Exponential => new Exponential(start, end ?? start),
        DecayType07.Polynomial => new PolynomialToEnd(start, end ?? 0, power),
        _ => throw new ScheduleValidationException([new("lr_decay", $"unknown decay type {type}")]),
    };

    /// <summary>
    /// The lr curve of every group and, when both momenta are given, the momentum curve fastai's callback applies
    /// (one step ahead of the lr: it updates after the batch), once the option's checks have passed.
    /// </summary>
    private static (Curve[] Lr, IReadOnlyList<Curve>? Momentum, string Reference) Cyclical(Check c, string option,
        IReadOnlyList<double> lr, double? maxMom, double? minMom, Func<double, Curve> lrCurve,
        Func<double, double, Curve> momentumCurve, string reference)
    {
        Moms(c, option, maxMom, minMom);
        c.ThrowIfAny();
        var momentum = maxMom is { } m0 && minMom is { } m1 ? Same(lr.Count, momentumCurve(m0, m1).Lead(1)) : null;
        return ([.. lr.Select(lrCurve)], momentum, reference);
    }

    private static void Moms(Check c, string name, double? max, double? min)
    {
        if (max is null != min is null) c.Fail(name, "momentum cycling needs both max_mom and min_mom");
        if (max is { } a) c.Momentum(name, [a]);
        if (min is { } b) c.Momentum(name, [b]);
    }

    private static Curve[] Same(int groups, Curve curve) => Enumerable.Repeat(curve, groups).ToArray();

    /// <summary>Python's float <c>a // b</c> for positive operands (exact, unlike <c>Math.Floor(a / b)</c>).</summary>
    internal static double PyFloorDiv(double a, double b)
    {
        double mod = a % b;
        double div = (a - mod) / b;
        double floor = Math.Floor(div);
        if (div - floor > 0.5) floor += 1;
        return floor;
    }
}

/// <summary>
/// fastai 0.7 <c>CosAnneal</c>: in cycle c (of <c>nb·cycle_mult^c</c> batches), batch j gets
/// <c>lr/2·(cos(π·j/nb_c) + 1)</c>, except that while the global batch index is below <c>nb_c/20</c> it gets
/// <c>lr/100</c> (the warm-up; the cosine's clock keeps running underneath, so it does not restart).
/// The minimum is never reached: the last batch of a cycle gets ≈ lr·π²/(4·nb²).
/// </summary>
public sealed record CosAnneal07(double Lr, long Nb, long CycleMult) : Curve
{
    private readonly RestartCurve _cycles = new(new CosineFromEnd(Lr, 0), Nb, CycleMult);

    /// <inheritdoc />
    public override double At(long step)
    {
        // nb = 1: 0.7's warm-up branch advances cycle_iter past the cycle's end without the reset, so the cosine
        // never restarts: lr/100, then lr/2·(cos(π·k) + 1) = 0, lr, 0, … Reproduced as computed.
        if (Nb == 1) return step == 0 ? Lr / 100.0 : Lr / 2 * (Math.Cos(Math.PI * step / 1) + 1);
        var (_, _, length) = _cycles.Locate(step);
        return step < length / 20.0 ? Lr / 100.0 : _cycles.At(step);
    }

    /// <inheritdoc />
    public override Piece PieceAt(long step)
    {
        var (cycle, _, length) = _cycles.Locate(step);
        return step < length / 20.0 ? new Piece(-1 - cycle, "constant (warm-up at lr/100)") : new Piece(cycle, "cosine");
    }
}

/// <summary>
/// fastai 0.7 <c>CircularLR</c> (use_clr): in each cycle of <c>nb</c> batches, with <c>cut_pt = nb // cut_div</c>,
/// batch c gets <c>lr·(1 + pct·(div − 1))/div</c> with pct rising linearly 0 → 1 over c = 0…cut_pt and
/// falling back towards 0 over the rest. Cycles repeat identically (no cycle_mult).
/// </summary>
public sealed record CircularLr07(double Lr, long Nb, double Div, double CutPt) : Curve
{
    /// <inheritdoc />
    public override double At(long step)
    {
        long c = step % Nb;
        double pct = c > CutPt ? 1 - (c - CutPt) / (Nb - CutPt) : c / CutPt;
        return Lr * (1 + pct * (Div - 1)) / Div;
    }

    /// <inheritdoc />
    public override Piece PieceAt(long step) => new(step / Nb * 2 + (step % Nb > CutPt ? 1 : 0), "linear");
}

/// <summary>fastai 0.7 <c>CircularLR.calc_mom</c> at cycle position c (callers lead it by one batch, as fastai does).</summary>
public sealed record CircularMomentum07(double MaxMom, double MinMom, long Nb, double CutPt) : Curve
{
    /// <inheritdoc />
    public override double At(long step)
    {
        long c = step % Nb;
        double pct = c > CutPt ? (c - CutPt) / (Nb - CutPt) : 1 - c / CutPt;
        return MinMom + pct * (MaxMom - MinMom);
    }

    /// <inheritdoc />
    public override Piece PieceAt(long step) => new(step / Nb * 2 + (step % Nb > CutPt ? 1 : 0), "linear");
}

/// <summary>
/// fastai 0.7 <c>CircularLR_beta</c> (use_clr_beta), with <c>cycle_nb = int(nb·(1 − pct/100)/2)</c>: linear
/// lr/div → lr over cycle_nb batches, back to lr/div over the next cycle_nb, then linear towards
/// lr/div/100 for the rest (the last batch stays slightly above it).
/// </summary>
public sealed record CircularLrBeta07(double Lr, long Nb, double Div, long CycleNb) : Curve
{
    /// <inheritdoc />
    public override double At(long step)
    {
        long c = step % Nb;
        if (c > 2 * CycleNb)
        {
            double p = (double)(c - 2 * CycleNb) / (Nb - 2 * CycleNb);
            return Lr * (1 + (p * (1 - 100) / 100)) / Div;
        }
        double pct = c > CycleNb ? 1 - (double)(c - CycleNb) / CycleNb : (double)c / CycleNb;
        return Lr * (1 + pct * (Div - 1)) / Div;
    }

    /// <inheritdoc />
    public override Piece PieceAt(long step) => new(step / Nb * 3 + Phase(step % Nb, CycleNb), "linear");

    internal static int Phase(long c, long cycleNb) => c > 2 * cycleNb ? 2 : c > cycleNb ? 1 : 0;
}

/// <summary>fastai 0.7 <c>CircularLR_beta.calc_mom</c> at cycle position c (callers lead it by one batch).</summary>
public sealed record CircularMomentumBeta07(double MaxMom, double MinMom, long Nb, long CycleNb) : Curve
{
    /// <inheritdoc />
    public override double At(long step)
    {
        long c = step % Nb;
        if (c > 2 * CycleNb) return MaxMom;
        double pct = c > CycleNb ? 1 - (double)(c - CycleNb) / CycleNb : (double)c / CycleNb;
        return MaxMom + pct * (MinMom - MaxMom);
    }

    /// <inheritdoc />
    public override Piece PieceAt(long step)
    {
        int phase = CircularLrBeta07.Phase(step % Nb, CycleNb);
        return new(step / Nb * 3 + phase, phase == 2 ? "constant" : "linear");
    }
}
