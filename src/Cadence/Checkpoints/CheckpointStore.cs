using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Cadence.Checkpoints;

/// <summary>A checkpoint could not be read: missing, partial, corrupt or made for another model. Nothing was loaded.</summary>
public class CheckpointException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="path">The bad file or directory.</param>
    /// <param name="problem">What is wrong with it.</param>
    public CheckpointException(string path, string problem) : base($"{path}: {problem}") => (BadPath, Problem) = (path, problem);

    /// <summary>The file (or directory) at fault.</summary>
    public string BadPath { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}

/// <summary>A checkpoint could not be written (disk full, unwritable directory …). The previous checkpoints are intact.</summary>
public sealed class CheckpointWriteException : IOException
{
    /// <summary>Creates the exception.</summary>
    public CheckpointWriteException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Durable checkpoint directories. A checkpoint is a directory of files plus <c>manifest.json</c>, which lists every
/// file with its size and SHA-256 and carries a checksum of that list. It is written into a temporary directory
/// (<c>.tmp-*</c>, next to the target), every file and the directory are fsynced, and only then is it renamed into
/// place, so a crash at any moment leaves either the complete new checkpoint or none — never a damaged older one.
/// A reader verifies the whole manifest before it returns any byte.
/// </summary>
public static class CheckpointStore
{
    /// <summary>Name of the manifest inside a checkpoint directory.</summary>
    public const string ManifestName = "manifest.json";

    /// <summary>Prefix of directories being written or deleted (ignored by readers, removed by <see cref="RemoveTemporaries"/>).</summary>
    public const string TempPrefix = ".tmp-";

    private const int Format = 1;

    /// <summary>
    /// Test hook: when the environment variable <c>CADENCE_TEST_CHECKPOINT_DELAY_MS</c> is set, the writer sleeps that
    /// long half-way through writing the files, so a test can kill the process while a checkpoint is being written.
    /// </summary>
    public const string DelayVariable = "CADENCE_TEST_CHECKPOINT_DELAY_MS";

    /// <summary>
    /// Opens a new file for writing (tests replace it to simulate a full disk). Unbuffered: every file is written in one
    /// call, so an error surfaces there or at the fsync, never later in a Dispose.
    /// </summary>
    internal static Func<string, Stream> CreateFile { get; set; } =
        path => new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);

