namespace Cadence.Schedules;

/// <summary>
/// fastai v2 (<c>fastai.callback.schedule</c>): <c>fit_one_cycle</c>, <c>fit_flat_cos</c>, <c>fit_sgdr</c> and
/// <c>combine_scheds</c>, with fastai's own arithmetic. Value t is what batch t trains with; its position
/// is accumulated as fastai's <c>TrainEvalCallback</c> does (<c>epoch/n_epoch</c>, then
/// <c>+= 1/(n_iter·n_epoch)</c> per batch), so the last value uses pos (N−1)/N and the final end value
/// is never applied. fastai keeps the phase boundaries in a float32 tensor, so a phase is located and its
/// progress computed in float32 (see <see cref="FastAiPhases"/>).
/// </summary>
public static class FastAi
{
    /// <summary>fastai v2's default <c>moms</c>: 0.95 → 0.85 → 0.95.</summary>
    public static readonly IReadOnlyList<double> DefaultMoms = [0.95, 0.85, 0.95];

    /// <summary>
    /// <c>fit_one_cycle(n_epoch, lr_max, div=25, div_final=1e5, pct_start=0.25, moms=(0.95, 0.85, 0.95))</c>:
    /// cosine from lr_max/div up to lr_max at pos = pct_start, then cosine down towards lr_max/div_final;
    /// momentum (or Adam β1) the opposite way. Every group is scaled by the same factor.
    /// </summary>
    public static Schedule FitOneCycle(IReadOnlyList<double> lrMax, int epochs, long batchesPerEpoch, double div = 25,
        double divFinal = 1e5, double pctStart = 0.25, IReadOnlyList<double>? moms = null)
    {
        moms ??= DefaultMoms;
        var check = Common(new Check().Lr("lr_max", lrMax), epochs, batchesPerEpoch)
            .Positive("div", div).Positive("div_final", divFinal)
            .In("pct_start", pctStart, 0, 1)
            .That(moms.Count == 3, "moms", $"needs three values (start, middle, end), got {moms.Count}");
        if (moms.Count == 3) check.Momentum("moms", moms);
        SumsToOne(check, "pct_start", [pctStart, 1 - pctStart]);
        check.ThrowIfAny();
        var clock = new FastAiClock(epochs, batchesPerEpoch);
        double[] pcts = [pctStart, 1 - pctStart];
        return Build("fit-one-cycle", "fastai v2 fit_one_cycle", clock,
            [.. lrMax.Select(l => (Curve)new FastAiPhases(clock, pcts, [new Cosine(l / div, l), new Cosine(l, l / divFinal)]))],
            new FastAiPhases(clock, pcts, [new Cosine(moms[0], moms[1]), new Cosine(moms[1], moms[2])]), lrMax.Count);
    }

    /// <summary>
    /// <c>fit_flat_cos(n_epoch, lr, div_final=1e5, pct_start=0.75)</c>: flat at lr for pct_start of training, then
    /// a cosine towards lr/div_final. No momentum schedule (the optimizer's own is kept).
    /// </summary>
    public static Schedule FitFlatCos(IReadOnlyList<double> lr, int epochs, long batchesPerEpoch, double divFinal = 1e5, double pctStart = 0.75)
    {
        var check = Common(new Check().Lr("lr", lr), epochs, batchesPerEpoch)
            .Positive("div_final", divFinal).In("pct_start", pctStart, 0, 1);
        SumsToOne(check, "pct_start", [pctStart, 1 - pctStart]);
        check.ThrowIfAny();
        var clock = new FastAiClock(epochs, batchesPerEpoch);
        double[] pcts = [pctStart, 1 - pctStart];
        return Build("fit-flat-cos", "fastai v2 fit_flat_cos", clock,
            [.. lr.Select(l => (Curve)new FastAiPhases(clock, pcts, [new Cosine(l, l), new Cosine(l, l / divFinal)]))], null, lr.Count);
    }

