using System.Globalization;

namespace Cadence.Schedules;

/// <summary>What kind of value an option takes.</summary>
public enum OptionKind
{
    /// <summary>One number.</summary>
    Number,
    /// <summary>One number or a comma-separated list (one per parameter group).</summary>
    Numbers,
    /// <summary>A whole number.</summary>
    Integer,
    /// <summary>A comma-separated list of whole numbers.</summary>
    Integers,
    /// <summary><c>true</c> or <c>false</c>, written out.</summary>
    Boolean,
    /// <summary>One of <see cref="PolicyOption.Choices"/>.</summary>
    Choice,
    /// <summary>Free text.</summary>
    Text,
}

/// <summary>An option of a policy, named as the reference's parameter in kebab-case.</summary>
public sealed record PolicyOption(string Name, OptionKind Kind, string? Default, string Help, bool Required = false, IReadOnlyList<string>? Choices = null)
{
    /// <summary>The reference parameter name (snake_case) that validation errors use.</summary>
    public string Parameter => Name.Replace('-', '_');
}

/// <summary>A policy that can be built from text options (the <c>cadence schedule</c>, <c>fit --schedule</c> and <c>compare</c> syntax).</summary>
public sealed record PolicySpec(string Name, string Reference, string Summary, IReadOnlyList<PolicyOption> Options, Func<PolicyArgs, Schedule> Factory);

/// <summary>Typed, validated access to the text options given for a policy. Errors name the option.</summary>
public sealed class PolicyArgs
{
    private readonly PolicySpec _spec;
    private readonly IReadOnlyDictionary<string, string> _given;
    private readonly Check _check = new();

    internal PolicyArgs(PolicySpec spec, IReadOnlyDictionary<string, string> given) => (_spec, _given) = (spec, given);

    /// <summary>Whether the user gave <paramref name="name"/>.</summary>
    public bool Has(string name) => _given.ContainsKey(name);

    private static string Param(string name) => name.Replace('-', '_');

    private PolicyOption Option(string name) =>
        _spec.Options.FirstOrDefault(o => o.Name == name) ?? PolicyCatalog.Common.First(o => o.Name == name);

    private string? Raw(string name)
    {
        var option = Option(name);
        if (_given.TryGetValue(name, out var v)) return v;
        if (option.Required) _check.Fail(option.Parameter, $"is required for {_spec.Name}");
        return option.Default;
    }

    /// <summary>A list of numbers (one per parameter group), or null when absent and without default.</summary>
    public double[]? NumbersOrNull(string name)
    {
        var raw = Raw(name);
        if (raw is null) return null;
        var parts = raw.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
            {
                _check.Fail(Param(name), $"expects a number or a comma-separated list of numbers, got '{raw}'");
                return null;
            }
        return values;
    }

    /// <summary>A list of numbers; a placeholder 1 when missing (the missing-option error is already recorded).</summary>
    public double[] Numbers(string name) => NumbersOrNull(name) ?? [1];

    /// <summary>One number.</summary>
    public double Number(string name) => NumberOrNull(name) ?? 1;

    /// <summary>One number, or null when absent and without default.</summary>
    public double? NumberOrNull(string name)
    {
        var v = NumbersOrNull(name);
        if (v is null) return null;
        if (v.Length != 1) _check.Fail(Param(name), $"expects one number, got {v.Length}");
        return v[0];
    }

    /// <summary>A whole number, or null when absent and without default.</summary>
    public long? IntegerOrNull(string name)
    {
        var raw = Raw(name);
        if (raw is null) return null;
        if (long.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) return v;
        _check.Fail(Param(name), $"expects a whole number, got '{raw}'");
        return null;
    }

    /// <summary>A whole number; a placeholder 1 when missing (the error is recorded).</summary>
    public long Integer(string name) => IntegerOrNull(name) ?? 1;

    /// <summary>A whole number that must fit an <see cref="int"/>.</summary>
    public int Int(string name)
    {
        long v = Integer(name);
        if (v is < int.MinValue or > int.MaxValue) { _check.Fail(Param(name), $"is too large: {v}"); return 1; }
        return (int)v;
    }

