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

    /// <summary>
    /// Two classes of 16×16 grey images as the four uncompressed Fashion-MNIST IDX files in <paramref name="directory"/>
    /// (for <c>--data idx DIR</c>): class 0 is bright on its left half, class 1 on its right, with noise; 64 training
    /// and 32 test images. Returns the folder.
    /// </summary>
    public static string TwoClassImages(string directory)
    {
        var rng = new Random(7);
        void Write(string prefix, int count)
        {
            var pixels = new byte[count * 16 * 16];
            var labels = new byte[count];
            for (int n = 0; n < count; n++)
            {
                labels[n] = (byte)(n % 2);
                for (int i = 0; i < 256; i++)
                    pixels[n * 256 + i] = (byte)((i % 16 < 8 == (labels[n] == 0) ? 140 : 0) + rng.Next(100));
            }
            File.WriteAllBytes(Path.Combine(directory, $"{prefix}-images-idx3-ubyte"), Idx([count, 16, 16], pixels));
            File.WriteAllBytes(Path.Combine(directory, $"{prefix}-labels-idx1-ubyte"), Idx([count], labels));
        }
        Write("train", 64);
        Write("t10k", 32);
        return directory;
    }

    /// <summary>An IDX file of unsigned bytes: magic 0x08 and the dimension count, the dimensions big-endian, the data.</summary>
    private static byte[] Idx(int[] dims, byte[] data)
    {
        var bytes = new List<byte> { 0, 0, 0x08, (byte)dims.Length };
        foreach (int d in dims) bytes.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        bytes.AddRange(data);
        return [.. bytes];
    }
}
