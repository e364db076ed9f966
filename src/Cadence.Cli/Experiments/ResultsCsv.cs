using System.Text;

namespace Cadence.Cli.Experiments;

/// <summary>
/// The results CSV of an experiment: one <see cref="RunRecord"/> per line, appended as each run finishes (line, flush,
/// fsync), so an interrupted experiment keeps every run it finished and a crash loses at most the line being written.
/// </summary>
internal sealed class ResultsCsv
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private ResultsCsv(string path) => Path = path;

    /// <summary>Where the file is.</summary>
    public string Path { get; }

    /// <summary>Starts a new file with the header; refuses to overwrite one unless it is empty.</summary>
    /// <exception cref="UsageException">The file exists and has rows (the message points to --resume).</exception>
    public static ResultsCsv Create(string path)
    {
        if (File.Exists(path) && new FileInfo(path).Length > 0)
            throw new UsageException("--out", $"{path} exists; pass --resume DIR to continue that sweep, or choose another --out");
        var csv = new ResultsCsv(path);
        csv.AppendLine(RunRecord.Header, create: true);
        return csv;
    }

    /// <summary>
    /// Opens an existing file to continue it and returns the runs it holds. A last line cut short by a crash is dropped
    /// (and truncated away, reported through <paramref name="warn"/>). Every row must carry <paramref name="setup"/>.
    /// </summary>
    /// <exception cref="UsageException">The file is missing, has another header, a malformed row, or another setup.</exception>
    public static (ResultsCsv Csv, List<RunRecord> Rows) Resume(string path, string setup, Action<string> warn)
    {
        if (!File.Exists(path) || new FileInfo(path).Length == 0) return (Create(path), []);
        var text = File.ReadAllText(path, Utf8);
        if (!text.EndsWith('\n'))
        {
            int keep = text.LastIndexOf('\n') + 1;
            if (keep == 0) throw new UsageException("--resume", $"{path} has no complete header line; delete it or choose another --out");
            warn($"{path}: dropping an incomplete last line (the run was interrupted while writing it): '{text[keep..]}'");
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write)) fs.SetLength(Utf8.GetByteCount(text.AsSpan(0, keep)));
            text = text[..keep];
        }
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        if (lines[0] != RunRecord.Header)
            throw new UsageException("--resume", $"{path} has the columns '{lines[0]}', not those this version writes ('{RunRecord.Header}'); choose another --out");
        var rows = new List<RunRecord>();
        for (int i = 1; i < lines.Count; i++)
        {
            RunRecord row;
            try { row = RunRecord.FromCsv(RunRecord.SplitCsv(lines[i])); }
            catch (FormatException e) { throw new UsageException("--resume", $"{path} line {i + 1}: {e.Message}; fix or delete that line"); }
            if (row.Setup != setup)
                throw new UsageException("--resume", $"{path} line {i + 1} was run with a different setup ('{row.Setup}'; this sweep: '{setup}'); choose another --out");
            rows.Add(row);
        }
        return (new ResultsCsv(path), rows);
    }

    /// <summary>Appends one run and makes it durable before returning.</summary>
    public void Append(RunRecord run) => AppendLine(run.ToCsv(), create: false);

    private void AppendLine(string line, bool create)
    {
        // One write of the whole line, then fsync: a reader (or --resume) never sees half a row unless the machine dies mid-write.
        var bytes = Utf8.GetBytes(line + "\n");
        using var fs = new FileStream(Path, create ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.Read);
        fs.Write(bytes);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>Writes a whole results file atomically (temporary file, then rename).</summary>
    public static void WriteAll(string path, IEnumerable<RunRecord> runs)
    {
        var sb = new StringBuilder().Append(RunRecord.Header).Append('\n');
        foreach (var r in runs) sb.Append(r.ToCsv()).Append('\n');
        AtomicFile.Write(path, Utf8.GetBytes(sb.ToString()));
    }
}
