using System.Globalization;

namespace Cadence.Checkpoints;

/// <summary>How <see cref="RunDirectory.Open"/> treats what is already in the directory.</summary>
public enum RunMode
{
    /// <summary>Start a run; refused (<see cref="RunExistsException"/>) when the directory already holds one.</summary>
    New,

    /// <summary>Start a run in place of the one the directory holds: the old run is moved aside, and deleted once the new run has a durable checkpoint.</summary>
    Overwrite,

    /// <summary>Continue the run the directory holds, from its newest checkpoint that verifies (or report that it is complete).</summary>
    Resume,
}

/// <summary>The directory already holds a run and it was opened as <see cref="RunMode.New"/> (a usage error: <c>cadence</c> exits 2).</summary>
public sealed class RunExistsException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="directory">The run directory, as the user gave it.</param>
    /// <param name="option">The option that named it (<c>--out</c>).</param>
    /// <param name="description">What the run is (e.g. "complete, 3 epochs").</param>
    public RunExistsException(string directory, string option, string description)
        : base($"{option} {directory} already holds a run ({description}): continue it with --resume {directory}, or replace it with --overwrite")
        => (Directory, Option) = (directory, option);

    /// <summary>The run directory.</summary>
    public string Directory { get; }

    /// <summary>The option that named it.</summary>
    public string Option { get; }
}

/// <summary>A run directory cannot be used: it is a file, cannot be created, or cannot be written. The message names the option.</summary>
public sealed class RunDirectoryException : IOException
{
    /// <summary>Creates the exception.</summary>
    public RunDirectoryException(string option, string directory, string problem, Exception? inner = null)
        : base($"{option} {directory}: {problem}", inner) => (Option, Directory) = (option, directory);

    /// <summary>The option that named the directory.</summary>
    public string Option { get; }

    /// <summary>The directory.</summary>
    public string Directory { get; }
}

/// <summary>A newer checkpoint that failed verification and was passed over by a resume.</summary>
/// <param name="Path">The checkpoint as it was named.</param>
/// <param name="BadFile">The file at fault.</param>
/// <param name="Problem">What is wrong with it.</param>
/// <param name="KeptAs">Where it now is (renamed with <see cref="RunDirectory.CorruptSuffix"/> so that no later checkpoint replaces it and pruning never deletes it); equal to <paramref name="Path"/> when it was left under its name.</param>
public sealed record SkippedCheckpoint(string Path, string BadFile, string Problem, string KeptAs)
{
    /// <summary>One line for the user: which checkpoint, which file, why, and where it is kept.</summary>
    public string Message => KeptAs == Path
        ? $"{Path}: skipped: {BadFile}: {Problem}"
        : $"{Path}: skipped: {BadFile}: {Problem}; kept for inspection as {KeptAs}";
}

/// <summary>Where a resume starts: the newest checkpoint that verifies, and the newer ones that did not.</summary>
/// <param name="Checkpoint">The checkpoint to resume (verified; its <c>state.json</c>).</param>
/// <param name="Skipped">Newer checkpoints that failed verification, newest first.</param>
public sealed record ResumePoint(CheckpointInfo Checkpoint, IReadOnlyList<SkippedCheckpoint> Skipped);

/// <summary>
/// A run's output directory, opened for writing: the promises of docs/checkpoints.md in one place.
/// <list type="bullet">
/// <item>One writer at a time: <see cref="Open"/> takes the directory's <see cref="RunLock"/> first and holds it until
/// disposed (a second writer gets <see cref="RunInUseException"/>).</item>
/// <item>A run is never overwritten by accident: <see cref="RunMode.New"/> refuses a directory that
/// <see cref="HoldsRun">holds a run</see>; <see cref="RunMode.Overwrite"/> moves the old run's entries aside into
/// <c>.cadence-replaced-*</c> (each a rename) before anything new is written, and deletes them only once the new run
/// has written a durable checkpoint or its completion record. Files that are not the run's are never moved or deleted.</item>
/// <item><see cref="RunMode.Resume"/> picks the newest checkpoint that verifies; newer corrupt ones are reported and
/// kept (renamed <c>*.corrupt</c>), never deleted. A finished run (its completion record) is reported as
/// <see cref="Completed"/> and nothing is written.</item>
/// </list>
/// </summary>
public sealed class RunDirectory : IDisposable
{
    /// <summary>The completion record written by <see cref="Complete"/> (its presence means the run finished).</summary>
    public const string CompletionName = "cadence-complete.json";