    /// <summary>
    /// Writes the checkpoint <paramref name="directory"/>/<paramref name="name"/> from <paramref name="files"/>
    /// (file name, writer), replacing an existing one of that name only once the new one is complete.
    /// </summary>
    /// <returns>The checkpoint's path.</returns>
    /// <exception cref="CheckpointWriteException">A file could not be written; the temporary directory is removed and older checkpoints are untouched.</exception>
    public static string Write(string directory, string name, IReadOnlyList<(string File, Action<Stream> Write)> files)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(files);
        CheckName(name, nameof(name));
        string final = Path.Combine(directory, name);
        string temp = Path.Combine(directory, $"{TempPrefix}{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(directory);
            Directory.CreateDirectory(temp);
            var entries = new List<Entry>();
            int delay = DelayMs(DelayVariable);
            var open = new List<Stream>();
            try
            {
                for (int i = 0; i < files.Count; i++)
                {
                    var (file, write) = files[i];
                    CheckName(file, nameof(files));
                    using var buffer = new MemoryStream();
                    write(buffer);
                    var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
                    var stream = CreateFile(Path.Combine(temp, file));
                    open.Add(stream);
                    WriteAll(stream, bytes, file);
                    entries.Add(new Entry(file, bytes.Length, Hex(SHA256.HashData(bytes))));
                    if (delay > 0 && i == files.Count / 2) Thread.Sleep(delay);
                }
                // fsync after writing them all: the first fsync commits the journal for every file, the others are cheap.
                foreach (var stream in open) Sync(stream);
            }
            finally
            {
                foreach (var stream in open) stream.Dispose();
            }
            using (var manifest = CreateFile(Path.Combine(temp, ManifestName)))
            {
                WriteAll(manifest, ManifestBytes(entries), ManifestName);
                Sync(manifest);
            }
            SyncDirectory(temp);
            if (Directory.Exists(final))
            {
                // Two renames: a crash in between leaves the old one under .tmp-old-* and the new one complete in place
                // once the second rename is done; readers never see a half-written directory under the real name.
                string old = Path.Combine(directory, $"{TempPrefix}old-{name}-{Guid.NewGuid():N}");
                Directory.Move(final, old);
                Directory.Move(temp, final);
                SyncDirectory(directory);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(temp, final);
                SyncDirectory(directory);
            }
            return final;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true); }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
            throw new CheckpointWriteException($"cannot write checkpoint {final}: {e.Message} (earlier checkpoints are intact)", e);
        }
    }

    /// <summary>
    /// Reads every file of the checkpoint at <paramref name="path"/> after checking it against the manifest: names,
    /// sizes, SHA-256 and the manifest's own checksum.
    /// </summary>
    /// <returns>The contents of every listed file, by name (what was verified is what is returned).</returns>
    /// <exception cref="CheckpointException">Missing, partial or corrupt; the message names the bad file.</exception>
    public static IReadOnlyDictionary<string, byte[]> ReadVerified(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path)) throw new CheckpointException(path, "no such checkpoint directory");
        string manifestPath = Path.Combine(path, ManifestName);
        if (!File.Exists(manifestPath)) throw new CheckpointException(manifestPath, "missing: not a complete checkpoint");
        var entries = ReadManifest(manifestPath);
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            string file = Path.Combine(path, e.Name);
            if (!File.Exists(file)) throw new CheckpointException(file, "missing (listed in the manifest)");
            byte[] bytes = File.ReadAllBytes(file);
            if (bytes.LongLength != e.Bytes)
                throw new CheckpointException(file, string.Create(CultureInfo.InvariantCulture,
                    $"{(bytes.LongLength < e.Bytes ? "truncated" : "too long")}: {bytes.LongLength} bytes, the manifest says {e.Bytes}"));
            if (!string.Equals(Hex(SHA256.HashData(bytes)), e.Sha256, StringComparison.Ordinal))
                throw new CheckpointException(file, "corrupt: its SHA-256 does not match the manifest");
            result[e.Name] = bytes;
        }
        return result;
    }

    /// <summary>Checks a checkpoint without keeping its contents (see <see cref="ReadVerified"/>).</summary>
    public static void Verify(string path) => _ = ReadVerified(path);

    /// <summary>
    /// Removes <c>.tmp-*</c> directories left in <paramref name="directory"/> by interrupted writes or deletions. One
    /// case is put back instead: a checkpoint that was being replaced by a newer one of the same name (a best or cycle
    /// snapshot) when the process died between the two renames is renamed back from its <c>.tmp-old-*</c> name.
    /// Call it only while holding the run's lock: another writer's temporaries would go too.
    /// </summary>
    public static void RemoveTemporaries(string directory)
    {
        if (!Directory.Exists(directory)) return;
        foreach (var d in Directory.EnumerateDirectories(directory, TempPrefix + "*"))
        {
            try
            {
                if (ReplacedName(Path.GetFileName(d)) is { } name && !Directory.Exists(Path.Combine(directory, name)))
                {
                    Directory.Move(d, Path.Combine(directory, name));
                    continue;
                }
                Directory.Delete(d, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>The checkpoint name in <c>.tmp-old-{name}-{32 hex digits}</c>, or null.</summary>
    private static string? ReplacedName(string temp)
    {
        string prefix = TempPrefix + "old-";
        if (!temp.StartsWith(prefix, StringComparison.Ordinal) || temp.Length < prefix.Length + 34 || temp[^33] != '-') return null;
        return temp.AsSpan(temp.Length - 32).ContainsAnyExcept("0123456789abcdef") ? null : temp[prefix.Length..^33];
    }

    /// <summary>
    /// Test hook: when the environment variable <c>CADENCE_TEST_PRUNE_DELAY_MS</c> is set, <see cref="Delete"/> sleeps
    /// that long between renaming a checkpoint away and deleting it, so a test can kill the process while it prunes.
    /// </summary>
    public const string PruneDelayVariable = "CADENCE_TEST_PRUNE_DELAY_MS";

    /// <summary>Deletes a checkpoint: renamed to a temporary name first, so a crash never leaves a partial one under its name.</summary>
    public static void Delete(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string doomed = Path.Combine(parent, $"{TempPrefix}del-{Path.GetFileName(path)}-{Guid.NewGuid():N}");
        Directory.Move(path, doomed);
        if (DelayMs(PruneDelayVariable) is > 0 and var ms) Thread.Sleep(ms);
        Directory.Delete(doomed, recursive: true);
    }

    private static int DelayMs(string variable) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) ? ms : 0;

    /// <summary>
    /// Writes a single file durably: into a temporary file next to it, fsynced, renamed over <paramref name="path"/>,
    /// and the directory fsynced, so after a crash the file is either the old one or the complete new one.
    /// </summary>
    /// <exception cref="IOException">It could not be written; the temporary file is removed and the old file is untouched.</exception>
    public static void WriteFileDurably(string path, ReadOnlySpan<byte> bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        string temp = Path.Combine(directory, $"{TempPrefix}{Path.GetFileName(full)}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var stream = CreateFile(temp))
            {
                WriteAll(stream, bytes, Path.GetFileName(full));
                Sync(stream);
            }
            File.Move(temp, full, overwrite: true);
            SyncDirectory(directory);
        }
        finally
        {
            try { if (File.Exists(temp)) File.Delete(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private readonly record struct Entry(string Name, long Bytes, string Sha256);

    /// <summary>
    /// Writes <paramref name="bytes"/>; a file-size limit (EFBIG: <c>ulimit -f</c>, a file system's largest file),
    /// which .NET reports as an <see cref="ArgumentOutOfRangeException"/>, becomes the <see cref="IOException"/> it is.
    /// </summary>
    private static void WriteAll(Stream stream, ReadOnlySpan<byte> bytes, string file)
    {
        try
        {
            stream.Write(bytes);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new IOException($"{file}: file too large for the file system or the process's file-size limit", e);
        }
    }

    private static void Sync(Stream stream)
    {
        if (stream is FileStream file) file.Flush(flushToDisk: true); else stream.Flush();
    }

    private static string Checksum(IEnumerable<Entry> entries)
    {
        var text = new StringBuilder();
        foreach (var e in entries) text.Append(CultureInfo.InvariantCulture, $"{e.Name}\t{e.Bytes}\t{e.Sha256}\n");
        return Hex(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static byte[] ManifestBytes(List<Entry> entries)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format", Format);
            w.WriteStartArray("files");
            foreach (var e in entries)
            {
                w.WriteStartObject();
                w.WriteString("name", e.Name);
                w.WriteNumber("bytes", e.Bytes);
                w.WriteString("sha256", e.Sha256);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("checksum", Checksum(entries));
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static List<Entry> ReadManifest(string path)
    {
        var entries = new List<Entry>();
        string checksum;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || !format.TryGetInt32(out int f))
                throw new CheckpointException(path, "corrupt: no format number");
            if (f != Format) throw new CheckpointException(path, $"format {f} is not supported (this version reads format {Format})");
            if (!root.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Array)
                throw new CheckpointException(path, "corrupt: no list of files");
            foreach (var e in files.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object
                    || !e.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String
                    || !e.TryGetProperty("bytes", out var b) || !b.TryGetInt64(out long bytes)
                    || !e.TryGetProperty("sha256", out var h) || h.ValueKind != JsonValueKind.String)
                    throw new CheckpointException(path, "corrupt: a file entry lacks its name, size or hash");
                entries.Add(new Entry(n.GetString()!, bytes, h.GetString()!));
            }
            if (!root.TryGetProperty("checksum", out var c) || c.ValueKind != JsonValueKind.String)
                throw new CheckpointException(path, "corrupt: no checksum");
            checksum = c.GetString()!;
        }
        catch (JsonException)
        {
            throw new CheckpointException(path, "corrupt: not valid JSON");
        }
        if (!string.Equals(Checksum(entries), checksum, StringComparison.Ordinal))
            throw new CheckpointException(path, "corrupt: its checksum does not match its list of files");
        foreach (var e in entries)
            if (!IsPlainName(e.Name) || e.Name == ManifestName) throw new CheckpointException(path, $"corrupt: bad file name '{e.Name}'");
        return entries;
    }

    private static bool IsPlainName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.IndexOfAny(['/', '\\', '\0']) < 0;

    private static void CheckName(string name, string parameter)
    {
        if (name is null || !IsPlainName(name) || name.StartsWith(TempPrefix, StringComparison.Ordinal))
            throw new ArgumentException($"'{name}' is not a plain file name (no separators, not starting with {TempPrefix})", parameter);
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>fsync a directory so a rename or a new entry in it survives a power loss (POSIX only; NTFS journals its metadata).</summary>
    internal static void SyncDirectory(string path)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        int fd = open(path, 0);
        if (fd < 0) throw new IOException($"cannot open directory {path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"cannot sync directory {path} (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}
