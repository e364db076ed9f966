using System.Reflection;

namespace Cadence.Cli.Options;

/// <summary>
/// An option's description and its allowed values, declared once on the settings property: the generated help shows
/// the range after the description, and <see cref="OptionRules.Validate"/> checks it. One per property (it is the
/// property's <see cref="DescriptionAttribute"/>).
/// </summary>
internal abstract class RuleAttribute(string description) : DescriptionAttribute(description)
{
    /// <summary>The allowed values in words, shown in the help after the description; null for none.</summary>
    public abstract string? Allowed { get; }

    /// <summary>The help text; Spectre renders it as markup, so brackets are escaped.</summary>
    public override string Description => Spectre.Console.Markup.Escape(Allowed is { } allowed ? $"{DescriptionValue} ({allowed})" : DescriptionValue);

    /// <summary>What is wrong with <paramref name="value"/> (never null), or null when it is allowed.</summary>
    public abstract string? Problem(object value);
}

/// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
internal sealed class WholeAttribute(long min, long max, string description) : RuleAttribute(description)
{
    public override string Allowed => max == long.MaxValue ? $"≥ {min}" : $"{min}–{max}";

    public override string? Problem(object value)
    {
        long v = Convert.ToInt64(value, CultureInfo.InvariantCulture);
        return v >= min && v <= max ? null : $"must be a whole number in [{min}, {max}], got {v}";
    }
}

/// <summary>A number in an interval; <see cref="MinOpen"/>/<see cref="MaxOpen"/> exclude an end. NaN and infinities never pass.</summary>
internal sealed class NumberAttribute(double min, double max, string description) : RuleAttribute(description)
{
    public bool MinOpen { get; init; }

    public bool MaxOpen { get; init; }

    private string Interval => $"{(MinOpen ? "(" : "[")}{NumberFormat.Exact(min)}, {NumberFormat.Exact(max)}{(MaxOpen ? ")" : "]")}";

    public override string Allowed => Interval;

    public override string? Problem(object value)
    {
        double v = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        bool ok = double.IsFinite(v) && (MinOpen ? v > min : v >= min) && (MaxOpen ? v < max : v <= max);
        return ok ? null : $"must be in {Interval}, got {NumberFormat.Exact(v)}";
    }
}

/// <summary>One of a few words (a comma list of them with <see cref="List"/>).</summary>
internal sealed class OneOfAttribute(string description, params string[] choices) : RuleAttribute(description)
{
    public IReadOnlyList<string> Choices { get; } = choices;

    /// <summary>A comma-separated list of the choices is allowed.</summary>
    public bool List { get; init; }

    public override string Allowed => string.Join("|", Choices);

    public override string? Problem(object value)
    {
        var words = List ? ((string)value).Split(',') : [(string)value];
        return words.FirstOrDefault(w => !Choices.Contains(w)) is { } bad
            ? $"expected {(List ? "a comma list of " : "")}{string.Join(", ", Choices)}, got '{bad}'{OptionNames.DidYouMean(bad, Choices)}"
            : null;
    }
}

/// <summary>A comma-separated list of positive finite numbers (one per parameter group).</summary>
internal sealed class NumbersAttribute(string description) : RuleAttribute(description)
{
    public override string Allowed => "X[,X…], each > 0";

    public override string? Problem(object value) => Parse((string)value) is null ? $"expected positive numbers separated by commas, got '{value}'" : null;

    public static double[]? Parse(string text)
    {
        var parts = text.Split(',');
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !(values[i] > 0 && double.IsFinite(values[i])))
                return null;
        return values;
    }
}

/// <summary>A name for files inside the run's folder (letters, digits, '-', '_', '.'; not starting with '.' or 'ckpt-').</summary>
internal sealed class FileNameAttribute(string description) : RuleAttribute(description)
{
    public override string? Allowed => null;

    public override string? Problem(object value)
    {
        var name = (string)value;
        bool ok = name.Length is > 0 and <= 100 && !name.StartsWith('.') && !name.StartsWith("ckpt-", StringComparison.Ordinal)
            && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
        return ok ? null : $"expected a name of letters, digits, '-', '_' and '.' (not starting with '.' or 'ckpt-'), got '{name}'";
    }
}

/// <summary>
/// A path the command writes. Checked before any data is loaded: the shape at once (a folder where a file is wanted
/// or the reverse, a wrong extension: usage errors), then whether it can be written, by creating and removing a probe
/// file in the nearest folder that exists (an <see cref="OptionIOException"/>, exit 1). Missing folders are created
/// when the output is written.
/// </summary>
internal sealed class OutputAttribute(OutputKind kind, string description, params string[] extensions) : RuleAttribute(description)
{
    public OutputKind Kind { get; } = kind;

