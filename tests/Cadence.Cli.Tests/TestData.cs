using Cadence.TestSupport;

namespace Cadence.Cli.Tests;

/// <summary>Small generated data files for the command tests (no dataset needed).</summary>
internal static class TestData
{
    /// <summary>The three-class CSV of <see cref="GeneratedData.ThreeClassCsv"/>: 240 training rows, 15 batches of 16.</summary>
    public static string ThreeClassCsv(string directory, string name = "three.csv", bool noisy = false) => GeneratedData.ThreeClassCsv(directory, name, noisy);

    /// <summary>A usage error: exit 2, nothing on stdout, one line on stderr starting with <paramref name="message"/>.</summary>
    public static void AssertUsageError((int Code, string Out, string Err) result, string message)
    {
        Assert.Equal(2, result.Code);
        Assert.Equal("", result.Out);
        Assert.Single(result.Err.Trim().Split(Environment.NewLine));
        Assert.StartsWith(message, result.Err, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>cadence COMMAND ARGS…</c> in this process with captured output.</summary>
    public static (int Code, string Out, string Err) Run(string command, string[] args, CancellationToken ct = default)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run([command, .. args], stdout, stderr, ct);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs <c>cadence ARGS…</c> with <paramref name="stderr"/> as its error output (a writer that cancels, say).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct) => Program.Run(args, stdout, stderr, ct);
}

public sealed class HelpTextTests
{
    [Theory]
    [InlineData("fit")]
    [InlineData("lr-find")]
    [InlineData("compare")]
    [InlineData("sweep")]
    [InlineData("schedule")]
    [InlineData("predict")]
    public void Every_option_of_a_help_text_starts_its_own_line(string command)
    {
        var stdout = new StringWriter();
        int code = Program.Run([command, "--help"], stdout, new StringWriter(), CancellationToken.None);
        Assert.Equal(0, code);
        var glued = stdout.ToString().Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\S  +--[a-z]")).ToArray();
        Assert.True(glued.Length == 0, "options glued to the text before them:\n" + string.Join("\n", glued));
    }
}
