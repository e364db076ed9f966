using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>
/// The decode cache of <see cref="ImageFolder"/>: one file per data folder holding the decoded uint8 images, the
/// class names and the skipped files (labels and sources follow from the folder's scan, which the key vouches for).
/// Its key is an XxHash128 over every image's relative path, size and modification time and the options that shape
/// the pixels (size, resize method, channels, split); a key that differs (an image added, edited, removed; other
/// options) is a miss, and the folder's older cache files are removed when the new one is written. A file is trusted only whole: magic, format version, key, length and an XxHash128 of
/// the pixels are checked, and anything else (truncated, edited, another version) is decoded again. Written to a
/// temporary file, then renamed, so a crash never leaves a half-written cache under the real name. It is not synced
/// to disk: after a power loss the file may be empty or torn, which the checks refuse, and the images are decoded
/// again — a cache needs no durability, and a sync cost a cold start up to 0.7 s.
/// </summary>
public sealed class ImageCache
{
    private const int Version = 2;
    private static readonly byte[] Magic = "CDNCIMG\n"u8.ToArray();
    private const long ChunkBytes = 64L << 20;

    /// <summary>Creates a cache in <paramref name="directory"/> (created when first written).</summary>
    public ImageCache(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = directory;
    }

    /// <summary>The cache's folder.</summary>
    public string Directory { get; }

