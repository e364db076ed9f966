using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Cadence.Data;

namespace Cadence.Cli;

/// <summary>Process exit codes.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>The run failed: bad data, a file that could not be read or written, a native error, a diverged fit.</summary>
    public const int Failure = 1;
    /// <summary>The command line was wrong: unknown option, invalid value, impossible combination.</summary>
    public const int Usage = 2;
    /// <summary>Interrupted (Ctrl+C, SIGTERM).</summary>
    public const int Cancelled = 130;
}

/// <summary>
/// A command line that cannot run as given (exit 2). <see cref="Option"/> is what the user typed wrong as they typed
/// it (<c>--epochs</c>, <c>SCHEDULE</c>, <c>POLICY</c>), or null when no single option is to blame.
/// </summary>
internal sealed class UsageException(string? option, string problem) : Exception(option is null ? problem : $"{option}: {problem}")
{
    public string? Option { get; } = option;

    public string Problem { get; } = problem;
}

/// <summary>A file or folder named by an option could not be read or written (exit 1); the message names the option.</summary>
internal sealed class OptionIOException(string option, string problem, Exception? inner = null) : IOException($"{option}: {problem}", inner)
{
    public string Option { get; } = option;
}

/// <summary>
/// The one place where errors become exit codes and messages: every command's exceptions end here, and every message
/// is one line, <c>cadence COMMAND: --option: problem</c>, never a stack trace.
/// </summary>
/// <remarks>
/// <para>The table, first match wins (a library exception added later is one line here):</para>
/// <list type="table">
/// <item><term><see cref="ValidationException"/> (every library's options, the command line's rules)</term><description>2, each error as <c>--option: problem</c></description></item>
/// <item><term><see cref="UsageException"/>, Spectre's parse and binding errors</term><description>2</description></item>
/// <item><term><see cref="OperationCanceledException"/></term><description>130, <c>cancelled</c></description></item>
/// <item><term><see cref="OptionIOException"/></term><description>1, names the option</description></item>
/// <item><term><see cref="DataFormatException"/></term><description>1, blamed on <c>--data</c></description></item>
/// <item><term>I/O, native library, TorchSharp, invalid state</term><description>1</description></item>
/// </list>
/// </remarks>
internal static partial class ErrorHandler
{
    /// <summary>A library exception that is the data's or the environment's fault, and the option to blame (or null).</summary>
    private sealed record Failure(Type Type, string? Option, string? Hint = null);

    /// <summary>Exceptions that exit 1. Add a library's exception here (a device that is missing, a run in use …).</summary>
    private static readonly Failure[] Failures =
    [
        new(typeof(OptionIOException), null),
        new(typeof(DataFormatException), "--data"),
        new(typeof(Cadence.Checkpoints.CheckpointException), "--resume"),
        new(typeof(DllNotFoundException), null, NativeHint),
        new(typeof(TypeInitializationException), null, NativeHint),
        new(typeof(IOException), null),
        new(typeof(UnauthorizedAccessException), null),
        new(typeof(ExternalException), null),
        new(typeof(InvalidOperationException), null),
        new(typeof(NotSupportedException), null),
        new(typeof(ArgumentException), null),
        new(typeof(OutOfMemoryException), null),
    ];

    private const string NativeHint = "TorchSharp's native library did not load; on Debian 12 run 'make setup' as root (libstdc++ with GLIBCXX_3.4.32 is needed)";

    /// <summary>Writes the error for <paramref name="command"/> on <paramref name="stderr"/> and returns its exit code.</summary>
    public static int Report(Exception error, string command, IReadOnlyList<string> args, TextWriter stderr)
    {
        string prefix = command.Length == 0 ? "cadence:" : $"cadence {command}:";
        switch (error)
        {
            case ValidationException v:
                stderr.WriteLine($"{prefix} {string.Join("; ", v.Errors.Select(e => $"{OptionNames.Of(e.Parameter)}: {e.Message}"))}");
                return ExitCodes.Usage;
            case UsageException u:
                stderr.WriteLine($"{prefix} {u.Message}");
                return ExitCodes.Usage;
            case CommandAppException spectre:
                stderr.WriteLine($"{prefix} {SpectreMessage(spectre, args)}");
                return ExitCodes.Usage;
            case OperationCanceledException:
                stderr.WriteLine($"{prefix} cancelled");
                return ExitCodes.Cancelled;
        }
        var failure = Failures.FirstOrDefault(f => f.Type.IsInstanceOfType(error));
        string message = OneLine(error.Message);
        if (failure is null) message = $"{error.GetType().Name}: {message}";   // a bug: say what it was, still without a stack trace
        stderr.WriteLine(failure?.Option is { } option ? $"{prefix} {option}: {message}" : $"{prefix} {message}");
        if (failure?.Hint is { } hint) stderr.WriteLine($"{prefix} {hint}");
        return ExitCodes.Failure;
    }

