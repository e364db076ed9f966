using System.Globalization;

namespace Cadence.Cli.Tests;

/// <summary>Small generated data files for the command tests (no dataset needed).</summary>
internal static class TestData
{
    /// <summary>
    /// Three separable classes (string labels alpha/beta/gamma) in 13 numeric columns, 300 rows: with the default
    /// 20% validation split, 240 rows train (15 batches of 16). Returns the file's path.
    /// </summary>
    /// <param name="directory">Folder of the file.</param>
    /// <param name="name">File name.</param>
    /// <param name="noisy">Overlapping classes instead (a signal of 0.35 on uniform noise): accuracy stays below 1 and
    /// moves from epoch to epoch, so targets and means have something to measure.</param>
    public static string ThreeClassCsv(string directory, string name = "three.csv", bool noisy = false)
    {
        var rng = new Random(5);
        var lines = new List<string> { string.Join(",", Enumerable.Range(0, 13).Select(i => $"f{i}").Append("label")) };
        string[] names = ["alpha", "beta", "gamma"];
        for (int r = 0; r < 300; r++)
        {
            int c = r % 3;
            lines.Add(string.Join(",", Enumerable.Range(0, 13)
                .Select(i => (noisy ? (i % 3 == c ? 0.35 : 0.0) : c * (i % 3 == c ? 3.0 : 0.5)) + rng.NextDouble())
                .Select(v => v.ToString("F3", CultureInfo.InvariantCulture)).Append(names[c])));
        }
        var csv = Path.Combine(directory, name);
        File.WriteAllLines(csv, lines);
        return csv;
    }

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
    public void Every_option_of_a_help_text_starts_its_own_line(string command)
    {
        var stdout = new StringWriter();
        int code = Program.Run([command, "--help"], stdout, new StringWriter(), CancellationToken.None);
        Assert.Equal(0, code);
        var glued = stdout.ToString().Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"\S  +--[a-z]")).ToArray();
        Assert.True(glued.Length == 0, "options glued to the text before them:\n" + string.Join("\n", glued));
    }
}
