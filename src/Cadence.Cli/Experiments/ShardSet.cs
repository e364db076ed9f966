using System.Text;
using System.Text.Json;
using Cadence.Training;

namespace Cadence.Cli.Experiments;

/// <summary>One run of an experiment: the configuration (a sweep cell or a compare schedule) by label and spec, and the seed.</summary>
internal sealed record ShardRun(string Label, string Spec, long Seed)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"'{Label}' seed {Seed}");
}

/// <summary>A configuration of an experiment (a sweep cell, a compare schedule): how tables call it and what it trains.</summary>
internal sealed record ShardConfiguration(string Label, string Spec);

/// <summary>
/// <c>shard.json</c>, written into a shard's folder before its first run: which experiment it belongs to (command,
/// setup, data fingerprint, configurations, seeds, what the table shows, shard count) and which runs are its own. A
/// resumed shard must match it; a merge checks that every shard's identity is the same and reruns
/// <see cref="Args"/> (the experiment's own options) to write the results.
/// </summary>
internal sealed record ShardManifest(
    int Format, string Command, int Shard, int Shards, string Setup, string Data, IReadOnlyList<ShardConfiguration> Configurations,
    IReadOnlyList<long> Seeds, string Table, IReadOnlyList<string> Args, int Threads, long BatchesPerEpoch, IReadOnlyList<ShardRun> Runs)
{
    public const string FileName = "shard.json";

    public const int CurrentFormat = 1;

    /// <summary>The first property in which <paramref name="other"/> belongs to another experiment, in words, or null.</summary>
    public string? Differs(ShardManifest other)
    {
        static string List<T>(IEnumerable<T> v) => string.Join(", ", v);
        if (other.Command != Command) return $"it is a {other.Command} shard, not a {Command} one";
        if (other.Shards != Shards) return $"it is one of {other.Shards} shards, not of {Shards}";
        if (other.Setup != Setup) return $"its setup is '{other.Setup}', not '{Setup}'";
        if (other.Data != Data) return $"its data fingerprint is {other.Data}, not {Data} (the data changed between the shards)";
        if (!other.Configurations.SequenceEqual(Configurations))
        {
            var extra = other.Configurations.Except(Configurations).FirstOrDefault();
            var lacks = Configurations.Except(other.Configurations).FirstOrDefault();
            return extra is not null ? $"its grid has '{extra.Label}', which this one has not"
                : lacks is not null ? $"its grid lacks '{lacks.Label}'" : "its grid lists the same configurations in another order";
        }
        if (!other.Seeds.SequenceEqual(Seeds)) return $"its seeds are {List(other.Seeds)}, not {List(Seeds)}";
        if (other.Table != Table) return $"it reports {other.Table}, not {Table}";
        return null;
    }

    public void Write(string dir) => AtomicFile.Write(Path.Combine(dir, FileName), Json.Bytes(this, indented: true));

    /// <summary>The manifest in <paramref name="dir"/>, or null when there is none.</summary>
    /// <exception cref="OptionIOException">It exists but cannot be read as a manifest (blamed on <paramref name="option"/>).</exception>
    public static ShardManifest? Read(string dir, string option)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            var m = Json.Deserialize<ShardManifest>(File.ReadAllText(path));
            if (m is null || m.Format != CurrentFormat || m.Runs is null || m.Args is null || m.Configurations is null || m.Seeds is null)
                throw new JsonException($"not a shard manifest of format {CurrentFormat}");
            return m;
        }
        catch (JsonException e)
        {
            throw new OptionIOException(option, $"{path} is not readable: {ErrorHandler.OneLine(e.Message)}", e);
        }
    }
}

/// <summary>
/// A finished run's epochs, kept by a compare shard beside its results.csv (<c>histories.jsonl</c>, one line per run,
/// written and fsynced before the run's row): results.json and the per-epoch charts of a merged compare need them.
/// </summary>
internal sealed record RunHistoryLine(string Label, long Seed, IReadOnlyList<string> MetricNames, IReadOnlyList<EpochLine> Epochs)
{
    public const string FileName = "histories.jsonl";

    public static RunHistoryLine Of(RunRecord r) =>
        new(r.Label, r.Seed, r.MetricNames, [.. (r.History ?? []).Select(e => new EpochLine(e.Epoch, e.TrainLoss, e.ValidLoss, e.Metrics, e.Seconds))]);

    public IReadOnlyList<EpochRecord> Records => [.. Epochs.Select(e => new EpochRecord(e.Epoch, e.TrainLoss, e.ValidLoss, e.Metrics, e.Seconds))];

