using System.Globalization;

namespace Cadence.TestSupport;

/// <summary>Small generated data files: tests train on these in a fraction of a second, no dataset needed.</summary>
public static class GeneratedData
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

}