    /// <summary>A comma-separated list of whole numbers.</summary>
    public long[] Integers(string name)
    {
        var raw = Raw(name);
        if (raw is null) return [];
        var parts = raw.Split(',', StringSplitOptions.TrimEntries);
        var values = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out values[i]))
            {
                _check.Fail(Param(name), $"expects comma-separated whole numbers, got '{raw}'");
                return [];
            }
        return values;
    }

    /// <summary><c>true</c> or <c>false</c>.</summary>
    public bool Boolean(string name)
    {
        var raw = Raw(name);
        if (raw is null) return false;
        if (raw.Equals("true", StringComparison.OrdinalIgnoreCase)) return true;
        if (raw.Equals("false", StringComparison.OrdinalIgnoreCase)) return false;
        _check.Fail(Param(name), $"expects true or false, got '{raw}'");
        return false;
    }

    /// <summary>One of the option's choices.</summary>
    public string Choice(string name)
    {
        var option = Option(name);
        var raw = Raw(name) ?? option.Choices![0];
        if (option.Choices!.Contains(raw)) return raw;
        _check.Fail(option.Parameter, $"must be one of {string.Join(", ", option.Choices!)}, got '{raw}'");
        return option.Choices![0];
    }

    /// <summary>Free text, or null.</summary>
    public string? Text(string name) => Raw(name);

    /// <summary>Records an error about an option.</summary>
    public void Fail(string name, string message) => _check.Fail(Param(name), message);

    internal void ThrowIfAny() => _check.ThrowIfAny();

    internal IReadOnlyList<ValidationError> Errors => _check.Errors;
}

/// <summary>
/// Every policy by its Cadence name, with its options (the reference's parameter names in kebab-case and
/// its defaults), built from option text: the one table of policy options behind every front end. The command-line
/// syntaxes that produce the text (<c>--max-lr 0.1</c>, <c>"one-cycle max-lr=0.1"</c>) belong to the <c>cadence</c>
/// tool; here a policy is a name and a dictionary of option text, validated once with every error named.
/// </summary>
public static partial class PolicyCatalog
{
    private static PolicyOption Num(string n, string? d, string help, bool req = false) => new(n, OptionKind.Number, d, help, req);
    private static PolicyOption Nums(string n, string? d, string help, bool req = false) => new(n, OptionKind.Numbers, d, help, req);
    private static PolicyOption Int(string n, string? d, string help, bool req = false) => new(n, OptionKind.Integer, d, help, req);
    private static PolicyOption Bool(string n, string d, string help) => new(n, OptionKind.Boolean, d, help);
    private static PolicyOption Pick(string n, string help, params string[] choices) => new(n, OptionKind.Choice, choices[0], help, false, choices);

    /// <summary>Options every policy accepts.</summary>
    public static readonly IReadOnlyList<PolicyOption> Common =
    [
        Int("iterations", null, "Number of steps to show (default: the policy's own length)"),
        Nums("momentum", null, "The optimizer's momentum, where the policy leaves momentum alone"),
        Pick("optimizer", "Optimizer whose momentum is scheduled: SGD momentum or Adam β1", "sgd", "adam"),
    ];

    private static readonly PolicyOption Lr = Nums("lr", null, "Learning rate (one per parameter group, comma-separated)", true);

    /// <summary>All policies.</summary>
    public static IReadOnlyList<PolicySpec> All { get; } = Build();