    /// <summary>Appends <paramref name="run"/>'s line to <paramref name="path"/> and makes it durable before returning.</summary>
    public static void Append(string path, RunRecord run)
    {
        var bytes = Encoding.UTF8.GetBytes(Json.Serialize(Of(run)) + "\n");
        using var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        fs.Write(bytes);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>Truncates a last line cut short by a crash (what follows the last line end), so that appending goes on cleanly.</summary>
    public static void Repair(string path)
    {
        if (!File.Exists(path)) return;
        var bytes = File.ReadAllBytes(path);
        int keep = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (keep == bytes.Length) return;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Write);
        fs.SetLength(keep);
    }

    /// <summary>The histories in <paramref name="path"/> by (label, seed), the last line of a run winning; a line cut short by a crash is ignored.</summary>
    /// <exception cref="JsonException">A complete line is not a history.</exception>
    public static Dictionary<(string, long), RunHistoryLine> ReadAll(string path)
    {
        var found = new Dictionary<(string, long), RunHistoryLine>();
        if (!File.Exists(path)) return found;
        var text = File.ReadAllText(path);
        foreach (var line in text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (Json.Deserialize<RunHistoryLine>(line) is { } h) found[(h.Label, h.Seed)] = h;
        return found;
    }
}

/// <summary>
/// A compare shard's record of its finished runs: each run's epochs appended to <c>histories.jsonl</c>, then its row to
/// <c>results.csv</c> (each fsynced), so the row is what commits a run and a resumed shard skips exactly those.
/// </summary>
internal sealed class ShardLog
{
    private readonly ResultsCsv _csv;
    private readonly string _histories;

    private ShardLog(ResultsCsv csv, string histories) => (_csv, _histories) = (csv, histories);

    /// <summary>Starts or (with <paramref name="resume"/>) continues the log in <paramref name="dir"/>; returns the runs it holds, with their epochs.</summary>
    /// <exception cref="UsageException">A fresh start where runs are recorded, or a log of another setup.</exception>
    public static (ShardLog Log, List<RunRecord> Runs) Open(string dir, string setup, bool resume, Action<string> warn)
    {
        string csv = Path.Combine(dir, "results.csv"), histories = Path.Combine(dir, RunHistoryLine.FileName);
        if (!resume) return (new ShardLog(ResultsCsv.Create(csv), histories), []);
        var (log, rows) = ResultsCsv.Resume(csv, setup, warn);
        RunHistoryLine.Repair(histories);
        var epochs = RunHistoryLine.ReadAll(histories);
        return (new ShardLog(log, histories), [.. rows.Select(r => epochs.TryGetValue((r.Label, r.Seed), out var h) ? r with { History = h.Records, MetricNames = h.MetricNames } : r)]);
    }

    /// <summary>Records <paramref name="run"/> durably: its epochs, then its row.</summary>
    public void Append(RunRecord run)
    {
        RunHistoryLine.Append(_histories, run);
        _csv.Append(run);
    }
}

/// <summary>One epoch in <see cref="RunHistoryLine"/>, every number exact (NaN as null).</summary>
internal sealed record EpochLine(int Epoch, double TrainLoss, double ValidLoss, IReadOnlyList<double> Metrics, double Seconds);

/// <summary>
/// The shards of one experiment, read for a merge and checked: each folder holds a shard (its <c>shard.json</c>), all
/// belong to the same experiment (<see cref="ShardManifest.Differs"/>), every shard 1 … N is there once, every run of
/// the experiment is recorded exactly once and by the shard it was dealt to. Any problem is an
/// <see cref="OptionIOException"/> naming the folders, and the runs that are missing or duplicated.
/// </summary>
internal sealed class ShardSet
{
    /// <summary>The argument the folders are given as (error messages name it).</summary>
    public const string Argument = "SHARD_DIR";

    private ShardSet(ShardManifest manifest, List<RunRecord> rows, Dictionary<(string, long), RunHistoryLine> histories, IReadOnlyList<int> threads)
        => (Manifest, Rows, _histories, Threads) = (manifest, rows, histories, threads);

    private readonly Dictionary<(string, long), RunHistoryLine> _histories;

    /// <summary>The experiment (shard 1's manifest).</summary>
    public ShardManifest Manifest { get; }

    /// <summary>Every run, in the order an unsharded run records them (seed-major).</summary>
    public List<RunRecord> Rows { get; }

    /// <summary>The distinct thread counts the shards ran with (one when all agree).</summary>
    public IReadOnlyList<int> Threads { get; }