    /// <summary><c>$XDG_CACHE_HOME/cadence/images</c>, or <c>~/.cache/cadence/images</c> (the local application data folder on Windows).</summary>
    public static string DefaultDirectory
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string baseDir = !string.IsNullOrEmpty(xdg) ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(baseDir, "cadence", "images");
        }
    }

    /// <summary>The cache key: XxHash128 (hex) of the options and every file's relative path, size and modification time.</summary>
    internal static string Key(IEnumerable<ImageFolder.Item> files, ImageFolderOptions options)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"cadence image cache {Version}\nsize={options.Size}\nmethod={options.Method}\nchannels={options.Channels}\nvalid_pct={options.ValidPct:R}\nseed={options.Seed}\n");
        foreach (var file in files) text.Append(CultureInfo.InvariantCulture, $"{file.Relative}\t{file.Length}\t{file.ModifiedTicks}\n");
        return Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>The cache file of folder <paramref name="root"/> for <paramref name="key"/>.</summary>
    internal string PathFor(string root, string key) => Path.Combine(Directory, $"{Prefix(root)}{key[..32]}.bin");

    private static string Prefix(string root) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(root))))[..16] + "-";

    private sealed record Header(int Version, string Root, string Key, string[] Classes, int Channels, int Height, int Width,
        int TrainCount, int ValidCount, SkippedImage[] Skipped, long PayloadLength, string PayloadHash);

    /// <summary>
    /// Reads <paramref name="file"/> when it is a whole cache of <paramref name="layout"/>. Returns the data, or null and
    /// why the cache was not used (null reason: there was none).
    /// </summary>
    /// <exception cref="DataFormatException">The cache says images were skipped and <c>SkipBad</c> is off: the first one is named.</exception>
    internal (ImageData? Data, string? Why) TryRead(string file, ImageFolder.Layout layout, ImageFolderOptions options)
    {
        if (!File.Exists(file)) return (null, null);
        string key = Path.GetFileNameWithoutExtension(file)[17..];
        Header header;
        ImageData data;
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var magic = new byte[Magic.Length + 4];
            stream.ReadExactly(magic);
            if (!magic.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return (null, Stale(file, "not a Cadence image cache"));
            int headerLength = BinaryPrimitives.ReadInt32LittleEndian(magic.AsSpan(Magic.Length));
            if (headerLength <= 0 || headerLength > stream.Length - stream.Position) return (null, Stale(file, "truncated header"));
            var headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
            header = JsonSerializer.Deserialize<Header>(headerBytes) ?? throw new JsonException("empty header");
            if (header.Version != Version) return (null, Stale(file, $"format {header.Version}, this Cadence writes {Version}"));
            if (!header.Key.StartsWith(key, StringComparison.Ordinal) || header.Root != layout.Root || !header.Classes.SequenceEqual(layout.Classes))
                return (null, Stale(file, "made for other files"));
            // The key vouches for the file list, so labels and sources come from the scan: the kept images in its order,
            // training images first (as Write stored them).
            var skipped = header.Skipped.Select(s => s.File).ToHashSet(StringComparer.Ordinal);
            var kept = layout.Files.Where(f => !skipped.Contains(f.Relative)).ToArray();
            var trainFiles = kept.Where(f => !f.Valid).ToArray();
            var validFiles = kept.Where(f => f.Valid).ToArray();
            if (trainFiles.Length != header.TrainCount || validFiles.Length != header.ValidCount)
                return (null, Stale(file, $"made for {header.TrainCount} + {header.ValidCount} images, the folder has {trainFiles.Length} + {validFiles.Length}"));
            long plane = (long)header.Channels * header.Height * header.Width;
            long nt = header.TrainCount, nv = header.ValidCount;
            if (header.PayloadLength != (nt + nv) * plane || stream.Length - stream.Position != header.PayloadLength)
                return (null, Stale(file, $"expected {header.PayloadLength} bytes of pixels, found {stream.Length - stream.Position}"));
            var hash = new XxHash128();
            using var scope = NewDisposeScope();
            var train = ReadImages(stream, hash, nt, header);
            var valid = ReadImages(stream, hash, nv, header);
            if (Convert.ToHexStringLower(hash.GetHashAndReset()) != header.PayloadHash)
                return (null, Stale(file, "the pixels' checksum does not match (corrupt)"));
            data = new ImageData(train, tensor(trainFiles.Select(f => (long)f.Label).ToArray()), valid, tensor(validFiles.Select(f => (long)f.Label).ToArray()),
                header.Classes, [.. trainFiles.Select(f => f.Relative)], [.. validFiles.Select(f => f.Relative)], header.Skipped)
            { FromCache = true, CacheFile = file };
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return (null, Stale(file, e.Message));
        }
        if (data.Skipped.Count > 0 && !options.SkipBad)
        {
            var first = data.Skipped[0];
            data.Dispose();
            throw new DataFormatException(Path.Combine(layout.Root, first.File),
                first.Reason + (header.Skipped.Length > 1 ? $" ({header.Skipped.Length - 1} more unreadable images; --skip-bad leaves them out and lists them)" : " (--skip-bad leaves unreadable images out and lists them)"));
        }
        return (data, null);
    }

    private static string Stale(string file, string why) => $"cache {file} not used ({why}); decoding again";

    private static Tensor ReadImages(Stream stream, XxHash128 hash, long count, Header header)
    {
        long plane = (long)header.Channels * header.Height * header.Width;
        var images = empty([count, header.Channels, header.Height, header.Width], ScalarType.Byte);
        long perChunk = Math.Max(1, ChunkBytes / Math.Max(1, plane));
        for (long start = 0; start < count; start += perChunk)
        {
            // Straight into the tensor's memory: a slice along the first dimension of a new tensor is contiguous.
            using var target = images.slice(0, start, Math.Min(count, start + perChunk), 1);
            var bytes = target.bytes;
            stream.ReadExactly(bytes);
            hash.Append(bytes);
        }
        return images;
    }

    /// <summary>Writes <paramref name="data"/> to <paramref name="file"/> (temporary file, flush, rename) and removes the folder's older cache files.</summary>
    internal void Write(string file, string root, ImageData data)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string key = Path.GetFileNameWithoutExtension(file)[17..];
        var hash = new XxHash128();
        foreach (var images in new[] { data.TrainImages, data.ValidImages }) Chunks(images, hash.Append);
        long plane = (long)data.Channels * data.Height * data.Width;
        var header = new Header(Version, root, key, [.. data.ClassNames], data.Channels, data.Height, data.Width,
            (int)data.TrainImages.shape[0], (int)data.ValidImages.shape[0], [.. data.Skipped], (data.TrainImages.shape[0] + data.ValidImages.shape[0]) * plane, Convert.ToHexStringLower(hash.GetHashAndReset()));
        var headerBytes = JsonSerializer.SerializeToUtf8Bytes(header);
        string temp = $"{file}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(Magic);
                Span<byte> length = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(length, headerBytes.Length);
                stream.Write(length);
                stream.Write(headerBytes);
                foreach (var images in new[] { data.TrainImages, data.ValidImages }) Chunks(images, stream.Write);
            }
            File.Move(temp, file, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        string prefix = Path.GetFileName(file)[..17];
        foreach (var old in System.IO.Directory.EnumerateFiles(Directory, prefix + "*.bin"))
            if (!string.Equals(old, file, StringComparison.Ordinal))
                try { File.Delete(old); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Receives the pixels a chunk at a time.</summary>
    private delegate void ChunkSink(ReadOnlySpan<byte> chunk);

    private static void Chunks(Tensor images, ChunkSink sink)
    {
        long n = images.shape[0];
        long plane = images.numel() / Math.Max(1, n);
        long perChunk = Math.Max(1, ChunkBytes / Math.Max(1, plane));
        for (long start = 0; start < n; start += perChunk)
        {
            // The tensor's own memory, not data<byte>().ToArray(), which reads element by element (1.3 s for 47 MB).
            using var chunk = images.slice(0, start, Math.Min(n, start + perChunk), 1).contiguous();
            sink(chunk.bytes);
        }
    }
}