    private static List<PolicySpec> Build()
    {
        var all = new List<PolicySpec>
        {
            new("fit", "fastai 0.7 learn.fit", "Constant, SGDR (cycle_len) or slanted-triangle CLR (use_clr) / 1cycle (use_clr_beta)",
            [
                Lr, Int("cycles", "1", "n_cycle: number of cycles"), Int("cycle-len", null, "Epochs per cycle (enables cosine annealing)"),
                Int("cycle-mult", "1", "Each cosine cycle is this many times longer"),
                Nums("use-clr", null, "DIV,CUT_DIV[,MAX_MOM,MIN_MOM]: lr/DIV floor; the first 1/CUT_DIV of a cycle climbs"),
                Nums("use-clr-beta", null, "DIV,PCT[,MAX_MOM,MIN_MOM]: fastai 0.7's 1cycle; last PCT% annihilates"),
                Int("batches-per-epoch", null, "Batches in one epoch", true),
            ], a => FastAi07.Fit(a.Numbers("lr"), a.Integer("batches-per-epoch"), a.Int("cycles"),
                a.IntegerOrNull("cycle-len") is { } cl ? (int)cl : null, a.Int("cycle-mult"),
                a.NumbersOrNull("use-clr") is { } c ? Clr(a, "use-clr", c) : null,
                a.NumbersOrNull("use-clr-beta") is { } b ? ClrBeta(a, b) : null)),

            new("one-cycle", "PyTorch OneCycleLR", "Warm up to max_lr, then anneal far below the start; momentum the other way",
            [
                Nums("max-lr", null, "Peak learning rate (per group)", true), Int("total-steps", null, "Total steps (or --epochs and --steps-per-epoch)"),
                Int("epochs", null, "Epochs (with --steps-per-epoch)"), Int("steps-per-epoch", null, "Steps per epoch (with --epochs)"),
                Num("pct-start", "0.3", "Fraction of steps spent warming up"), Pick("anneal-strategy", "Shape of each phase", "cos", "linear"),
                Bool("cycle-momentum", "true", "Cycle momentum inversely to the lr"), Nums("base-momentum", "0.85", "Lowest momentum (at the lr peak)"),
                Nums("max-momentum", "0.95", "Highest momentum"), Num("div-factor", "25", "initial lr = max_lr/div_factor"),
                Num("final-div-factor", "1e4", "min lr = initial lr/final_div_factor"), Bool("three-phase", "false", "Smith's three phases"),
            ], a =>
            {
                long? total = a.IntegerOrNull("total-steps");
                if (total is null)
                {
                    if (a.Has("epochs") && a.Has("steps-per-epoch"))
                    {
                        long e = a.Integer("epochs"), s = a.Integer("steps-per-epoch");
                        if (e < 1) a.Fail("epochs", $"must be a whole number ≥ 1, got {e}");
                        if (s < 1) a.Fail("steps-per-epoch", $"must be a whole number ≥ 1, got {s}");
                        total = Math.Max(1, e * s);
                    }
                    else a.Fail("total-steps", "is required (or both --epochs and --steps-per-epoch)");
                }
                return Torch.OneCycle(a.Numbers("max-lr"), total ?? 1, a.Number("pct-start"), a.Choice("anneal-strategy") == "linear",
                    a.Boolean("cycle-momentum"), a.Numbers("base-momentum"), a.Numbers("max-momentum"), a.Number("div-factor"),
                    a.Number("final-div-factor"), a.Boolean("three-phase")) with { StepsPerEpoch = a.IntegerOrNull("steps-per-epoch") };
            }),

            new("cyclic", "PyTorch CyclicLR", "Triangle between base_lr and max_lr, forever; momentum inverse",
            [
                Nums("base-lr", null, "Lower lr bound (per group)", true), Nums("max-lr", null, "Upper lr bound (per group)", true),
                Num("step-size-up", "2000", "Steps from base to max"), Num("step-size-down", null, "Steps from max to base (default: step-size-up)"),
                Pick("mode", "Amplitude policy", "triangular", "triangular2", "exp_range"), Num("gamma", "1.0", "exp_range: amplitude·gamma^step"),
                Bool("cycle-momentum", "true", "Cycle momentum inversely to the lr"), Nums("base-momentum", "0.8", "Momentum at the lr peak"),
                Nums("max-momentum", "0.9", "Momentum at base_lr"),
            ], a => Torch.Cyclic(a.Numbers("base-lr"), a.Numbers("max-lr"), a.Number("step-size-up"), a.NumberOrNull("step-size-down"),
                a.Choice("mode") switch { "triangular2" => CyclicMode.Triangular2, "exp_range" => CyclicMode.ExpRange, _ => CyclicMode.Triangular },
                a.Number("gamma"), a.Boolean("cycle-momentum"), a.Numbers("base-momentum"), a.Numbers("max-momentum"))),

            new("cosine-warm-restarts", "PyTorch CosineAnnealingWarmRestarts", "SGDR: cosine to eta_min, restarting in cycles T_mult times longer",
            [Lr, Int("t-0", null, "Steps in the first cycle", true), Int("t-mult", "1", "Cycle growth factor"), Num("eta-min", "0", "Floor of the cosine")],
                a => Torch.CosineWarmRestarts(a.Numbers("lr"), a.Integer("t-0"), a.Integer("t-mult"), a.Number("eta-min"))),
            new("cosine", "PyTorch CosineAnnealingLR", "Cosine to eta_min at T_max (then back up: no restart, no clamp)",
            [Lr, Int("t-max", null, "Steps to reach eta_min", true), Num("eta-min", "0", "Floor of the cosine")],
                a => Torch.Cosine(a.Numbers("lr"), a.Integer("t-max"), a.Number("eta-min"))),
            new("step", "PyTorch StepLR", "Multiply by gamma every step_size steps",
            [Lr, Int("step-size", null, "Steps between decays", true), Num("gamma", "0.1", "Decay factor")],
                a => Torch.Step(a.Numbers("lr"), a.Integer("step-size"), a.Number("gamma"))),
            new("multi-step", "PyTorch MultiStepLR", "Multiply by gamma at each milestone",
            [Lr, new("milestones", OptionKind.Integers, null, "Steps at which to decay, increasing", true), Num("gamma", "0.1", "Decay factor")],
                a => Torch.MultiStep(a.Numbers("lr"), a.Integers("milestones"), a.Number("gamma"))),
            new("exponential", "PyTorch ExponentialLR", "Multiply by gamma every step",
            [Lr, Num("gamma", null, "Decay factor per step", true)], a => Torch.Exponential(a.Numbers("lr"), a.Number("gamma"))),
            new("linear", "PyTorch LinearLR", "Factor moves linearly from start_factor to end_factor over total_iters",
            [Lr, Num("start-factor", "0.3333333333333333", "Factor at step 0"), Num("end-factor", "1.0", "Factor from total_iters on"),
             Int("total-iters", "5", "Steps of the ramp")],
                a => Torch.Linear(a.Numbers("lr"), a.Number("start-factor"), a.Number("end-factor"), a.Integer("total-iters"))),
            new("constant-lr", "PyTorch ConstantLR", "lr·factor for total_iters steps, then lr",
            [Lr, Num("factor", "0.3333333333333333", "Factor before total_iters"), Int("total-iters", "5", "Steps at the reduced lr")],
                a => Torch.ConstantFactor(a.Numbers("lr"), a.Number("factor"), a.Integer("total-iters"))),
            new("polynomial", "PyTorch PolynomialLR", "lr·(1 − t/total_iters)^power, 0 afterwards",
            [Lr, Int("total-iters", "5", "Steps to reach 0"), Num("power", "1.0", "Power of the decay")],
                a => Torch.Polynomial(a.Numbers("lr"), a.Integer("total-iters"), a.Number("power"))),
            new("constant", "constant lr", "A flat learning rate (fastai 0.7 fit without cycle_len)", [Lr], a => Torch.Constant(a.Numbers("lr"))),
            new("sequential", "PyTorch SequentialLR", "Schedulers one after another, switching at the milestones",
            [Lr, new("schedulers", OptionKind.Text, null, "'POLICY:key=value,…;POLICY:…' (each part's options without dashes)", true),
             new("milestones", OptionKind.Integers, null, "Steps at which to switch to the next scheduler", true)],
                a => Torch.Sequential(SubSchedules(a), a.Integers("milestones"))),

            new("fit-one-cycle", "fastai v2 fit_one_cycle", "Cosine warm-up to lr_max at pct_start, cosine down to lr_max/div_final; moms inverse",
            [
                Nums("lr-max", null, "Peak learning rate (per group)", true), Num("div", "25", "Start at lr_max/div"),
                Num("div-final", "1e5", "End towards lr_max/div_final"), Num("pct-start", "0.25", "Fraction of training warming up"),
                Nums("moms", "0.95,0.85,0.95", "Momentum start,middle,end"), Int("epochs", null, "Epochs", true),
                Int("batches-per-epoch", null, "Batches per epoch", true),
            ], a => FastAi.FitOneCycle(a.Numbers("lr-max"), a.Int("epochs"), a.Integer("batches-per-epoch"), a.Number("div"),
                a.Number("div-final"), a.Number("pct-start"), a.Numbers("moms"))),
            new("fit-flat-cos", "fastai v2 fit_flat_cos", "Flat lr for pct_start, then cosine to lr/div_final",
            [Lr, Num("pct-start", "0.75", "Fraction of training at the flat lr"), Num("div-final", "1e5", "End towards lr/div_final"),
             Int("epochs", null, "Epochs", true), Int("batches-per-epoch", null, "Batches per epoch", true)],
                a => FastAi.FitFlatCos(a.Numbers("lr"), a.Int("epochs"), a.Integer("batches-per-epoch"), a.Number("div-final"), a.Number("pct-start"))),
            new("fit-sgdr", "fastai v2 fit_sgdr", "Cosine cycles from lr_max to 0, each cycle_mult times longer",
            [Nums("lr-max", null, "Peak learning rate (per group)", true), Int("n-cycles", null, "Number of cycles", true),
             Int("cycle-len", null, "Epochs in the first cycle", true), Int("cycle-mult", "2", "Cycle growth (≥ 2)"),
             Int("batches-per-epoch", null, "Batches per epoch", true)],
                a => FastAi.FitSgdr(a.Numbers("lr-max"), a.Int("n-cycles"), a.Int("cycle-len"), a.Integer("batches-per-epoch"), a.Int("cycle-mult"))),
            new("fine-tune", "fastai v2 fine_tune", "Frozen one-cycle at slice(base_lr), then unfrozen one-cycle at slice(base_lr/2/lr_mult, base_lr/2); a preview (cadence fit --fine-tune trains it)",
            [
                Int("epochs", null, "Epochs of the unfrozen phase", true), Int("batches-per-epoch", null, "Batches per epoch", true),
                Int("groups", null, "Parameter groups of the model (≥ 2; the last is the head)", true),
                Num("base-lr", "0.002", "base_lr: the head's lr while frozen; halved for the unfrozen phase"),
                Int("freeze-epochs", "1", "Epochs of the frozen phase (0: none)"),
                Num("lr-mult", "100", "Unfrozen: the head's lr / the first group's"), Num("pct-start", "0.3", "Warm-up fraction of the unfrozen phase"),
                Num("div", "5", "Unfrozen phase: start at lr/div"), Nums("moms", "0.95,0.85,0.95", "Momentum start,middle,end (both phases)"),
                Num("div-final", "1e5", "End towards lr/div_final (both phases)"),
            ], a => FineTune.Plan(a.Int("groups"), a.Int("epochs"), a.Integer("batches-per-epoch"), a.Number("base-lr"), a.Int("freeze-epochs"),
                a.Number("lr-mult"), a.Number("pct-start"), a.Number("div"), a.Numbers("moms"), a.Number("div-final")).AsSchedule()),
        };
        all.AddRange(TransformerPolicies());
        return all;
    }

