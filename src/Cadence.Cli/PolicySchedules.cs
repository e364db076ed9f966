using System.Globalization;
using Cadence.Schedules;

namespace Cadence.Cli;

/// <summary>
/// Builds a catalog policy for a training run (<c>fit --schedule</c>, <c>compare</c>, <c>sweep</c>): the data supplies
/// batches (steps) per epoch and, from --epochs, the policy's epochs and total steps, unless the user gave them.
/// </summary>
internal static class PolicySchedules
{
    /// <summary>
    /// The option values a training run fills in when the user did not give them: batches/steps per epoch from the
    /// data; from <paramref name="epochs"/>, the epochs, total steps and t-max (CosineAnnealingLR over the whole fit,
    /// the usual intent) and, for fastai 0.7's <c>fit</c> without cycle-len or cycles, the number of one-epoch cycles
    /// (what <c>cadence fit --epochs N</c> does with fastai's options: N epochs at a constant lr).
    /// </summary>
    public static Dictionary<string, string> Defaults(string policy, IReadOnlyDictionary<string, string> given, long batchesPerEpoch, int? epochs)
    {
        string bpe = batchesPerEpoch.ToString(CultureInfo.InvariantCulture);
        var defaults = new Dictionary<string, string> { ["batches-per-epoch"] = bpe, ["steps-per-epoch"] = bpe };
        if (epochs is { } e)
        {
            defaults["epochs"] = e.ToString(CultureInfo.InvariantCulture);
            defaults["total-steps"] = (e * batchesPerEpoch).ToString(CultureInfo.InvariantCulture);
            defaults["t-max"] = defaults["total-steps"];
            if (policy == "fit" && !given.ContainsKey("cycle-len") && !given.ContainsKey("cycles")) defaults["cycles"] = defaults["epochs"];
        }
        return defaults;
    }

    /// <summary>
    /// Builds <paramref name="policy"/> for data with <paramref name="batchesPerEpoch"/> batches per epoch. Without
    /// <paramref name="epochs"/>, a policy with a length of its own sets the number of epochs, which must then be whole.
    /// <paramref name="source"/> names where the policy came from in messages (<c>--schedule cosine</c>, <c>schedule 'clr'</c>).
    /// </summary>
    /// <exception cref="UsageException">The length cannot be reconciled with --epochs and the data.</exception>
    /// <exception cref="ScheduleValidationException">An option value is invalid.</exception>
    public static (Schedule Schedule, int Epochs) Build(string policy, IReadOnlyDictionary<string, string> options, int? epochs, long batchesPerEpoch, string source)
    {
        var defaults = Defaults(policy, options, batchesPerEpoch, epochs);
        Schedule schedule;
        try { schedule = PolicyCatalog.Create(policy, options, defaults); }
        catch (ScheduleValidationException error) when (epochs is null
            && error.Errors.FirstOrDefault(x => x.Parameter is "epochs" or "total_steps" or "t_max") is { } missing)
        {
            throw new UsageException($"--epochs: required with {source} (or {Usage.Option(missing.Parameter)}: {missing.Message})");
        }
        if (epochs is { } n)
        {
            if (schedule.Length is { } len && len != n * batchesPerEpoch)
                throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                    $"--epochs: {n} epochs of {batchesPerEpoch} batches are {n * batchesPerEpoch} steps but the {policy} schedule is {len} steps long; drop the length options or --epochs"));
            return (schedule, n);
        }
        if (schedule.Length is not { } length)
            throw new UsageException($"--epochs: required with {source} (the policy has no length of its own)");
        if (length % batchesPerEpoch != 0)
            throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"--epochs: the {policy} schedule is {length} steps long, not a whole number of epochs of {batchesPerEpoch} batches; give --epochs instead"));
        if (length / batchesPerEpoch > 100_000) throw new UsageException("--epochs: the schedule needs more than 100000 epochs");
        return (schedule, (int)(length / batchesPerEpoch));
    }
}
