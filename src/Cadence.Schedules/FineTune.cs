namespace Cadence.Schedules;

/// <summary>
/// The two fits of fastai v2's <c>fine_tune</c>: <see cref="Frozen"/> (every group but the last frozen) for
/// <see cref="FreezeEpochs"/> epochs, then <see cref="Unfrozen"/> for <see cref="Epochs"/> epochs. Each schedule has
/// one learning rate per parameter group (fastai writes the schedule into every group; a frozen group's trains only its
/// BatchNorm layers).
/// </summary>
/// <param name="Frozen">The frozen phase's schedule, or null when <see cref="FreezeEpochs"/> is 0.</param>
/// <param name="FreezeEpochs">Epochs of the frozen phase.</param>
/// <param name="Unfrozen">The unfrozen phase's schedule.</param>
/// <param name="Epochs">Epochs of the unfrozen phase.</param>
public sealed record FineTunePlan(Schedule? Frozen, int FreezeEpochs, Schedule Unfrozen, int Epochs)
{
    /// <summary>Name of the frozen phase in tables and files.</summary>
    public const string FrozenPhase = "frozen";

    /// <summary>Name of the unfrozen phase in tables and files.</summary>
    public const string UnfrozenPhase = "unfrozen";

    /// <summary>The phase epoch <paramref name="epoch"/> (0-based, counted over both phases) belongs to: <see cref="FrozenPhase"/> or <see cref="UnfrozenPhase"/>.</summary>
    public string PhaseOf(int epoch) => Frozen is not null && epoch < FreezeEpochs ? FrozenPhase : UnfrozenPhase;

    /// <summary>Optimizer steps of the frozen phase.</summary>
    public long FrozenSteps => Frozen?.Length ?? 0;

    /// <summary>Optimizer steps of the unfrozen phase.</summary>
    public long UnfrozenSteps => Unfrozen.Length!.Value;

    /// <summary>
    /// Both phases as one schedule of <see cref="FrozenSteps"/> + <see cref="UnfrozenSteps"/> steps, each phase on its
    /// own clock (for previews, charts and explanations; training runs the two phases as two fits, freezing between).
    /// </summary>
    public Schedule AsSchedule()
    {
        if (Frozen is null) return Unfrozen;
        long frozen = FrozenSteps, unfrozen = UnfrozenSteps;
        Curve Join(Curve a, Curve b) => Curve.Concat((frozen, a), (unfrozen, b));
        return Unfrozen with
        {
            Reference = "fastai v2 fine_tune: fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99) frozen, then fit_one_cycle(epochs, slice(base_lr/2/lr_mult, base_lr/2), pct_start, div) unfrozen",
            Lr = [.. Frozen.Lr.Zip(Unfrozen.Lr, Join)],
            Momentum = Frozen.Momentum is { } fm && Unfrozen.Momentum is { } um ? [.. fm.Zip(um, Join)] : null,
            Length = frozen + unfrozen,
            StepLimit = Unfrozen.StepLimit is { } limit ? frozen + limit : null,
        };
    }

    /// <summary>
    /// Both phases one after the other, as [group][step] (steps 0 … <see cref="FrozenSteps"/> − 1 are the frozen phase):
    /// what <c>cadence schedule fine-tune</c> previews and plots.
    /// </summary>
    public (double[][] Lr, double[][] Momentum) Trace()
    {
        var (lr2, mom2) = Unfrozen.Trace(UnfrozenSteps);
        if (Frozen is null) return (lr2, mom2!);
        var (lr1, mom1) = Frozen.Trace(FrozenSteps);
        return ([.. lr1.Zip(lr2, (a, b) => a.Concat(b).ToArray())], [.. mom1!.Zip(mom2!, (a, b) => a.Concat(b).ToArray())]);
    }
}