    private static UseClr? Clr(PolicyArgs a, string name, double[] v)
    {
        if (v.Length is not (2 or 4)) { a.Fail(name, $"expects DIV,CUT_DIV or DIV,CUT_DIV,MAX_MOM,MIN_MOM, got {v.Length} values"); return null; }
        return new UseClr(v[0], v[1], v.Length == 4 ? v[2] : null, v.Length == 4 ? v[3] : null);
    }

    private static UseClrBeta? ClrBeta(PolicyArgs a, double[] v)
    {
        // fastai 0.7 takes momentum only from four values; with three it ignores the third (no momentum, no error).
        if (v.Length is < 2 or > 4) { a.Fail("use-clr-beta", $"expects DIV,PCT or DIV,PCT,MAX_MOM,MIN_MOM, got {v.Length} values"); return null; }
        return new UseClrBeta(v[0], v[1], v.Length == 4 ? v[2] : null, v.Length == 4 ? v[3] : null);
    }

    private static Schedule[] SubSchedules(PolicyArgs a)
    {
        var text = a.Text("schedulers") ?? "";
        var lr = a.Text("lr") ?? "";
        var parts = new List<Schedule>();
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.IndexOf(':');
            var name = colon < 0 ? part : part[..colon];
            var options = new Dictionary<string, string> { ["lr"] = lr };
            if (colon >= 0)
                foreach (var kv in part[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var eq = kv.IndexOf('=');
                    if (eq <= 0) { a.Fail("schedulers", $"expects key=value options after '{name}:', got '{kv}'"); continue; }
                    options[kv[..eq]] = kv[(eq + 1)..];
                }
            try { parts.Add(Create(name, options)); }
            catch (ScheduleValidationException e) { a.Fail("schedulers", $"'{part}': {e.Summary}"); }
        }
        if (parts.Count == 0) a.Fail("schedulers", "needs at least one 'POLICY:key=value,…'");
        return [.. parts];
    }