    /// <summary>
    /// <c>fit_sgdr(n_cycles, cycle_len, lr_max, cycle_mult=2)</c>: <c>cycle_len·(cycle_mult^n_cycles − 1)//(cycle_mult − 1)</c>
    /// epochs of cosine cycles from lr_max to 0, each cycle_mult times longer; no warm-up, no momentum.
    /// fastai divides by zero for cycle_mult = 1, so it is refused here (use <c>fit</c> or <c>cosine-warm-restarts</c>).
    /// </summary>
    public static Schedule FitSgdr(IReadOnlyList<double> lrMax, int nCycles, int cycleLen, long batchesPerEpoch, int cycleMult = 2)
    {
        var check = new Check().Lr("lr_max", lrMax).AtLeast("n_cycles", nCycles, 1).AtLeast("cycle_len", cycleLen, 1)
            .AtLeast("batches_per_epoch", batchesPerEpoch, 1)
            .That(cycleMult >= 2, "cycle_mult", $"must be an integer ≥ 2 (fastai's fit_sgdr divides by cycle_mult − 1), got {cycleMult}");
        check.ThrowIfAny();
        long pow = 1;
        for (int i = 0; i < nCycles; i++) pow = checked(pow * cycleMult);
        long nEpoch = cycleLen * (pow - 1) / (cycleMult - 1);
        var pcts = new double[nCycles];
        long len = cycleLen;
        for (int i = 0; i < nCycles; i++) { pcts[i] = (double)len / nEpoch; len *= cycleMult; }
        SumsToOne(check, "cycle_mult", pcts);
        check.ThrowIfAny();
        var clock = new FastAiClock(checked((int)nEpoch), batchesPerEpoch);
        return Build("fit-sgdr", "fastai v2 fit_sgdr", clock,
            [.. lrMax.Select(l => (Curve)new FastAiPhases(clock, pcts, [.. pcts.Select(_ => (Anneal)new Cosine(l, 0))]))], null, lrMax.Count);
    }

    /// <summary>
    /// <c>combine_scheds(pcts, scheds)</c> over <paramref name="epochs"/>·<paramref name="batchesPerEpoch"/> batches,
    /// one curve per parameter group: <paramref name="phases"/>[g][i] is group g's shape in phase i.
    /// </summary>
    public static Schedule Combine(IReadOnlyList<double> pcts, IReadOnlyList<IReadOnlyList<Anneal>> phases, int epochs, long batchesPerEpoch)
    {
        var check = Common(new Check(), epochs, batchesPerEpoch)
            .That(pcts.Count >= 1 && pcts.All(p => p >= 0 && double.IsFinite(p)), "pcts", "needs one finite fraction ≥ 0 per phase")
            .That(phases.Count >= 1 && phases.All(g => g.Count == pcts.Count), "scheds", "needs one shape per fraction for every group");
        SumsToOne(check, "pcts", pcts);
        check.ThrowIfAny();
        var clock = new FastAiClock(epochs, batchesPerEpoch);
        return Build("combine-scheds", "fastai v2 combine_scheds", clock,
            [.. phases.Select(g => (Curve)new FastAiPhases(clock, [.. pcts], [.. g]))], null, phases.Count);
    }

    /// <summary>
    /// fastai's differential learning rates from a <c>slice</c>: <c>slice(start, end)</c> gives n values evenly
    /// spaced on a log scale; <c>slice(end)</c> (no start) gives end/10 for every group but the last.
    /// </summary>
    public static double[] Slice(double? start, double end, int groups)
    {
        new Check().AtLeast("groups", groups, 1).Positive("end", end).That(start is null || start > 0, "start", "must be positive").ThrowIfAny();
        if (start is not { } a) return [.. Enumerable.Repeat(end / 10, groups - 1), end];
        if (groups == 1) return [end];
        return [.. Enumerable.Range(0, groups).Select(i => a * Math.Pow(end / a, (double)i / (groups - 1)))];
    }

    private static Check Common(Check check, int epochs, long batchesPerEpoch) =>
        check.AtLeast("epochs", epochs, 1).AtLeast("batches_per_epoch", batchesPerEpoch, 1);

    /// <summary>fastai asserts <c>sum(pcts) == 1.</c> with exact float equality (a Python sum from 0).</summary>
    private static void SumsToOne(Check check, string name, IReadOnlyList<double> pcts)
    {
        double sum = 0;
        foreach (var p in pcts) sum += p;
        if (pcts.All(double.IsFinite))
            check.That(sum == 1.0, name, $"gives phase fractions that sum to {Check.F(sum)}, not exactly 1 (fastai's combine_scheds asserts exact equality)");
    }