    /// <summary>The file types a chart can be written as (ScottPlot picks the format from the extension).</summary>
    public static readonly string[] ChartExtensions = [".png", ".svg"];

    public override string? Allowed => extensions.Length == 0 ? null : string.Join(" or ", extensions);

    public override string? Problem(object value)
    {
        string path = (string)value;
        if (path.Length == 0) return "expected a path, got ''";
        string full = Path.GetFullPath(path);
        var kind = Kind;
        if (kind == OutputKind.Charts)
        {
            string ext = Path.GetExtension(path).ToLowerInvariant();
            if (ChartExtensions.Contains(ext)) kind = OutputKind.File;
            else if (ext.Length > 0 && !Directory.Exists(full)) return $"expected a folder or a .png or .svg file, got '{path}'";
        }
        if (kind == OutputKind.File)
        {
            if (Directory.Exists(full)) return $"{path} is a folder; expected a file";
            if (extensions.Length > 0 && !extensions.Contains(Path.GetExtension(path).ToLowerInvariant()))
                return $"expected a {string.Join(" or ", extensions)} file, got '{path}'";
        }
        else if (File.Exists(full)) return $"{path} is a file; expected a folder";
        // Missing folders are created when the output is written; one that is a file cannot be.
        string? parent = kind == OutputKind.File ? Path.GetDirectoryName(full) : full;
        if (parent is not null && NearestExisting(parent) is { } existing && File.Exists(existing)) return $"{existing} is a file, not a folder";
        return null;
    }

    /// <summary>Creates and removes a probe file where the output goes; throws <see cref="OptionIOException"/> when that fails.</summary>
    public void Probe(string option, string path)
    {
        string full = Path.GetFullPath(path);
        bool file = Kind == OutputKind.File || Kind == OutputKind.Charts && ChartExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());
        string folder = NearestExisting(file ? Path.GetDirectoryName(full)! : full) ?? full;
        string probe = Path.Combine(folder, $".cadence-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OptionIOException(option, $"cannot write in {folder}: {ErrorHandler.OneLine(e.Message)}", e);
        }
    }

    private static string? NearestExisting(string path)
    {
        for (string? p = path; p is not null; p = Path.GetDirectoryName(p))
            if (Directory.Exists(p) || File.Exists(p)) return p;
        return null;
    }
}

/// <summary>What an <see cref="OutputAttribute"/> path is.</summary>
internal enum OutputKind
{
    /// <summary>A file (its folder is created when missing).</summary>
    File,
    /// <summary>A folder (created, with its parents, when the command writes it).</summary>
    Folder,
    /// <summary>Charts: a folder, or one .png/.svg file.</summary>
    Charts,
}

/// <summary>Settings that check combinations a single option cannot check.</summary>
internal interface ICheckedSettings
{
    /// <summary>Adds an error for each combination that is wrong (options named as typed: <c>--target</c>).</summary>
    void Check(Check check);
}

/// <summary>Runs the rules of a settings object: every error collected, then thrown once; then the output probes.</summary>
internal static class OptionRules
{
    /// <summary>
    /// Checks every option's rule and the settings' combinations, throwing one <see cref="ValidationException"/> with
    /// every error; then probes every output path (<see cref="OptionIOException"/>). Nothing is loaded or trained yet.
    /// </summary>
    public static void Validate(CommandSettings settings)
    {
        var check = new Check();
        var outputs = new List<(string Option, string Path, OutputAttribute Rule)>();
        foreach (var (option, rule, value) in Options(settings))
        {
            if (rule.Problem(value) is { } problem) check.Fail(option, problem);
            else if (rule is OutputAttribute output) outputs.Add((option, (string)value, output));
        }
        if (settings is ICheckedSettings s) s.Check(check);
        ValidationException.ThrowIfAny(check.Errors);
        foreach (var (option, path, rule) in outputs) rule.Probe(option, path);
    }

    /// <summary>Every option that was given (non-null) and has a rule, with the name the user types.</summary>
    private static IEnumerable<(string Option, RuleAttribute Rule, object Value)> Options(CommandSettings settings)
    {
        foreach (var p in settings.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetCustomAttribute<CommandOptionAttribute>() is not { } option || p.GetCustomAttribute<RuleAttribute>() is not { } rule) continue;
            var value = p.GetValue(settings);
            if (value is IFlagValue flag) value = flag.IsSet ? flag.Value : null;   // an option whose value may be left out (--aug [PRESET])
            if (value is not null) yield return ("--" + option.LongNames[0], rule, value);
        }
    }
}