    /// <summary>The shard folders in <paramref name="outDir"/> (<c>shard-K-of-N</c>), in shard order.</summary>
    public static List<string> FoldersIn(string outDir) =>
        !Directory.Exists(outDir) ? [] : [.. Directory.EnumerateDirectories(outDir, "shard-*-of-*").Where(d => File.Exists(Path.Combine(d, ShardManifest.FileName)))
            .Order(StringComparer.Ordinal)];

    /// <summary>Reads and checks the shards in <paramref name="dirs"/> of a <paramref name="command"/> experiment whose runs are logged in <paramref name="log"/>.</summary>
    /// <exception cref="OptionIOException">Anything that keeps the shards from being one complete experiment.</exception>
    public static ShardSet Load(IReadOnlyList<string> dirs, string command, string log)
    {
        var shards = new List<(string Dir, ShardManifest M)>();
        foreach (var dir in dirs)
        {
            if (!Directory.Exists(dir)) Fail($"{dir}: no such folder");
            var m = ShardManifest.Read(dir, Argument)
                ?? Fail<ShardManifest>($"{dir} is not a shard folder: it has no {ShardManifest.FileName} (cadence {command} --shard K/N --out DIR writes DIR/shard-K-of-N)");
            if (m.Command != command) Fail($"{dir} is a {m.Command} shard; merge it with cadence {m.Command} merge");
            shards.Add((dir, m));
        }
        if (shards.Count == 0) Fail("no shard folders given");
        var first = shards.MinBy(s => s.M.Shard);
        foreach (var (dir, m) in shards)
            if (first.M.Differs(m) is { } why) Fail($"{dir} belongs to another experiment than {first.Dir}: {why}");
        var manifest = first.M;
        if (shards.GroupBy(s => s.M.Shard).FirstOrDefault(g => g.Count() > 1) is { } twice)
            Fail($"shard {twice.Key}/{manifest.Shards} is given twice: {string.Join(" and ", twice.Select(s => s.Dir))}");
        var missingShards = Enumerable.Range(1, manifest.Shards).Except(shards.Select(s => s.M.Shard)).ToList();

        var all = Canonical(manifest.Configurations, manifest.Seeds);
        var index = all.Select((r, i) => (r, i)).ToDictionary(x => (x.r.Label, x.r.Seed), x => x.i);
        // Every recorded run, with the folder that records it: duplicates first (a run in two shards, or twice in one), then
        // runs that are not this experiment's or not their shard's, then what is missing.
        var recorded = new List<(string Dir, ShardManifest M, string Path, RunRecord Row)>();
        var histories = new Dictionary<(string, long), RunHistoryLine>();
        foreach (var (dir, m) in shards.OrderBy(s => s.M.Shard))
        {
            string path = Path.Combine(dir, log);
            if (!File.Exists(path)) continue;   // a shard that never finished a run: its runs are reported missing
            List<RunRecord> found;
            try { found = ResultsCsv.Read(path, manifest.Setup, Argument).Rows; }
            catch (UsageException e) { throw new OptionIOException(Argument, e.Problem, e); }
            recorded.AddRange(found.Select(row => (dir, m, path, row)));
            if (command != "compare") continue;
            try
            {
                foreach (var (key, h) in RunHistoryLine.ReadAll(Path.Combine(dir, RunHistoryLine.FileName))) histories[key] = h;
            }
            catch (JsonException e) { Fail($"{Path.Combine(dir, RunHistoryLine.FileName)} is not readable: {ErrorHandler.OneLine(e.Message)}"); }
        }
        var duplicated = recorded.GroupBy(r => (r.Row.Label, r.Row.Seed)).Where(g => g.Count() > 1)
            .OrderBy(g => index.GetValueOrDefault(g.Key, int.MaxValue)).ToList();
        if (duplicated.Count > 0)
            Fail($"{Count(duplicated.Count, "run is", "runs are")} recorded more than once: " +
                 Few(duplicated.Select(d => $"{new ShardRun(d.Key.Label, "", d.Key.Seed)} (in {string.Join(" and ", d.Select(r => r.Dir))})")));
        var rows = new Dictionary<(string, long), RunRecord>();
        foreach (var (dir, m, path, row) in recorded)
        {
            var key = (row.Label, row.Seed);
            if (!index.TryGetValue(key, out int i)) Fail($"{path} records {new ShardRun(row.Label, row.Spec, row.Seed)}, which is not a run of this experiment");
            if (!m.Runs.Contains(all[i])) Fail($"{path} records {all[i]}, which was dealt to another shard than {m.Shard}/{m.Shards}");
            if (command == "compare" && !histories.ContainsKey(key)) Fail($"{dir}: {RunHistoryLine.FileName} has no epochs of {all[i]}, which results.csv records");
            rows[key] = row;
        }
        var missing = all.Where(r => !rows.ContainsKey((r.Label, r.Seed))).ToList();
        if (missing.Count > 0)
        {
            var problems = shards.OrderBy(s => s.M.Shard).Select(s => (s.M.Shard, Lacks: missing.Where(s.M.Runs.Contains).ToList())).Where(s => s.Lacks.Count > 0)
                .Select(s => $"shard {s.Shard}/{manifest.Shards} lacks {Count(s.Lacks.Count, "run", "runs")}: {Few(s.Lacks.Select(r => r.ToString()))}").ToList();
            var dealt = shards.SelectMany(s => s.M.Runs).ToHashSet();
            var elsewhere = missing.Where(r => !dealt.Contains(r)).ToList();
            if (missingShards.Count > 0)
                problems.Add($"shard{(missingShards.Count > 1 ? "s" : "")} {string.Join(", ", missingShards.Select(k => $"{k}/{manifest.Shards}"))} not given " +
                             $"({Count(elsewhere.Count, "run", "runs")}: {Few(elsewhere.Select(r => r.ToString()))})");
            Fail($"{string.Join("; ", problems)}; finish them (cadence {command} … --shard K/N --resume) and merge again");
        }
        var ordered = all.Select(r => rows[(r.Label, r.Seed)]).ToList();
        return new ShardSet(manifest, ordered, histories, [.. shards.Select(s => s.M.Threads).Distinct().Order()]);
    }

