namespace Cadence.Schedules;

/// <summary>CyclicLR's amplitude policy.</summary>
public enum CyclicMode
{
    /// <summary>Constant amplitude.</summary>
    Triangular,
    /// <summary>Amplitude halved every cycle.</summary>
    Triangular2,
    /// <summary>Amplitude scaled by gamma^step (the global step, not the cycle).</summary>
    ExpRange,
}

/// <summary>
/// PyTorch <c>torch.optim.lr_scheduler</c> policies in closed form: value t is the lr after t
/// <c>scheduler.step()</c> calls, i.e. what optimizer step t uses in the usual
/// <c>optimizer.step(); scheduler.step()</c> loop. Each group's <c>lr</c> is its optimizer lr (PyTorch's
/// <c>initial_lr</c>). PyTorch 1.13 computes several of these recursively ("chainable"); the closed
/// forms agree with it to rounding (checked against torch 1.13.1 traces in the tests).
/// </summary>
public static class Torch
{
    /// <summary>
    /// <c>CyclicLR(base_lr, max_lr, step_size_up=2000, step_size_down=None, mode='triangular', gamma=1.0,
    /// cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)</c>. Momentum moves opposite to the lr
    /// (TorchSharp 0.107's CyclicLR gets this wrong). It never stops cycling.
    /// </summary>
    public static Schedule Cyclic(IReadOnlyList<double> baseLr, IReadOnlyList<double> maxLr, double stepSizeUp = 2000,
        double? stepSizeDown = null, CyclicMode mode = CyclicMode.Triangular, double gamma = 1.0, bool cycleMomentum = true,
        IReadOnlyList<double>? baseMomentum = null, IReadOnlyList<double>? maxMomentum = null)
    {
        baseMomentum ??= [0.8];
        maxMomentum ??= [0.9];
        var check = new Check().LrFloor("base_lr", baseLr).Lr("max_lr", maxLr)
            .Positive("step_size_up", stepSizeUp);
        if (stepSizeDown is { } down) check.Positive("step_size_down", down);
        if (mode == CyclicMode.ExpRange) check.In("gamma", gamma, 0, 1, loOpen: true);
        if (cycleMomentum) check.Momentum("base_momentum", baseMomentum).Momentum("max_momentum", maxMomentum);
        int groups = check.Groups(("base_lr", baseLr), ("max_lr", maxLr), ("base_momentum", baseMomentum), ("max_momentum", maxMomentum));
        check.ThrowIfAny();

        double total = stepSizeUp + (stepSizeDown ?? stepSizeUp);
        double ratio = stepSizeUp / total;
        var lr = new Curve[groups];
        var mom = cycleMomentum ? new Curve[groups] : null;
        for (int g = 0; g < groups; g++)
        {
            lr[g] = new CyclicCurve(Check.Of(baseLr, g), Check.Of(maxLr, g), total, ratio, mode, gamma, Inverse: false);
            if (mom is not null) mom[g] = new CyclicCurve(Check.Of(maxMomentum, g), Check.Of(baseMomentum, g), total, ratio, mode, gamma, Inverse: true);
        }
        return new Schedule { Policy = "cyclic", Reference = "PyTorch CyclicLR", Lr = lr, Momentum = mom };
    }

