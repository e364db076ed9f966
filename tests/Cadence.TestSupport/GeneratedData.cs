using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

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
    /// (for <c>--data idx DIR</c>): class c is a bright band of 8 rows at height 8c (<see cref="Band"/>); 64 training
    /// and 32 test images. Returns the folder.
    /// </summary>
    public static string TwoClassImages(string directory)
    {
        var rng = new Random(7);
        void Write(string prefix, int count)
        {
            var labels = Enumerable.Range(0, count).Select(n => (byte)(n % 2)).ToArray();
            byte[] pixels = [.. labels.SelectMany(c => Band(16, 8 * c, 8, rng))];
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

    /// <summary>
    /// An image folder (fastai's layout, <c>DIR/train/&lt;class&gt;/</c> and <c>DIR/valid/&lt;class&gt;/</c>) of grey
    /// <paramref name="size"/>×<paramref name="size"/> PNGs a small CNN learns in a few epochs: class c is a bright
    /// horizontal band at a height of its own, on seeded noise. Returns the folder.
    /// </summary>
    /// <param name="directory">The folder to create.</param>
    /// <param name="classes">Class names (folder names).</param>
    /// <param name="train">Training images per class.</param>
    /// <param name="valid">Validation images per class (0: no valid/ folder).</param>
    /// <param name="size">Side of the square images.</param>
    public static string ImageFolder(string directory, IReadOnlyList<string> classes, int train = 16, int valid = 4, int size = 8)
    {
        var rng = new Random(7);
        foreach (var (split, count) in new[] { ("train", train), ("valid", valid) })
            for (int c = 0; c < classes.Count; c++)
                for (int i = 0; i < count; i++)
                    Png(Path.Combine(directory, split, classes[c], $"{i:D3}.png"), size, size, 1, Band(size, c * size / classes.Count, size / classes.Count, rng));
        return directory;
    }

    /// <summary>Grey pixels: noise in [0, 80), and rows <paramref name="from"/> … <paramref name="from"/> + <paramref name="rows"/> − 1 bright (170–255).</summary>
    public static byte[] Band(int size, int from, int rows, Random rng) =>
        [.. Enumerable.Range(0, size * size).Select(i => (byte)(i / size >= from && i / size < from + Math.Max(1, rows) ? 170 + rng.Next(86) : rng.Next(80)))];

    /// <summary>A PNG of colour type 0 (grey), 2 (RGB) or 6 (RGBA), 8 bits per sample, filter 0 on every row.</summary>
    public static string Png(string path, int width, int height, int channels, byte[] hwc)
    {
        if (hwc.Length != width * height * channels) throw new ArgumentException($"{width}×{height}×{channels} pixels need {width * height * channels} bytes, got {hwc.Length}", nameof(hwc));
        byte colourType = channels switch { 1 => 0, 3 => 2, 4 => 6, _ => throw new ArgumentOutOfRangeException(nameof(channels)) };
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            raw.Write(hwc, y * width * channels, width * channels);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = colourType;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, png.ToArray());
        return path;
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        s.Write(four);
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(four, Crc32(typed));
        s.Write(four);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