    /// <summary>The policy called <paramref name="name"/>.</summary>
    /// <exception cref="ScheduleValidationException">No such policy; the message lists them all.</exception>
    public static PolicySpec Find(string name) =>
        All.FirstOrDefault(p => p.Name == name)
        ?? throw new ScheduleValidationException([new("policy", $"unknown policy '{name}'; one of: {string.Join(", ", All.Select(p => p.Name))}")]);

    /// <summary>
    /// The options of policy <paramref name="name"/> whose text does not read as their kind (a number, a list of
    /// numbers, a whole number, true/false, one of the choices), found without building the schedule: a front end
    /// checks the text before it knows the data that fills the rest. Unknown options are left to <see cref="Create"/>.
    /// </summary>
    public static IReadOnlyList<ValidationError> TextErrors(string name, IReadOnlyDictionary<string, string> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var spec = Find(name);
        var args = new PolicyArgs(spec, options);
        foreach (var key in options.Keys)
        {
            switch (spec.Options.Concat(Common).FirstOrDefault(o => o.Name == key)?.Kind)
            {
                case OptionKind.Number: args.NumberOrNull(key); break;
                case OptionKind.Numbers: args.NumbersOrNull(key); break;
                case OptionKind.Integer: args.IntegerOrNull(key); break;
                case OptionKind.Integers: args.Integers(key); break;
                case OptionKind.Boolean: args.Boolean(key); break;
                case OptionKind.Choice: args.Choice(key); break;
            }
        }
        return args.Errors;
    }