    /// <summary>
    /// <c>OneCycleLR(max_lr, total_steps, pct_start=0.3, anneal_strategy='cos', cycle_momentum=True,
    /// base_momentum=0.85, max_momentum=0.95, div_factor=25, final_div_factor=1e4, three_phase=False)</c>.
    /// Starts at max_lr/div_factor, peaks exactly at step <c>pct_start·T − 1</c> when that is an integer, and
    /// reaches max_lr/div_factor/final_div_factor at step T − 1. Quirk kept: step T (one past the end,
    /// which PyTorch allows) bounces back up with cosine annealing; with linear annealing it would be
    /// negative, so Cadence refuses it. Steps after T raise, as in PyTorch.
    /// </summary>
    public static Schedule OneCycle(IReadOnlyList<double> maxLr, long totalSteps, double pctStart = 0.3, bool linear = false,
        bool cycleMomentum = true, IReadOnlyList<double>? baseMomentum = null, IReadOnlyList<double>? maxMomentum = null,
        double divFactor = 25, double finalDivFactor = 1e4, bool threePhase = false)
    {
        baseMomentum ??= [0.85];
        maxMomentum ??= [0.95];
        var check = new Check().Lr("max_lr", maxLr).AtLeast("total_steps", totalSteps, 1)
            .In("pct_start", pctStart, 0, 1)
            .Positive("div_factor", divFactor).Positive("final_div_factor", finalDivFactor);
        if (cycleMomentum) check.Momentum("base_momentum", baseMomentum).Momentum("max_momentum", maxMomentum);
        int groups = check.Groups(("max_lr", maxLr), ("base_momentum", baseMomentum), ("max_momentum", maxMomentum));
        double e1 = pctStart * totalSteps - 1;
        double[] ends = threePhase ? [e1, 2 * pctStart * totalSteps - 2, totalSteps - 1] : [e1, totalSteps - 1];
        // With pct_start·T = 1 the warm-up has length 0 and PyTorch computes 0/0 at step 0 (ZeroDivisionError);
        // for pct_start in (0, 1) no other phase can be empty where it is reached.
        check.That(e1 != 0 || !(pctStart is >= 0 and <= 1), "pct_start", $"· total_steps = 1 leaves the warm-up no steps (PyTorch divides by zero at step 0): use a larger pct_start or total_steps");
        check.ThrowIfAny();
        // Step T (one past the end) is allowed by PyTorch unless the phase it falls in has length 0 (pct_start = 1).
        long limit = PhaseCurve.Length(ends, totalSteps) == 0 ? totalSteps - 1 : totalSteps;

        var lr = new Curve[groups];
        var mom = cycleMomentum ? new Curve[groups] : null;
        for (int g = 0; g < groups; g++)
        {
            double max = Check.Of(maxLr, g), initial = max / divFactor, min = initial / finalDivFactor;
            double[] lrPoints = threePhase ? [initial, max, initial, min] : [initial, max, min];
            lr[g] = new PhaseCurve(ends, lrPoints, linear);
            if (mom is not null)
            {
                double mMax = Check.Of(maxMomentum, g), mBase = Check.Of(baseMomentum, g);
                double[] momPoints = threePhase ? [mMax, mBase, mMax, mMax] : [mMax, mBase, mMax];
                mom[g] = new PhaseCurve(ends, momPoints, linear);
            }
        }
        return new Schedule
        {
            Policy = "one-cycle",
            Reference = "PyTorch OneCycleLR",
            Lr = lr,
            Momentum = mom,
            Length = totalSteps,
            StepLimit = limit,
            StepLimitReason = limit < totalSteps
                ? $"OneCycleLR is {totalSteps} steps long and its last phase has length 0 (PyTorch divides by zero at step {totalSteps})"
                : $"OneCycleLR is {totalSteps} steps long (PyTorch raises 'Tried to step {totalSteps + 2} times' beyond step {totalSteps})",
        };
    }

    /// <summary>
    /// <c>CosineAnnealingWarmRestarts(T_0, T_mult=1, eta_min=0)</c>: cosine from lr to eta_min over T_0 steps,
    /// restarting with cycles T_mult times longer. eta_min itself is never reached (step j &lt; T_i).
    /// </summary>
    public static Schedule CosineWarmRestarts(IReadOnlyList<double> lr, long t0, long tMult = 1, double etaMin = 0)
    {
        var check = new Check().Lr("lr", lr).AtLeast("T_0", t0, 1).AtLeast("T_mult", tMult, 1).NonNegative("eta_min", etaMin);
        check.ThrowIfAny();
        return new Schedule
        {
            Policy = "cosine-warm-restarts",
            Reference = "PyTorch CosineAnnealingWarmRestarts",
            Lr = [.. lr.Select(l => Curve.Restarts(new CosineFromEnd(l, etaMin), t0, tMult))],
        };
    }

