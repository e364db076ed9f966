namespace Cadence.Schedules;

/// <summary>One invalid parameter: its reference name (snake_case, as in PyTorch/fastai) and what is wrong.</summary>
public sealed record ValidationError(string Parameter, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Parameter}: {Message}";
}

/// <summary>
/// Invalid options, every one of them at once (not just the first): the one validation error of Cadence's libraries
/// (schedules, the LR finder's and the charts' options) and of the <c>cadence</c> command line, which names each
/// parameter as its option. <see cref="ArgumentException.ParamName"/> is the first bad parameter.
/// </summary>
public class ValidationException : ArgumentException
{
    /// <summary>Creates the exception from the errors found (at least one).</summary>
    public ValidationException(IReadOnlyList<ValidationError> errors)
        : base(string.Join("; ", errors.Select(e => e.ToString())), errors.Count > 0 ? errors[0].Parameter : throw new ArgumentException("no error", nameof(errors)))
        => Errors = errors;

    /// <summary>Every invalid parameter found.</summary>
    public IReadOnlyList<ValidationError> Errors { get; }

    /// <summary>The message without the "(Parameter 'x')" suffix that <see cref="ArgumentException"/> appends.</summary>
    public string Summary => string.Join("; ", Errors.Select(e => e.ToString()));

    /// <summary>Throws a <see cref="ValidationException"/> carrying <paramref name="errors"/> when there is any.</summary>
    public static void ThrowIfAny(IReadOnlyList<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count > 0) throw new ValidationException(errors);
    }
}

/// <summary>Thrown when a policy is built with invalid parameters (the reference's snake_case names).</summary>
public sealed class ScheduleValidationException(IReadOnlyList<ValidationError> errors) : ValidationException(errors);

/// <summary>
/// Collects parameter errors, then throws them once; ranges are written negated so that NaN always fails. Messages
/// give numbers in <see cref="NumberFormat.Exact"/> form.
/// </summary>
public sealed class Check
{
    private readonly List<ValidationError> _errors = [];

    internal static string F(double v) => NumberFormat.Exact(v);

    /// <summary>The errors collected so far.</summary>
    public IReadOnlyList<ValidationError> Errors => _errors;

    /// <summary>Records that <paramref name="name"/> is invalid.</summary>
    public Check Fail(string name, string message) { _errors.Add(new(name, message)); return this; }

    /// <summary>Records <paramref name="message"/> unless <paramref name="ok"/>.</summary>
    public Check That(bool ok, string name, string message) => ok ? this : Fail(name, message);

    /// <summary>A learning rate: positive and finite (each group).</summary>
    public Check Lr(string name, IReadOnlyList<double> values) =>
        PerGroup(name, values, v => v > 0 && double.IsFinite(v), "must be a positive finite number");

    /// <summary>A floor learning rate: finite and ≥ 0 (each group), e.g. CyclicLR's base_lr.</summary>
    public Check LrFloor(string name, IReadOnlyList<double> values) =>
        PerGroup(name, values, v => v >= 0 && double.IsFinite(v), "must be a finite number ≥ 0");

    private Check PerGroup(string name, IReadOnlyList<double> values, Func<double, bool> ok, string rule)
    {
        if (values.Count == 0) return Fail(name, "needs at least one value (one per parameter group)");
        foreach (var v in values)
            if (!ok(v)) return Fail(name, $"{rule}, got {F(v)}");
        return this;
    }

    /// <summary>A positive finite number.</summary>
    public Check Positive(string name, double v) =>
        That(v > 0 && double.IsFinite(v), name, $"must be a positive finite number, got {F(v)}");

    /// <summary>A finite number ≥ 0.</summary>
    public Check NonNegative(string name, double v) =>
        That(v >= 0 && double.IsFinite(v), name, $"must be a finite number ≥ 0, got {F(v)}");

    /// <summary>A finite number.</summary>
    public Check Finite(string name, double v) => That(double.IsFinite(v), name, $"must be a finite number, got {F(v)}");

    /// <summary>A finite number ≥ <paramref name="min"/>.</summary>
    public Check AtLeast(string name, double v, double min) =>
        That(v >= min && double.IsFinite(v), name, $"must be a finite number ≥ {F(min)}, got {F(v)}");

    /// <summary>An integer ≥ <paramref name="min"/>.</summary>
    public Check AtLeast(string name, long v, long min) =>
        That(v >= min, name, $"must be an integer ≥ {min}, got {v}");

    /// <summary>v in the interval, with open or closed ends written as in mathematics.</summary>
    public Check In(string name, double v, double lo, double hi, bool loOpen = false, bool hiOpen = false)
    {
        bool ok = (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
        return That(ok, name, $"must be in {(loOpen ? "(" : "[")}{F(lo)}, {F(hi)}{(hiOpen ? ")" : "]")}, got {F(v)}");
    }

    /// <summary>
    /// A momentum or β1 value: finite and ≥ 0. Values ≥ 1 make no sense for training but are what PyTorch's own
    /// tests feed the schedulers, and a schedule is only numbers; the trainer refuses them.
    /// </summary>
    public Check Momentum(string name, IReadOnlyList<double> values) =>
        PerGroup(name, values, v => v >= 0 && double.IsFinite(v), "must be a finite number ≥ 0");

    /// <summary>
    /// Every per-group list has either one value or as many as the first list with several (the one that defines
    /// the groups, as the optimizer's groups do in PyTorch); the others are named when they differ.
    /// </summary>
    public int Groups(params (string Name, IReadOnlyList<double>? Values)[] lists)
    {
        int groups = lists.Select(l => l.Values?.Count ?? 1).FirstOrDefault(c => c > 1, 1);
        foreach (var (name, values) in lists)
            if (values is { Count: > 1 } && values.Count != groups)
                Fail(name, $"has {values.Count} values but another per-group option has {groups}; give one value or one per parameter group");
        return groups;
    }

    /// <summary>Throws every error collected as one <see cref="ScheduleValidationException"/>.</summary>
    public void ThrowIfAny()
    {
        if (_errors.Count > 0) throw new ScheduleValidationException(_errors);
    }

    /// <summary>Value of group g from a list with one value (broadcast) or one per group.</summary>
    internal static double Of(IReadOnlyList<double> values, int g) => values.Count == 1 ? values[0] : values[g];
}
