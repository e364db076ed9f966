
namespace Cadence.Cli.Options;

/// <summary>
/// A policy and its options as text, as the command line gave them. The three syntaxes of the tool —
/// <c>schedule POLICY --opt v</c>, <c>fit [--schedule POLICY] --opt v</c> and <c>compare "[NAME:] POLICY opt=v"</c> —
/// all end here, and <see cref="PolicyCatalog"/> (the one table of policy options) converts and validates the text.
/// </summary>
/// <param name="Label">How tables call it: the name before the colon, or the text.</param>
/// <param name="Text">The compact form, <c>POLICY key=value …</c> (the identity of a run in a results file).</param>
/// <param name="Policy">The catalog's name of the policy.</param>
/// <param name="Options">Its options as text, keys without dashes.</param>
internal sealed record PolicyChoice(string Label, string Text, string Policy, IReadOnlyDictionary<string, string> Options)
{
    /// <summary>Options a training run sets from its data and --epochs: giving them would contradict the data.</summary>
    private const string LengthFromData = "iterations";

    /// <summary>The catalog's fine-tune entry: previewed by <c>schedule fine-tune</c>, trained only by <c>fit --fine-tune</c> (two fits, freezing between).</summary>
    public static PolicySpec FineTuneSpec { get; } = PolicyCatalog.Find("fine-tune");

    /// <summary>Options of the fine-tune policy that a training run takes from its model and data instead.</summary>
    private static readonly string[] FineTuneFromRun = ["groups", "batches-per-epoch", "epochs"];

    /// <summary>
    /// The catalog's entry for <paramref name="name"/>; a usage error naming <paramref name="source"/> with a did-you-mean
    /// otherwise. A training command (<paramref name="training"/>) refuses fine-tune, which one schedule cannot train.
    /// </summary>
    public static PolicySpec Find(string name, string source, bool training = true)
    {
        var spec = PolicyCatalog.All.FirstOrDefault(p => p.Name == name)
            ?? throw new UsageException(source, $"unknown policy '{name}'{OptionNames.DidYouMean(name, PolicyCatalog.All.Select(p => p.Name))}; policies: {string.Join(", ", PolicyCatalog.All.Select(p => p.Name))}");
        if (training && spec == FineTuneSpec)
            throw new UsageException(source, "fine-tune trains in two fits (frozen, then unfrozen), not as one schedule: use cadence fit --fine-tune EPOCHS");
        return spec;
    }

    /// <summary>
    /// The options left over after the command's own (Spectre's remaining arguments, <c>--key value</c>): each must be an
    /// option of <paramref name="spec"/>, given once, with a value.
    /// </summary>
    public static Dictionary<string, string> FromRemaining(IRemainingArguments remaining, PolicySpec spec, string command, bool training)
    {
        if (remaining.Raw.Count > 0) throw new UsageException(null, $"unexpected arguments after '--': {string.Join(' ', remaining.Raw)}");
        var options = new Dictionary<string, string>();
        foreach (var group in remaining.Parsed)
        {
            string flag = group.Key;
            if (!flag.StartsWith("--", StringComparison.Ordinal)) throw new UsageException(flag, $"unknown option (see cadence {command} --help)");
            string key = flag[2..];
            CheckName(spec, key, flag, command, training);
            var values = group.ToList();
            if (values.Count > 1) throw new UsageException(flag, "given twice");
            options[key] = values[0] ?? throw new UsageException(flag, "missing value");
        }
        return options;
    }