    /// <summary>
    /// <c>CosineAnnealingLR(T_max, eta_min=0)</c>: reaches eta_min exactly at T_max and then, as in PyTorch,
    /// rises again along the same cosine (period 2·T_max): no restart, no clamping.
    /// </summary>
    public static Schedule Cosine(IReadOnlyList<double> lr, long tMax, double etaMin = 0)
    {
        new Check().Lr("lr", lr).AtLeast("T_max", tMax, 1).NonNegative("eta_min", etaMin).ThrowIfAny();
        return new Schedule
        {
            Policy = "cosine",
            Reference = "PyTorch CosineAnnealingLR",
            Length = tMax,
            Lr = [.. lr.Select(l => Curve.Over(new CosineFromEnd(l, etaMin), tMax))],
        };
    }

    /// <summary><c>StepLR(step_size, gamma=0.1)</c>: lr·gamma^(t // step_size).</summary>
    public static Schedule Step(IReadOnlyList<double> lr, long stepSize, double gamma = 0.1)
    {
        new Check().Lr("lr", lr).AtLeast("step_size", stepSize, 1).Positive("gamma", gamma).ThrowIfAny();
        return Multiplied("step", "PyTorch StepLR", lr, new StepFactor(stepSize, gamma));
    }

    /// <summary><c>MultiStepLR(milestones, gamma=0.1)</c>: lr·gamma^(number of milestones ≤ t).</summary>
    public static Schedule MultiStep(IReadOnlyList<double> lr, IReadOnlyList<long> milestones, double gamma = 0.1)
    {
        var check = new Check().Lr("lr", lr).Positive("gamma", gamma)
            .That(milestones.Count > 0, "milestones", "needs at least one step number");
        for (int i = 0; i < milestones.Count; i++)
        {
            check.That(milestones[i] >= 0, "milestones", $"must be step numbers ≥ 0, got {milestones[i]}");
            if (i > 0) check.That(milestones[i] > milestones[i - 1], "milestones", $"must be strictly increasing, got {string.Join(",", milestones)}");
        }
        check.ThrowIfAny();
        return Multiplied("multi-step", "PyTorch MultiStepLR", lr, new MilestoneFactor([.. milestones], gamma));
    }

    /// <summary><c>ExponentialLR(gamma)</c>: lr·gamma^t.</summary>
    public static Schedule Exponential(IReadOnlyList<double> lr, double gamma)
    {
        new Check().Lr("lr", lr).Positive("gamma", gamma).ThrowIfAny();
        return Multiplied("exponential", "PyTorch ExponentialLR", lr, new PowerFactor(gamma));
    }

    /// <summary>
    /// <c>LinearLR(start_factor=1/3, end_factor=1, total_iters=5)</c>: the factor moves linearly from
    /// start_factor to end_factor over total_iters steps, then stays.
    /// </summary>
    public static Schedule Linear(IReadOnlyList<double> lr, double startFactor = 1.0 / 3, double endFactor = 1.0, long totalIters = 5)
    {
        new Check().Lr("lr", lr).In("start_factor", startFactor, 0, 1, loOpen: true).In("end_factor", endFactor, 0, 1)
            .AtLeast("total_iters", totalIters, 0).ThrowIfAny();
        return Multiplied("linear", "PyTorch LinearLR", lr, new LinearFactor(startFactor, endFactor, totalIters));
    }

    /// <summary><c>ConstantLR(factor=1/3, total_iters=5)</c>: lr·factor for the first total_iters steps, then lr.</summary>
    public static Schedule ConstantFactor(IReadOnlyList<double> lr, double factor = 1.0 / 3, long totalIters = 5)
    {
        new Check().Lr("lr", lr).In("factor", factor, 0, 1, loOpen: true).AtLeast("total_iters", totalIters, 0).ThrowIfAny();
        return Multiplied("constant-lr", "PyTorch ConstantLR", lr, new ConstantFactorCurve(factor, totalIters));
    }