/// <summary>fastai v2's <c>Learner.fine_tune</c> as schedules (see <see cref="Plan"/>).</summary>
public static class FineTune
{
    /// <summary>
    /// <c>fine_tune(epochs, base_lr=2e-3, freeze_epochs=1, lr_mult=100, pct_start=0.3, div=5.0)</c>:
    /// <c>freeze()</c>; <c>fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99)</c> (its own <c>div=25</c>);
    /// <c>base_lr /= 2</c>; <c>unfreeze()</c>; <c>fit_one_cycle(epochs, slice(base_lr/lr_mult, base_lr), pct_start, div)</c>.
    /// <c>slice(stop)</c> gives stop/10 to every group but the last; <c>slice(start, stop)</c> gives fastai's
    /// <see cref="EvenMults"/>. <paramref name="moms"/> and <paramref name="divFinal"/> go to both fits, as fastai's <c>**kwargs</c>.
    /// </summary>
    /// <param name="groups">Parameter groups of the model (at least 2: fastai's <c>freeze</c> asserts it).</param>
    /// <param name="epochs">Epochs of the unfrozen phase.</param>
    /// <param name="batchesPerEpoch">Optimizer steps per epoch.</param>
    /// <param name="baseLr">fastai <c>base_lr</c>.</param>
    /// <param name="freezeEpochs">Epochs of the frozen phase (0: none; base_lr is halved all the same).</param>
    /// <param name="lrMult">Ratio of the last group's learning rate to the first's in the unfrozen phase.</param>
    /// <param name="pctStart">Warm-up fraction of the unfrozen phase.</param>
    /// <param name="div">Initial division of the unfrozen phase (lr_max/div at step 0).</param>
    /// <param name="moms">Momentum (start, middle, end) of both phases; default fastai's (0.95, 0.85, 0.95).</param>
    /// <param name="divFinal">Final division of both phases (fastai's <c>div_final</c>).</param>
    /// <exception cref="ScheduleValidationException">Every invalid parameter, named as fastai names it.</exception>
    public static FineTunePlan Plan(int groups, int epochs, long batchesPerEpoch, double baseLr = 2e-3, int freezeEpochs = 1,
        double lrMult = 100, double pctStart = 0.3, double div = 5, IReadOnlyList<double>? moms = null, double divFinal = 1e5)
    {
        new Check()
            .That(groups >= 2, "groups", $"fine_tune freezes every parameter group but the last, so it needs at least 2, got {groups}")
            .AtLeast("epochs", epochs, 1).AtLeast("freeze_epochs", freezeEpochs, 0).AtLeast("batches_per_epoch", batchesPerEpoch, 1)
            .Positive("base_lr", baseLr).Positive("lr_mult", lrMult).In("pct_start", pctStart, 0, 1).Positive("div", div)
            .Positive("div_final", divFinal)
            .ThrowIfAny();
        Schedule? frozen = null;
        if (freezeEpochs > 0)
        {
            var lr = FastAi.Slice(null, baseLr, groups);
            frozen = FastAi.FitOneCycle(lr, freezeEpochs, batchesPerEpoch, pctStart: 0.99, moms: moms, divFinal: divFinal) with
            {
                Policy = "fine-tune",
                Reference = "fastai v2 fine_tune, frozen phase: fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99)",
            };
        }
        baseLr /= 2;
        var unfrozen = FastAi.FitOneCycle(EvenMults(baseLr / lrMult, baseLr, groups), epochs, batchesPerEpoch, div, divFinal, pctStart, moms) with
        {
            Policy = "fine-tune",
            Reference = "fastai v2 fine_tune, unfrozen phase: fit_one_cycle(epochs, slice(base_lr/2/lr_mult, base_lr/2), pct_start, div)",
        };
        return new FineTunePlan(frozen, freezeEpochs, unfrozen, epochs);
    }

    /// <summary>
    /// fastai's <c>even_mults(start, stop, n)</c>, the learning rates of <c>slice(start, stop)</c>:
    /// <c>step = (stop/start)**(1/(n−1))</c>, then <c>start·step**i</c> (so a middle group may differ from
    /// <see cref="FastAi.Slice"/> in the last bit); one group gets <c>stop</c>.
    /// </summary>
    public static double[] EvenMults(double start, double stop, int n)
    {
        if (n == 1) return [stop];
        double step = Math.Pow(stop / start, 1.0 / (n - 1));
        return [.. Enumerable.Range(0, n).Select(i => start * Math.Pow(step, i))];
    }
}