    /// <summary>
    /// Builds policy <paramref name="name"/> from options given as text (keys without dashes). Options the policy
    /// does not take are refused; <paramref name="defaults"/> fill options the policy takes but the user did not
    /// give (how <c>cadence fit</c> passes its data's batches per epoch).
    /// </summary>
    public static Schedule Create(string name, IReadOnlyDictionary<string, string> options, IReadOnlyDictionary<string, string>? defaults = null)
    {
        var spec = Find(name);
        var given = new Dictionary<string, string>(options);
        var unknown = options.Keys.Where(k => !spec.Options.Any(o => o.Name == k) && !Common.Any(o => o.Name == k)).ToList();
        if (unknown.Count > 0)
            throw new ScheduleValidationException([.. unknown.Select(k => new ValidationError(k.Replace('-', '_'),
                $"is not an option of {name}; its options: {string.Join(", ", spec.Options.Concat(Common).Select(o => o.Name))}"))]);
        if (defaults is not null)
            foreach (var (k, v) in defaults)
                if (!given.ContainsKey(k) && spec.Options.Any(o => o.Name == k)) given[k] = v;
        var args = new PolicyArgs(spec, given);
        Schedule schedule;
        try { schedule = spec.Factory(args); }
        catch (ScheduleValidationException)
        {
            args.ThrowIfAny();   // a missing or malformed option explains the failure better than its placeholder value
            throw;
        }
        // The common options are validated here too, so every caller gets the same messages.
        if (args.IntegerOrNull("iterations") is < 1 and var bad) args.Fail("iterations", $"must be a whole number ≥ 1, got {bad}");
        args.Choice("optimizer");
        args.ThrowIfAny();
        if (!schedule.HasMomentum && args.NumbersOrNull("momentum") is { } m)
        {
            var check = new Check().Momentum("momentum", m);
            check.ThrowIfAny();
            schedule = schedule with { Momentum = [.. Enumerable.Range(0, schedule.Groups).Select(g => Curve.Constant(Check.Of(m, g)))] };
        }
        return schedule;
    }
}