    private static Schedule Build(string policy, string reference, FastAiClock clock, Curve[] lr, Curve? momentum, int groups) => new()
    {
        Policy = policy,
        Reference = reference,
        Lr = lr,
        Momentum = momentum is null ? null : Enumerable.Repeat(momentum, groups).ToArray(),
        Length = clock.Length,
        StepsPerEpoch = clock.BatchesPerEpoch,
        StepLimit = clock.Length - 1,
        StepLimitReason = $"fastai trains {clock.Epochs} epochs of {clock.BatchesPerEpoch} batches and never evaluates pos = 1",
    };
}

/// <summary>
/// fastai v2's training position: batch i of epoch e has <c>pos = e/n_epoch + i·(1/(n_iter·n_epoch))</c>, the
/// sum accumulated one batch at a time as <c>TrainEvalCallback</c> does (so rounding matches fastai's).
/// Precomputed once so that any step is O(1).
/// </summary>
public sealed class FastAiClock
{
    private readonly double[] _pos;

    /// <summary>Creates the clock for <paramref name="epochs"/> epochs of <paramref name="batchesPerEpoch"/> batches.</summary>
    public FastAiClock(int epochs, long batchesPerEpoch)
    {
        (Epochs, BatchesPerEpoch) = (epochs, batchesPerEpoch);
        _pos = new double[checked(epochs * batchesPerEpoch)];
        for (int e = 0; e < epochs; e++)
        {
            double pos = (double)e / epochs;
            for (long i = 0; i < batchesPerEpoch; i++)
            {
                _pos[e * batchesPerEpoch + i] = pos;
                pos += 1.0 / (batchesPerEpoch * epochs);
            }
        }
    }

    /// <summary>Epochs (<c>n_epoch</c>).</summary>
    public int Epochs { get; }

    /// <summary>Batches per epoch (<c>n_iter</c>).</summary>
    public long BatchesPerEpoch { get; }

    /// <summary>Total batches.</summary>
    public long Length => _pos.LongLength;

    /// <summary>fastai's <c>pct_train</c> before batch <paramref name="step"/>.</summary>
    public double Pos(long step) => _pos[step];
}

/// <summary>
/// fastai v2 <c>combine_scheds</c> on a <see cref="FastAiClock"/>, reproducing its float32 arithmetic: the
/// cumulative fractions are a float32 tensor (torch's cumsum sums the float32 inputs in double, rounding each
/// output), <c>pos ≥ pcts</c> compares in float32 and the phase's progress is computed in float32, then handed
/// to the annealer as a double (<c>actual_pos.item()</c>): about 1e-7 relative from a float64 computation. The consequence users
/// can see: a boundary such as 3/7 can round above the position of the batch that should start a new
/// cycle, which then gets the end of the previous one.
/// </summary>
public sealed record FastAiPhases : Curve
{
    private readonly float[] _bounds;

    /// <summary>Phases <paramref name="shapes"/> covering fractions <paramref name="pcts"/> of <paramref name="clock"/>.</summary>
    public FastAiPhases(FastAiClock clock, double[] pcts, Anneal[] shapes)
    {
        (Clock, Pcts, Shapes) = (clock, pcts, shapes);
        _bounds = new float[pcts.Length + 1];
        double acc = 0;
        for (int i = 0; i < pcts.Length; i++) { acc += (float)pcts[i]; _bounds[i + 1] = (float)acc; }
    }

    /// <summary>The training clock.</summary>
    public FastAiClock Clock { get; }

    /// <summary>Fraction of training of each phase.</summary>
    public double[] Pcts { get; }

    /// <summary>Shape of each phase.</summary>
    public Anneal[] Shapes { get; }

    private int Phase(float pos)
    {
        int idx = 0;
        for (int i = 0; i < _bounds.Length; i++) if (pos >= _bounds[i]) idx = i;
        return Math.Min(idx, _bounds.Length - 2);
    }

    /// <inheritdoc />
    public override double At(long step)
    {
        float pos = (float)Clock.Pos(step);
        int i = Phase(pos);
        float actual = (pos - _bounds[i]) / (_bounds[i + 1] - _bounds[i]);
        return Shapes[i].At((double)actual);   // fastai passes actual_pos.item(): the float32 value, as a double
    }

    /// <inheritdoc />
    public override Piece PieceAt(long step)
    {
        int i = Phase((float)Clock.Pos(step));
        return new(i, Shapes[i].Start == Shapes[i].End ? "constant" : Shapes[i].Shape);
    }
}
