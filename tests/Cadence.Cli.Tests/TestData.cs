using System.Globalization;

namespace Cadence.Cli.Tests;

/// <summary>Small generated data files for the command tests (no dataset needed).</summary>
internal static class TestData
{
    /// <summary>
    /// Three separable classes (string labels alpha/beta/gamma) in 13 numeric columns, 300 rows: with the default
    /// 20% validation split, 240 rows train (15 batches of 16). Returns the file's path.
    /// </summary>
    public static string ThreeClassCsv(string directory, string name = "three.csv")
    {
        var rng = new Random(5);
        var lines = new List<string> { string.Join(",", Enumerable.Range(0, 13).Select(i => $"f{i}").Append("label")) };
        string[] names = ["alpha", "beta", "gamma"];
        for (int r = 0; r < 300; r++)
        {
            int c = r % 3;
            lines.Add(string.Join(",", Enumerable.Range(0, 13)
                .Select(i => (c * (i % 3 == c ? 3.0 : 0.5) + rng.NextDouble()).ToString("F3", CultureInfo.InvariantCulture)).Append(names[c])));
        }
        var csv = Path.Combine(directory, name);
        File.WriteAllLines(csv, lines);
        return csv;
    }
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