    /// <summary><c>PolynomialLR(total_iters=5, power=1)</c>: lr·(1 − min(t, T)/T)^power, 0 from T on.</summary>
    public static Schedule Polynomial(IReadOnlyList<double> lr, long totalIters = 5, double power = 1.0)
    {
        new Check().Lr("lr", lr).AtLeast("total_iters", totalIters, 0).NonNegative("power", power).ThrowIfAny();
        return Multiplied("polynomial", "PyTorch PolynomialLR", lr, new PolynomialFactor(totalIters, power));
    }

    /// <summary>A flat lr (fastai 0.7's <c>fit</c> without cycle_len; PyTorch with no scheduler).</summary>
    public static Schedule Constant(IReadOnlyList<double> lr)
    {
        new Check().Lr("lr", lr).ThrowIfAny();
        return new Schedule { Policy = "constant", Reference = "constant learning rate", Lr = [.. lr.Select(Curve.Constant)] };
    }

    /// <summary>
    /// <c>SequentialLR(schedulers, milestones)</c>: schedulers[i] runs from milestones[i−1] with its own clock
    /// restarted at 0 (PyTorch evaluates its closed form at 0 there). The parts must have the same groups.
    /// </summary>
    public static Schedule Sequential(IReadOnlyList<Schedule> schedulers, IReadOnlyList<long> milestones)
    {
        var check = new Check().That(schedulers.Count >= 1, "schedulers", "needs at least one scheduler")
            .That(milestones.Count == schedulers.Count - 1, "milestones",
                $"needs one milestone fewer than schedulers ({Math.Max(0, schedulers.Count - 1)}), got {milestones.Count}");
        for (int i = 0; i < milestones.Count; i++)
        {
            check.That(milestones[i] >= 1, "milestones", $"must be step numbers ≥ 1 (PyTorch mis-initialises with 0), got {milestones[i]}");
            if (i > 0) check.That(milestones[i] > milestones[i - 1], "milestones", $"must be strictly increasing, got {string.Join(",", milestones)}");
        }
        if (schedulers.Count > 0)
            check.That(schedulers.All(s => s.Groups == schedulers[0].Groups), "schedulers", "must all have the same number of parameter groups");
        check.ThrowIfAny();
        var lr = new Curve[schedulers[0].Groups];
        for (int g = 0; g < lr.Length; g++)
        {
            var parts = new (long, Curve)[schedulers.Count];
            for (int i = 0; i < schedulers.Count; i++)
                parts[i] = (i < milestones.Count ? milestones[i] - (i == 0 ? 0 : milestones[i - 1]) : long.MaxValue, schedulers[i].Lr[g]);
            lr[g] = Curve.Concat(parts);
        }
        return new Schedule { Policy = "sequential", Reference = "PyTorch SequentialLR", Lr = lr };
    }

    private static Schedule Multiplied(string policy, string reference, IReadOnlyList<double> lr, Curve factor) => new()
    {
        Policy = policy,
        Reference = reference,
        Lr = [.. lr.Select(l => (Curve)new ScaledCurve(l, factor))],
    };
}

/// <summary>A base value times a factor curve: <c>base·factor(t)</c>, in that order (PyTorch's closed forms).</summary>
public sealed record ScaledCurve(double Base, Curve Factor) : Curve
{
    /// <inheritdoc />
    public override double At(long step) => Base * Factor.At(step);
    /// <inheritdoc />
    public override Piece PieceAt(long step) => Factor.PieceAt(step);
}

internal sealed record StepFactor(long StepSize, double Gamma) : Curve
{
    public override double At(long step) => Math.Pow(Gamma, step / StepSize);
    public override Piece PieceAt(long step) => new(step / StepSize, "constant");
}

internal sealed record MilestoneFactor(long[] Milestones, double Gamma) : Curve
{
    private int Passed(long step)
    {
        int n = 0;
        while (n < Milestones.Length && Milestones[n] <= step) n++;
        return n;
    }

    public override double At(long step) => Math.Pow(Gamma, Passed(step));
    public override Piece PieceAt(long step) => new(Passed(step), "constant");
}

internal sealed record PowerFactor(double Gamma) : Curve
{
    public override double At(long step) => Math.Pow(Gamma, step);
    public override Piece PieceAt(long step) => new(0, "exponential");
}