    /// <summary>
    /// For the rerun of a merge: reads and checks the shards in <paramref name="dirs"/>, checks that the options they saved
    /// still give their experiment (the same setup, configurations, seeds and table), and writes every run, seed-major, to
    /// <paramref name="log"/> in the merge's <see cref="ExperimentSettings.Out"/>, which must not hold one yet.
    /// </summary>
    /// <exception cref="OptionIOException">The shards are not one complete experiment.</exception>
    /// <exception cref="UsageException">The folder already holds results.</exception>
    public static ShardSet MergeInto(ExperimentSettings x, IReadOnlyList<string> dirs, string command, string log,
        IReadOnlyList<ShardConfiguration> configurations, string table)
    {
        var set = Load(dirs, command, log);
        var m = set.Manifest;
        var mine = m with { Setup = x.Setup(), Configurations = configurations, Seeds = x.Seeds, Table = table };
        if (m.Differs(mine) is { } why) Fail($"the options the shards saved no longer give their experiment ({why}); merge with the version of cadence that ran them");
        string outDir = x.Out!, path = Path.Combine(outDir, log);
        RefuseToOverwrite(path);
        Outputs.Folder("--out", outDir);
        Outputs.Write("--out", path, () => ResultsCsv.WriteAll(path, set.Rows));
        return set;
    }

    /// <summary>A merge writes a new folder: one that holds results already is refused.</summary>
    /// <exception cref="UsageException"><paramref name="path"/> exists and is not empty.</exception>
    public static void RefuseToOverwrite(string path)
    {
        if (File.Exists(path) && new FileInfo(path).Length > 0)
            throw new UsageException("--out", $"{path} exists; a merge writes a new folder (remove it to merge again, or choose another --out)");
    }

    /// <summary>The run with its epochs (compare shards keep them; sweep rows carry none).</summary>
    public RunRecord WithHistory(RunRecord row) =>
        _histories.TryGetValue((row.Label, row.Seed), out var h) ? row with { History = h.Records, MetricNames = h.MetricNames } : row;

    /// <summary>Every run of the experiment, seed-major over the configurations (the order of an unsharded run).</summary>
    public static List<ShardRun> Canonical(IReadOnlyList<ShardConfiguration> configurations, IReadOnlyList<long> seeds) =>
        [.. seeds.SelectMany(seed => configurations.Select(c => new ShardRun(c.Label, c.Spec, seed)))];

    private static string Count(int n, string one, string many) => string.Create(CultureInfo.InvariantCulture, $"{n} {(n == 1 ? one : many)}");

    /// <summary>The first ten, and how many more.</summary>
    private static string Few(IEnumerable<string> items)
    {
        var list = items.ToList();
        return string.Join(", ", list.Take(10)) + (list.Count > 10 ? string.Create(CultureInfo.InvariantCulture, $" and {list.Count - 10} more") : "");
    }

    private static void Fail(string problem) => throw new OptionIOException(Argument, problem);

    private static T Fail<T>(string problem) => throw new OptionIOException(Argument, problem);
}
