using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>
/// CIFAR-10's binary version (the benchmark of Smith's CLR and super-convergence papers):
/// <c>data_batch_1.bin</c> … <c>data_batch_5.bin</c> (training), <c>test_batch.bin</c> (validation) and
/// <c>batches.meta.txt</c> (one class name per line). A record is 3,073 bytes: the label, then the 32×32 red, green
/// and blue planes, row-major — already the channel-first layout a model takes. The files may sit in the folder
/// given or in its <c>cifar-10-batches-bin/</c> (as the archive unpacks). Files of any whole number of records are
/// accepted (the real ones hold 10,000 each), so tests can make small ones.
/// </summary>
public static class Cifar10
{
    /// <summary>Bytes per record: one label and 3×32×32 pixels.</summary>
    public const int RecordBytes = 1 + PixelBytes;

    /// <summary>Bytes of pixels per record.</summary>
    public const int PixelBytes = 3 * 32 * 32;

    /// <summary>The training files, in order.</summary>
    public static IReadOnlyList<string> TrainFiles { get; } = [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin")];

    /// <summary>The validation (test) file.</summary>
    public const string TestFile = "test_batch.bin";

    /// <summary>The class names file.</summary>
    public const string MetaFile = "batches.meta.txt";

    /// <summary>Loads the training and test records of <paramref name="directory"/> as uint8 images [N, 3, 32, 32].</summary>
    /// <exception cref="DataFormatException">A file is missing, empty, not whole records, or a label has no class name.</exception>
    public static ImageData Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new DataFormatException(directory, "directory not found");
        string dir = File.Exists(Path.Combine(directory, MetaFile)) || !Directory.Exists(Path.Combine(directory, "cifar-10-batches-bin"))
            ? directory
            : Path.Combine(directory, "cifar-10-batches-bin");
        var classes = ReadClasses(Need(dir, MetaFile));
        var (xt, yt, st) = ReadRecords([.. TrainFiles.Select(f => Need(dir, f))], classes);
        var (xv, yv, sv) = ReadRecords([Need(dir, TestFile)], classes);
        using var scope = NewDisposeScope();
        return new ImageData(xt, yt, xv, yv, classes, st, sv);
    }

    private static string Need(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        if (File.Exists(path)) return path;
        throw new DataFormatException(path,
            $"file not found (CIFAR-10 binary needs {string.Join(", ", TrainFiles)}, {TestFile} and {MetaFile} in {dir})");
    }

    /// <summary>Class names: the non-empty lines of <c>batches.meta.txt</c>, trimmed (the file ends with blank lines).</summary>
    private static string[] ReadClasses(string path)
    {
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).ToArray();
        int last = Array.FindLastIndex(lines, l => l.Length > 0);
        if (last < 0) throw new DataFormatException(path, "expected one class name per line, found none");
        var names = lines[..(last + 1)];
        int blank = Array.FindIndex(names, l => l.Length == 0);
        if (blank >= 0) throw new DataFormatException(path, $"line {blank + 1}: expected a class name, found an empty line");
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new DataFormatException(path, $"class name '{duplicate.Key}' appears twice");
        if (names.Length > 256) throw new DataFormatException(path, $"expected at most 256 class names (labels are bytes), found {names.Length}");
        return names;
    }

    private static (Tensor Images, Tensor Labels, string[] Sources) ReadRecords(string[] files, string[] classes)
    {
        var sizes = files.Select(f => new FileInfo(f).Length).ToArray();
        for (int i = 0; i < files.Length; i++)
        {
            if (sizes[i] == 0) throw new DataFormatException(files[i], $"expected records of {RecordBytes} bytes, found an empty file");
            if (sizes[i] % RecordBytes != 0)
                throw new DataFormatException(files[i], string.Create(CultureInfo.InvariantCulture,
                    $"expected whole records of {RecordBytes} bytes (1 label + 3×32×32 pixels), found {sizes[i]} bytes ({sizes[i] / RecordBytes} records and {sizes[i] % RecordBytes} bytes more)"));
        }
        long total = sizes.Sum() / RecordBytes;
        var images = empty([total, 3, 32, 32], ScalarType.Byte);
        var labels = new long[total];
        var sources = new string[total];
        long n = 0;
        const int perChunk = 4096;
        var buffer = new byte[perChunk * RecordBytes];
        var pixels = new byte[perChunk * PixelBytes];
        for (int f = 0; f < files.Length; f++)
        {
            string name = Path.GetFileName(files[f]);
            using var stream = File.OpenRead(files[f]);
            long records = sizes[f] / RecordBytes;
            for (long r = 0; r < records; r += perChunk)
            {
                int k = (int)Math.Min(perChunk, records - r);
                stream.ReadExactly(buffer, 0, k * RecordBytes);
                for (int j = 0; j < k; j++)
                {
                    byte label = buffer[j * RecordBytes];
                    if (label >= classes.Length)
                        throw new DataFormatException(files[f], string.Create(CultureInfo.InvariantCulture,
                            $"record {r + j} (byte {(r + j) * RecordBytes}): label {label}, but {MetaFile} names {classes.Length} classes"));
                    labels[n + j] = label;
                    sources[n + j] = string.Create(CultureInfo.InvariantCulture, $"{name}#{r + j}");
                    Buffer.BlockCopy(buffer, j * RecordBytes + 1, pixels, j * PixelBytes, PixelBytes);
                }
                using var chunk = tensor(pixels.AsSpan(0, k * PixelBytes).ToArray(), [k, 3, 32, 32]);
                using var target = images.slice(0, n, n + k, 1);
                target.copy_(chunk);
                n += k;
            }
        }
        return (images, tensor(labels), sources);
    }
}