internal sealed record LinearFactor(double Start, double End, long Total) : Curve
{
    // total_iters = 0: PyTorch 1.13's chainable form applies start_factor at step 0 and never moves again.
    public override double At(long step) => Total == 0 ? Start : Start + (End - Start) * Math.Min(Total, step) / Total;
    public override Piece PieceAt(long step) => step < Total ? new(0, "linear") : new(1, "constant");
}

internal sealed record ConstantFactorCurve(double Factor, long Total) : Curve
{
    // total_iters = 0: PyTorch 1.13 applies the factor at step 0 and, never seeing step == total_iters again, keeps it.
    public override double At(long step) => Total == 0 ? Factor : Factor + (step >= Total ? 1 - Factor : 0);
    public override Piece PieceAt(long step) => new(step >= Total ? 1 : 0, "constant");
}

internal sealed record PolynomialFactor(long Total, double Power) : Curve
{
    // total_iters = 0: PyTorch 1.13's chainable form never changes the lr.
    public override double At(long step) => Total == 0 ? 1.0 : Math.Pow(1.0 - (double)Math.Min(Total, step) / Total, Power);
    public override Piece PieceAt(long step) => step < Total ? new(0, Power == 1 ? "linear" : "polynomial") : new(1, "constant");
}

/// <summary>PyTorch CyclicLR's closed form for one group (the lr, or the momentum when <c>Inverse</c>).</summary>
internal sealed record CyclicCurve(double Low, double High, double Total, double Ratio, CyclicMode Mode, double Gamma, bool Inverse) : Curve
{
    public override double At(long step)
    {
        double cycle = Math.Floor(1 + step / Total);
        double x = 1.0 + step / Total - cycle;
        double scaleFactor = x <= Ratio ? x / Ratio : (x - 1) / (Ratio - 1);
        double scale = Mode switch
        {
            CyclicMode.Triangular => 1.0,
            CyclicMode.Triangular2 => 1 / Math.Pow(2.0, cycle - 1),
            _ => Math.Pow(Gamma, step),
        };
        // Inverse: PyTorch's momentum is max_momentum − (max_momentum − base_momentum)·sf·scale (High = base here).
        return Inverse ? Low - (Low - High) * scaleFactor * scale : Low + (High - Low) * scaleFactor * scale;
    }

    public override Piece PieceAt(long step)
    {
        double cycle = Math.Floor(1 + step / Total);
        double x = 1.0 + step / Total - cycle;
        return new((long)cycle * 2 + (x <= Ratio ? 0 : 1), "linear");
    }
}

/// <summary>OneCycleLR's phases with float end steps, exactly as PyTorch locates and interpolates them.</summary>
internal sealed record PhaseCurve(double[] Ends, double[] Points, bool Linear) : Curve
{
    /// <summary>The phase <paramref name="step"/> falls in, and where that phase starts, as PyTorch searches.</summary>
    private static int Phase(double[] ends, long step, out double start)
    {
        start = 0;
        for (int i = 0; i < ends.Length; i++)
        {
            if (step <= ends[i] || i == ends.Length - 1) return i;
            start = ends[i];
        }
        return ends.Length - 1;
    }

    private int Phase(long step, out double start) => Phase(Ends, step, out start);

    /// <summary>Length (end − start) of the phase that <paramref name="step"/> falls in; PyTorch divides by it.</summary>
    internal static double Length(double[] ends, long step)
    {
        int i = Phase(ends, step, out double start);
        return ends[i] - start;
    }

    public override double At(long step)
    {
        int i = Phase(step, out double start);
        double pct = (step - start) / (Ends[i] - start);
        double from = Points[i], to = Points[i + 1];
        return Linear ? (to - from) * pct + from : to + (from - to) / 2.0 * (Math.Cos(Math.PI * pct) + 1);
    }

    public override Piece PieceAt(long step)
    {
        int i = Phase(step, out _);
        return new(i, Points[i] == Points[i + 1] ? "constant" : Linear ? "linear" : "cosine");
    }
}