    /// <summary>Prefix of the folders an overwrite moves the old run into.</summary>
    public const string ReplacedPrefix = ".cadence-replaced-";

    /// <summary>Suffix given to a checkpoint that failed verification when a resume passed over it.</summary>
    public const string CorruptSuffix = ".corrupt";

    /// <summary>What <c>cadence fit --out</c> writes: the entries that make a directory hold a run (with <see cref="CompletionName"/>).</summary>
    public static IReadOnlyList<string> FitOutputs { get; } = [Checkpoint.DirectoryName, "history.json", "metrics.csv", "model.dat"];

    private readonly IReadOnlyList<string> _outputs;
    private readonly List<string> _toDelete = [];
    private RunLock? _lock;

    private RunDirectory(string path, string fullPath, RunMode mode, RunLock? runLock, IReadOnlyList<string> outputs)
    {
        (Path, FullPath, Mode, _lock, _outputs) = (path, fullPath, mode, runLock, outputs);
        CheckpointsPath = System.IO.Path.Combine(fullPath, Checkpoint.DirectoryName);
    }

    /// <summary>The directory as the caller named it (used in messages).</summary>
    public string Path { get; }

    /// <summary>The directory's full path.</summary>
    public string FullPath { get; }

    /// <summary>How it was opened.</summary>
    public RunMode Mode { get; }

    /// <summary>Where the checkpoints go (<c>DIR/checkpoints</c>).</summary>
    public string CheckpointsPath { get; }

    /// <summary>Resume: the run had finished; its results. Nothing is to be trained or written.</summary>
    public RunCompletion? Completed { get; private set; }

    /// <summary>Resume of an unfinished run: the checkpoint to continue from, and the newer ones that failed verification.</summary>
    public ResumePoint? ResumeFrom { get; private set; }

    /// <summary>
    /// Folders holding runs replaced by <see cref="RunMode.Overwrite"/> that are not deleted yet (this overwrite's, and
    /// those of an earlier overwrite interrupted before its new run's first checkpoint).
    /// </summary>
    public IReadOnlyList<string> Replaced => ReplacedFolders(FullPath);

    /// <summary>"DIR is complete (N epochs)", for a <see cref="Completed"/> run.</summary>
    public string CompletedMessage => Completed is { } c
        ? string.Create(CultureInfo.InvariantCulture, $"{Path} is complete ({c.Result.Epochs} epochs)")
        : throw new InvalidOperationException($"{Path} is not complete");

    /// <summary>
    /// Checkpoint options for this run: its <see cref="CheckpointsPath"/>, and a hook that finishes an overwrite once
    /// the new run's first checkpoint is durable. Set the rest with <c>with { … }</c>.
    /// </summary>
    public CheckpointOptions CheckpointOptions => new() { Directory = CheckpointsPath, Saved = CheckpointSaved };