    /// <summary>
    /// Parses <c>"[NAME:] POLICY key=value …"</c> (keys are the options without dashes), checking the policy and its
    /// option names; the values are checked by the catalog with the data.
    /// </summary>
    public static PolicyChoice FromText(string text)
    {
        string trimmed = text.Trim(), label = trimmed, body = trimmed;
        int space = trimmed.IndexOf(' ', StringComparison.Ordinal);
        string first = space < 0 ? trimmed : trimmed[..space];
        if (first.EndsWith(':') && first.Length > 1)
        {
            label = first[..^1];
            body = trimmed[first.Length..].Trim();
        }
        string where = $"SCHEDULE '{text}'";
        var words = body.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) throw new UsageException(where, "is empty; expected '[NAME:] POLICY key=value …'");
        var spec = Find(words[0], where);
        var options = new Dictionary<string, string>();
        foreach (var w in words.Skip(1))
        {
            int eq = w.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new UsageException(where, $"expects key=value after the policy name, got '{w}'");
            string key = w[..eq];
            CheckName(spec, key, where + ": " + key, "compare", training: true);
            if (!options.TryAdd(key, w[(eq + 1)..])) throw new UsageException(where, $"gives {key} twice");
        }
        return new PolicyChoice(label, body, spec.Name, options);
    }

    private static void CheckName(PolicySpec spec, string key, string shown, string command, bool training)
    {
        if (training && key == LengthFromData) throw new UsageException(shown, "the length comes from --epochs and the data; drop it");
        var names = spec.Options.Concat(PolicyCatalog.Common).Select(o => o.Name).ToList();
        if (training && spec == FineTuneSpec)
        {
            var own = names.Where(n => !FineTuneFromRun.Contains(n) && n is not ("iterations" or "momentum" or "optimizer")).Select(n => "--" + n).ToList();
            if (FineTuneFromRun.Contains(key))
                throw new UsageException(shown, "comes from the model and the data with --fine-tune (--fine-tune EPOCHS gives the epochs)");
            if (!own.Contains(shown))
                throw new UsageException(shown, $"not with --fine-tune{OptionNames.DidYouMean(key, own)} (fine-tune's options: {string.Join(", ", own)})");
            return;
        }
        if (!names.Contains(key))
            throw new UsageException(shown, $"is not an option of cadence {command} or of policy {spec.Name}{OptionNames.DidYouMean(key, names.Select(n => "--" + n))} (its options: {string.Join(", ", spec.Options.Select(p => "--" + p.Name))})");
    }

    /// <summary>Adds the options whose text is not of their kind (checked before any data is loaded); "auto" lrs are resolved later.</summary>
    public void CheckText(Check check, string? prefix = null)
    {
        var given = Options.Where(kv => kv.Value != "auto").ToDictionary();
        foreach (var e in PolicyCatalog.TextErrors(Policy, given))
            check.Fail(prefix ?? OptionNames.Of(e.Parameter), prefix is null ? e.Message : $"{e.Parameter.Replace('_', '-')}: {e.Message}");
    }

    /// <summary>
    /// The option values a training run fills in when the user did not give them: batches/steps per epoch from the
    /// data; from <paramref name="epochs"/>, the epochs, total steps and t-max (CosineAnnealingLR over the whole fit,
    /// the usual intent); for fastai 0.7's <c>fit</c> the lr of <c>cadence fit</c> (0.01) and, without cycle-len or
    /// cycles, one one-epoch cycle per epoch (N epochs at a constant lr).
    /// </summary>
    public Dictionary<string, string> Defaults(long batchesPerEpoch, int? epochs)
    {
        string bpe = batchesPerEpoch.ToString(CultureInfo.InvariantCulture);
        var defaults = new Dictionary<string, string> { ["batches-per-epoch"] = bpe, ["steps-per-epoch"] = bpe };
        if (Policy == "fit") defaults["lr"] = "0.01";
        if (epochs is { } e)
        {
            defaults["epochs"] = e.ToString(CultureInfo.InvariantCulture);
            defaults["total-steps"] = (e * batchesPerEpoch).ToString(CultureInfo.InvariantCulture);
            defaults["t-max"] = defaults["total-steps"];
            if (Policy == "fit" && !Options.ContainsKey("cycle-len") && !Options.ContainsKey("cycles")) defaults["cycles"] = defaults["epochs"];
        }
        return defaults;
    }

    /// <summary>
    /// Builds the schedule for data with <paramref name="batchesPerEpoch"/> batches per epoch. Without
    /// <paramref name="epochs"/>, a policy with a length of its own sets the number of epochs, which must then be whole.
    /// </summary>
    /// <exception cref="UsageException">The length cannot be reconciled with --epochs and the data.</exception>
    /// <exception cref="ScheduleValidationException">An option value is invalid.</exception>
    public (Schedule Schedule, int Epochs) Build(long batchesPerEpoch, int? epochs)
    {
        Schedule schedule;
        try { schedule = PolicyCatalog.Create(Policy, Options, Defaults(batchesPerEpoch, epochs)); }
        catch (ScheduleValidationException error) when (epochs is null
            && error.Errors.FirstOrDefault(x => x.Parameter is "epochs" or "total_steps" or "t_max") is { } missing)
        {
            throw new UsageException("--epochs", $"required with {Policy} (or {OptionNames.Of(missing.Parameter)}: {missing.Message})");
        }
        if (epochs is { } n)
        {
            if (schedule.Length is { } len && len != n * batchesPerEpoch)
                throw new UsageException("--epochs", string.Create(CultureInfo.InvariantCulture,
                    $"{n} epochs of {batchesPerEpoch} batches are {n * batchesPerEpoch} steps but the {Policy} schedule is {len} steps long; drop the length options or --epochs"));
            return (schedule, n);
        }
        if (schedule.Length is not { } length) throw new UsageException("--epochs", $"required with {Policy} (the policy has no length of its own)");
        if (length % batchesPerEpoch != 0)
            throw new UsageException("--epochs", string.Create(CultureInfo.InvariantCulture,
                $"the {Policy} schedule is {length} steps long, not a whole number of epochs of {batchesPerEpoch} batches; give --epochs instead"));
        if (length / batchesPerEpoch > 100_000) throw new UsageException("--epochs", "the schedule needs more than 100000 epochs");
        return (schedule, (int)(length / batchesPerEpoch));
    }

    /// <summary>A whole-number option of the policy (already validated by <see cref="Build"/>), or its fallback.</summary>
    public int Whole(string name, int fallback) =>
        Options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