    /// <summary>Spectre's messages, in the tool's words and naming the option.</summary>
    private static string SpectreMessage(CommandAppException e, IReadOnlyList<string> args)
    {
        string m = e.Message;
        if (NoValue().Match(m) is { Success: true } noValue) return $"--{noValue.Groups[1].Value}: missing value";
        if (Conversion().Match(m) is { Success: true } conversion)
        {
            string value = conversion.Groups[1].Value;
            // The target type is often Nullable`1: tell the kinds apart by the value itself.
            bool number = double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);
            string kind = number || conversion.Groups[2].Value is "Int32" or "Int64" ? "a whole number" : "a number";
            return $"{OptionBefore(value, args) ?? "an option"}: expected {kind}, got '{value}'";
        }
        if (UnknownCommand().Match(m) is { Success: true } unknown)
        {
            string name = unknown.Groups[1].Value;
            return $"unknown command '{name}'{OptionNames.DidYouMean(name, Cli.Commands)}; commands: {string.Join(", ", Cli.Commands)}";
        }
        if (MissingArgument().Match(m) is { Success: true } missing) return $"{missing.Groups[1].Value}: required (see cadence {args.FirstOrDefault()} --help)";
        if (Unmatched().Match(m) is { Success: true } unmatched) return $"unexpected argument '{unmatched.Groups[1].Value}'";
        return m.TrimEnd('.');
    }

    /// <summary>The option whose value <paramref name="value"/> was (<c>--epochs abc</c> or <c>--epochs=abc</c>).</summary>
    private static string? OptionBefore(string value, IReadOnlyList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == value && i > 0 && args[i - 1].StartsWith("--", StringComparison.Ordinal)) return args[i - 1];
            if (args[i].StartsWith("--", StringComparison.Ordinal) && args[i].EndsWith("=" + value, StringComparison.Ordinal)) return args[i][..args[i].IndexOf('=', StringComparison.Ordinal)];
        }
        return null;
    }

    public static string OneLine(string s) => s.Replace("\r", " ", StringComparison.Ordinal).Replace("\n", "; ", StringComparison.Ordinal);

    [GeneratedRegex("^Option '([^']+)' is defined but no value has been provided")]
    private static partial Regex NoValue();

    [GeneratedRegex("^Failed to convert '(.*)' to ([A-Za-z0-9]+)")]
    private static partial Regex Conversion();

    [GeneratedRegex("^Unknown command '(.*)'")]
    private static partial Regex UnknownCommand();

    [GeneratedRegex("missing required argument '(.*)'")]
    private static partial Regex MissingArgument();

    [GeneratedRegex("^Could not match '(.*)' with an argument")]
    private static partial Regex Unmatched();
}

/// <summary>
/// Option names and parameter names, mapped once: a library names a parameter as its reference does (<c>max_lr</c>,
/// <c>startLr</c>), the command line as the user types it (<c>--max-lr</c>, <c>--start-lr</c>).
/// </summary>
internal static class OptionNames
{
    /// <summary><c>max_lr</c>, <c>startLr</c> → <c>--max-lr</c>, <c>--start-lr</c>; names already in command-line form are kept.</summary>
    public static string Of(string parameter)
    {
        // Already as typed (--epochs, SCHEDULE, SCHEDULE 'clr'): only identifiers are parameter names.
        if (parameter.Length == 0 || !char.IsLetter(parameter[0]) || !parameter.All(c => char.IsLetterOrDigit(c) || c == '_') || parameter.All(c => char.IsUpper(c) || c == '_'))
            return parameter;
        var name = new System.Text.StringBuilder("--");
        foreach (char c in parameter)
        {
            if (char.IsUpper(c)) name.Append('-').Append(char.ToLowerInvariant(c));
            else name.Append(c == '_' ? '-' : c);
        }
        return name.ToString();
    }

    /// <summary><c> (did you mean X?)</c> for the closest of <paramref name="candidates"/>, or nothing when none is close.</summary>
    public static string DidYouMean(string typed, IEnumerable<string> candidates)
    {
        var best = candidates.Select(c => (c, d: Distance(typed.TrimStart('-'), c.TrimStart('-')))).OrderBy(x => x.d).FirstOrDefault();
        return best.c is not null && best.d <= Math.Max(2, typed.Length / 3) ? $" (did you mean {best.c}?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