    /// <summary>
    /// Opens <paramref name="path"/> for a run in <paramref name="mode"/>. Takes the directory's lock before it
    /// reads anything, and holds it until <see cref="Dispose"/>.
    /// </summary>
    /// <param name="path">The run directory; for <see cref="RunMode.Resume"/> also one of its checkpoints (that one is resumed, no other).</param>
    /// <param name="mode">New, overwrite or resume.</param>
    /// <param name="option">The option that named the directory, for messages (<c>--out</c>, <c>--resume</c>).</param>
    /// <param name="outputs">The entries a run writes into the directory (default <see cref="FitOutputs"/>).</param>
    /// <exception cref="RunExistsException">New: the directory holds a run.</exception>
    /// <exception cref="RunInUseException">Another process is writing this run.</exception>
    /// <exception cref="RunDirectoryException">The directory is a file, or cannot be created or written.</exception>
    /// <exception cref="CheckpointException">Resume: no such directory, no checkpoint, or none that verifies (the message names each bad file).</exception>
    public static RunDirectory Open(string path, RunMode mode, string option = "--out", IReadOnlyList<string>? outputs = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentException.ThrowIfNullOrEmpty(option);
        outputs ??= FitOutputs;
        string full = System.IO.Path.GetFullPath(path);
        string? explicitCheckpoint = null;
        if (mode == RunMode.Resume)
        {
            if (File.Exists(System.IO.Path.Combine(full, CheckpointStore.ManifestName)))
            {
                explicitCheckpoint = full;
                string parent = System.IO.Path.GetDirectoryName(full.TrimEnd(System.IO.Path.DirectorySeparatorChar))!;
                full = System.IO.Path.GetFileName(parent) == Checkpoint.DirectoryName ? System.IO.Path.GetDirectoryName(parent)! : parent;
                path = full;
            }
            else if (!Directory.Exists(full)) throw new CheckpointException(path, "no such directory");
            else if (System.IO.Path.GetFileName(full.TrimEnd(System.IO.Path.DirectorySeparatorChar)) == Checkpoint.DirectoryName && Checkpoint.Rolling(full).Count > 0)
            {
                full = System.IO.Path.GetDirectoryName(full.TrimEnd(System.IO.Path.DirectorySeparatorChar))!;   // RUN/checkpoints means RUN
                path = full;
            }
        }
        else
        {
            if (File.Exists(full)) throw new RunDirectoryException(option, path, "is a file, not a directory");
            try { Directory.CreateDirectory(full); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new RunDirectoryException(option, path, $"cannot create it: {e.Message}", e);
            }
        }

        RunLock? runLock;
        try
        {
            runLock = RunLock.Acquire(full);
        }
        catch (RunInUseException e)
        {
            throw new RunInUseException(path, e.ProcessId, e.Since);   // named as the user named it
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // A finished run can be shown from a read-only directory: nothing will be written.
            if (mode == RunMode.Resume && File.Exists(System.IO.Path.Combine(full, CompletionName)))
                return new RunDirectory(path, full, mode, null, outputs) { Completed = RunCompletion.Read(System.IO.Path.Combine(full, CompletionName)) };
            throw new RunDirectoryException(option, path, mode == RunMode.Resume
                ? $"cannot write there ({e.Message}); a resumed run writes its checkpoints and results into it"
                : $"cannot write there ({e.Message})", e);
        }

        var run = new RunDirectory(path, full, mode, runLock, outputs);
        try
        {
            run.Start(option, explicitCheckpoint);
            return run;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    private void Start(string option, string? explicitCheckpoint)
    {
        // A completion record whose write was interrupted left only its temporary file.
        foreach (var temp in Directory.EnumerateFiles(FullPath, $"{CheckpointStore.TempPrefix}{CompletionName}-*"))
            File.Delete(temp);
        switch (Mode)
        {
            case RunMode.New:
                if (Describe(FullPath, _outputs) is { } what) throw new RunExistsException(Path, option, what);
                break;
            case RunMode.Overwrite:
                MoveAside();
                break;
            case RunMode.Resume:
                string completion = System.IO.Path.Combine(FullPath, CompletionName);
                if (File.Exists(completion))
                {
                    Completed = RunCompletion.Read(completion);
                    return;
                }
                CheckpointStore.RemoveTemporaries(CheckpointsPath);   // also puts back a snapshot whose replacement was interrupted
                var found = explicitCheckpoint is null ? FindNewestGood(Path) : new ResumePoint(Checkpoint.ReadInfo(explicitCheckpoint), []);
                ResumeFrom = found with { Skipped = found.Skipped.Select(Quarantine).ToArray() };
                break;
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> holds a run: its completion record, a non-empty <c>checkpoints</c> folder, or any
    /// of the run's other <paramref name="outputs"/> (default <see cref="FitOutputs"/>; these also cover runs written
    /// before completion records existed). An empty folder, or one of unrelated files, does not.
    /// </summary>
    public static bool HoldsRun(string path, IReadOnlyList<string>? outputs = null) => Describe(System.IO.Path.GetFullPath(path), outputs ?? FitOutputs) is not null;

    /// <summary>What run <paramref name="full"/> holds, in a few words, or null when none.</summary>
    private static string? Describe(string full, IReadOnlyList<string> outputs)
    {
        string completion = System.IO.Path.Combine(full, CompletionName);
        if (File.Exists(completion))
        {
            try { return string.Create(CultureInfo.InvariantCulture, $"complete, {RunCompletion.Read(completion).Result.Epochs} epochs"); }
            catch (CheckpointException) { return "complete"; }
        }
        var present = RunEntries(full, outputs);
        if (present.Count == 0) return null;
        var rolling = Checkpoint.Rolling(System.IO.Path.Combine(full, Checkpoint.DirectoryName));
        if (rolling.Count > 0 && ParseRollingName(System.IO.Path.GetFileName(rolling[^1])) is var (iteration, epoch))
            return string.Create(CultureInfo.InvariantCulture, $"unfinished, its newest checkpoint at iteration {iteration}, epoch {epoch + 1}");
        return "its " + string.Join(", ", present.Select(System.IO.Path.GetFileName));
    }

    /// <summary>The run's entries present in <paramref name="full"/>: the completion record and the outputs (a <c>checkpoints</c> folder only when it holds something).</summary>
    private static List<string> RunEntries(string full, IReadOnlyList<string> outputs)
    {
        var present = new List<string>();
        foreach (var name in outputs.Prepend(CompletionName))
        {
            string p = System.IO.Path.Combine(full, name);
            if (File.Exists(p)) present.Add(p);
            else if (Directory.Exists(p) && (name != Checkpoint.DirectoryName || HoldsCheckpoints(p))) present.Add(p);
        }
        return present;
    }

    /// <summary>Whether a checkpoints folder holds anything but the temporaries of an interrupted first write.</summary>
    private static bool HoldsCheckpoints(string folder) =>
        Directory.EnumerateFileSystemEntries(folder).Any(e => !System.IO.Path.GetFileName(e).StartsWith(CheckpointStore.TempPrefix, StringComparison.Ordinal));

    private static (long Iteration, int Epoch)? ParseRollingName(string name) =>
        name.Length >= 24 && long.TryParse(name.AsSpan(6, 10), NumberStyles.None, CultureInfo.InvariantCulture, out long it)
            && int.TryParse(name.AsSpan(18, 6), NumberStyles.None, CultureInfo.InvariantCulture, out int ep) ? (it, ep) : null;

    /// <summary>
    /// Overwrite: every entry of the old run is renamed into a new <c>.cadence-replaced-*</c> folder, completion
    /// record first (a half-moved run never looks finished), then checkpoints, then the other outputs. Each rename is
    /// atomic; if the process dies part-way, the directory still holds (part of) a run, so a plain new run is still
    /// refused and the next overwrite moves the rest. Nothing new is written before the move is complete.
    /// </summary>
    private void MoveAside()
    {
        var entries = RunEntries(FullPath, _outputs);
        // An empty checkpoints folder is not a run, but the new run must not inherit it either (it may hold temporaries).
        string checkpoints = CheckpointsPath;
        if (Directory.Exists(checkpoints) && !entries.Contains(checkpoints)) entries.Add(checkpoints);
        if (entries.Count > 0)
        {
            string aside = System.IO.Path.Combine(FullPath, string.Create(CultureInfo.InvariantCulture,
                $"{ReplacedPrefix}{DateTime.UtcNow:yyyyMMddTHHmmssZ}-{Guid.NewGuid().ToString("N")[..8]}"));
            Directory.CreateDirectory(aside);
            foreach (var entry in entries)
            {
                string target = System.IO.Path.Combine(aside, System.IO.Path.GetFileName(entry));
                if (Directory.Exists(entry)) Directory.Move(entry, target); else File.Move(entry, target);
            }
            CheckpointStore.SyncDirectory(aside);
            CheckpointStore.SyncDirectory(FullPath);
        }
        _toDelete.AddRange(ReplacedFolders(FullPath));
    }

    private static IReadOnlyList<string> ReplacedFolders(string full) =>
        Directory.Exists(full) ? Directory.EnumerateDirectories(full, ReplacedPrefix + "*").Order(StringComparer.Ordinal).ToArray() : [];

    /// <summary>Called after every durable checkpoint (through <see cref="CheckpointOptions"/>): the first one ends an overwrite.</summary>
    public void CheckpointSaved(string checkpoint) => DeleteReplaced();

    private void DeleteReplaced()
    {
        foreach (var folder in _toDelete)
        {
            try { Directory.Delete(folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // left for the next overwrite; Replaced lists it
        }
        _toDelete.Clear();
    }

    /// <summary>
    /// Records that the run finished: writes <see cref="CompletionName"/> durably (temporary file, fsync, rename,
    /// fsync of the directory). Call it last, after the run's other outputs are durable; a later
    /// <see cref="RunMode.Resume"/> then reports <see cref="Completed"/> and trains nothing.
    /// </summary>
    /// <exception cref="IOException">It could not be written (the run's checkpoints are intact; resume reports it unfinished).</exception>
    public void Complete(RunCompletion completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        if (_lock is null) throw new InvalidOperationException($"{Path} was opened without its lock; it cannot be written");
        CheckpointStore.WriteFileDurably(System.IO.Path.Combine(FullPath, CompletionName), completion.ToJson());
        Completed = completion;
        DeleteReplaced();
    }

    /// <summary>
    /// The checkpoint a resume of <paramref name="path"/> (a run directory, or its <c>checkpoints</c> folder)
    /// continues from: the newest rolling checkpoint that verifies. Reads only; renames nothing.
    /// </summary>
    /// <exception cref="CheckpointException">No checkpoint, or none verifies (the message names every bad file).</exception>
    public static ResumePoint FindNewestGood(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path)) throw new CheckpointException(path, "no such directory");
        string inner = System.IO.Path.Combine(path, Checkpoint.DirectoryName);
        var rolling = Checkpoint.Rolling(inner) is { Count: > 0 } r ? r : Checkpoint.Rolling(path);
        if (rolling.Count == 0) throw new CheckpointException(path, $"no checkpoint here (nor in {inner})");
        var skipped = new List<SkippedCheckpoint>();
        for (int i = rolling.Count - 1; i >= 0; i--)
        {
            try
            {
                return new ResumePoint(Checkpoint.ReadInfo(rolling[i]), skipped);
            }
            catch (CheckpointException e)
            {
                skipped.Add(new SkippedCheckpoint(rolling[i], e.BadPath, e.Problem, rolling[i]));
            }
        }
        if (skipped.Count == 1) throw new CheckpointException(skipped[0].BadFile, skipped[0].Problem);
        throw new CheckpointException(path, "no checkpoint verifies: " + string.Join("; ", skipped.Select(s => $"{s.BadFile}: {s.Problem}")));
    }

    /// <summary>Renames a corrupt checkpoint to NAME.corrupt (NAME.corrupt-2 …): kept as it is, out of reach of pruning and of a new checkpoint of the same name.</summary>
    private static SkippedCheckpoint Quarantine(SkippedCheckpoint s)
    {
        string target = s.Path + CorruptSuffix;
        for (int n = 2; Directory.Exists(target) || File.Exists(target); n++) target = string.Create(CultureInfo.InvariantCulture, $"{s.Path}{CorruptSuffix}-{n}");
        try
        {
            Directory.Move(s.Path, target);
            return s with { KeptAs = target };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return s;
        }
    }

    /// <summary>Releases the lock. Folders of a replaced run stay when the new run wrote no checkpoint (see <see cref="Replaced"/>).</summary>
    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }

    /// <summary>Test hook: forget the run without cleaning up, as a killed process would (the lock is released, like the kernel does).</summary>
    internal void SimulateCrash()
    {
        _toDelete.Clear();
        Dispose();
    }
}
