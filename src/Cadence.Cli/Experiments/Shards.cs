using System.Security.Cryptography;
using System.Text;

namespace Cadence.Cli.Experiments;

/// <summary>
/// Which slice of an experiment this process runs: shard <see cref="Index"/> of <see cref="Count"/> (1-based, as typed:
/// <c>--shard 2/3</c>), from the command line or from a cluster scheduler's environment (<c>--shard auto</c>).
/// </summary>
internal sealed record ShardSpec(int Index, int Count)
{
    /// <summary>Most shards an experiment may be cut into.</summary>
    public const int MaxCount = 100_000;

    /// <summary>The environment variable that gives a Kubernetes Indexed Job's shard count (its <c>completions</c>): Kubernetes passes only the index.</summary>
    public const string CountVariable = "CADENCE_SHARD_COUNT";

    /// <summary>The shard's folder inside the experiment's <c>--out</c>: <c>shard-2-of-3</c>.</summary>
    public string FolderName => string.Create(CultureInfo.InvariantCulture, $"shard-{Index}-of-{Count}");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>
    /// <c>K/N</c> (1 ≤ K ≤ N ≤ <see cref="MaxCount"/>), or <c>auto</c>: read from <paramref name="environment"/> — a Slurm
    /// job array (<c>SLURM_ARRAY_TASK_ID</c> − <c>SLURM_ARRAY_TASK_MIN</c> + 1 of <c>SLURM_ARRAY_TASK_COUNT</c>; the array
    /// must be a range without steps) or a Kubernetes Indexed Job (<c>JOB_COMPLETION_INDEX</c> + 1 of
    /// <see cref="CountVariable"/>). Returns the shard, or why there is none.
    /// </summary>
    public static (ShardSpec? Shard, string? Problem) Parse(string text, Func<string, string?> environment)
    {
        if (text == "auto") return FromEnvironment(environment);
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            return (null, $"expected K/N (the K-th of N shards, 1 ≤ K ≤ N) or auto, got '{text}'");
        if (n < 1 || n > MaxCount) return (null, $"the number of shards must be in [1, {MaxCount}], got {n}");
        if (k < 1 || k > n) return (null, $"the shard must be in [1, {n}], got {k} (shards are numbered from 1)");
        return (new ShardSpec(k, n), null);
    }

    private static (ShardSpec?, string?) FromEnvironment(Func<string, string?> env)
    {
        static long? Number(string? v) => long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long x) ? x : null;
        if (env("SLURM_ARRAY_TASK_ID") is { } slurmId)
        {
            long? id = Number(slurmId), count = Number(env("SLURM_ARRAY_TASK_COUNT")), min = Number(env("SLURM_ARRAY_TASK_MIN")), max = Number(env("SLURM_ARRAY_TASK_MAX"));
            if (id is null || count is null || min is null || max is null)
                return (null, $"auto: SLURM_ARRAY_TASK_ID is '{slurmId}' but SLURM_ARRAY_TASK_COUNT, _MIN and _MAX are not all whole numbers " +
                              $"('{env("SLURM_ARRAY_TASK_COUNT")}', '{env("SLURM_ARRAY_TASK_MIN")}', '{env("SLURM_ARRAY_TASK_MAX")}')");
            if (max - min + 1 != count)
                return (null, string.Create(CultureInfo.InvariantCulture,
                    $"auto: the Slurm array {min}-{max} has {count} tasks, not {max - min + 1}: submit a range without steps or gaps (--array={min}-{min + count - 1})"));
            return Checked(id.Value - min.Value + 1, count.Value, "the Slurm array task");
        }
        if (env("JOB_COMPLETION_INDEX") is { } index)
        {
            if (Number(index) is not { } i) return (null, $"auto: JOB_COMPLETION_INDEX must be a whole number, got '{index}'");
            if (Number(env(CountVariable)) is not { } n)
                return (null, $"auto: a Kubernetes Indexed Job gives the index but not the count; set {CountVariable} to the Job's completions (got '{env(CountVariable)}')");
            return Checked(i + 1, n, "JOB_COMPLETION_INDEX + 1");
        }
        return (null, "auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard K/N");
    }

    private static (ShardSpec?, string?) Checked(long k, long n, string what)
    {
        if (n < 1 || n > MaxCount) return (null, $"auto: the number of shards must be in [1, {MaxCount}], got {n}");
        if (k < 1 || k > n) return (null, $"auto: {what} gives shard {k}, outside [1, {n}]");
        return (new ShardSpec((int)k, (int)n), null);
    }
}

/// <summary>The rule of <c>--shard</c>: <c>K/N</c> or <c>auto</c> (the environment is read when the options are checked).</summary>
internal sealed class ShardAttribute(string description) : RuleAttribute(description)
{
    public override string Allowed => "K/N or auto";

    public override string? Problem(object value) => ShardSpec.Parse((string)value, Environment.GetEnvironmentVariable).Problem;
}

/// <summary>
/// How an experiment's runs — every (configuration, seed) pair, seed-major as an unsharded run does them — are dealt to
/// shards: deterministic (a function of the runs and their costs only, so every process computes the same split
/// without talking to the others) and balanced by cost. Each run's cost is its optimizer steps (epochs × steps per
/// epoch); runs are taken from the most expensive down (ties in run order) and each goes to the shard with the least
/// cost so far (ties to the lowest shard): the longest-processing-time rule, which keeps the largest shard within one
/// run of the mean. With equal costs this is round-robin: run i goes to shard i mod N.
/// </summary>
internal static class ShardPlan
{
    /// <summary>The shard (0-based) of every run, in run order.</summary>
    public static int[] Assign(IReadOnlyList<long> costs, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        var order = Enumerable.Range(0, costs.Count).OrderByDescending(i => costs[i]).ThenBy(i => i);   // OrderBy is stable; ThenBy makes it explicit
        var load = new long[shards];
        var shardOf = new int[costs.Count];
        foreach (int i in order)
        {
            int least = 0;
            for (int s = 1; s < shards; s++)
                if (load[s] < load[least]) least = s;
            shardOf[i] = least;
            load[least] += costs[i];
        }
        return shardOf;
    }
}

/// <summary>
/// The data fingerprint of a shard: SHA-256 over the files the data option reads — a file's bytes, or for a folder every
/// file below it in ordinal order of its relative path, each as its path, its length and its bytes. Shards of one
/// experiment must have trained on identical data; a merge refuses shards whose fingerprints differ.
/// </summary>
internal static class DataFingerprint
{
    /// <summary><c>sha256:HEX</c> of <paramref name="path"/> (a file or a folder).</summary>
    /// <exception cref="Cadence.Data.DataFormatException">The path does not exist.</exception>
    public static string Of(string path)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (File.Exists(path)) Add(hash, path, Path.GetFileName(path));
        else if (Directory.Exists(path))
        {
            foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                         .Select(f => (Full: f, Relative: Path.GetRelativePath(path, f).Replace('\\', '/'))).OrderBy(f => f.Relative, StringComparer.Ordinal))
                Add(hash, file.Full, file.Relative);
        }
        else throw new Cadence.Data.DataFormatException(path, "not found");
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void Add(IncrementalHash hash, string file, string name)
    {
        using var stream = File.OpenRead(file);
        hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{name}\0{stream.Length}\0")));
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, n);
    }
}

/// <summary>
/// The start of a shard, in two steps: before anything is written, its identity is checked against the
/// <c>shard.json</c> already in its folder (<see cref="Check"/>); once every configuration's length is known, the runs are
/// dealt and the manifest written (<see cref="Deal"/>).
/// </summary>
internal static class ShardStart
{
    /// <summary>
    /// This shard's manifest without its runs. A folder that already holds a shard is refused unless resuming, and then
    /// only when it holds this shard of this experiment.
    /// </summary>
    /// <param name="x">The experiment's settings, with <see cref="ExperimentSettings.ShardOf"/> set.</param>
    /// <param name="command"><c>sweep</c> or <c>compare</c>.</param>
    /// <param name="configurations">The cells or schedules, in order.</param>
    /// <param name="table">What the results table shows (part of the identity: <c>metric accuracy</c>, …).</param>
    /// <param name="positional">The command's own arguments after its options (a sweep's policy and its options, compare's schedules).</param>
    /// <exception cref="UsageException">The folder holds another shard or another experiment's shard.</exception>
    public static ShardManifest Check(ExperimentSettings x, string command, IReadOnlyList<ShardConfiguration> configurations, string table,
        IReadOnlyList<string> positional)
    {
        var shard = x.ShardOf!;
        string dir = x.Out!;
        var source = x.Source;
        var manifest = new ShardManifest(ShardManifest.CurrentFormat, command, shard.Index, shard.Count, x.Setup(),
            DataFingerprint.Of(source.Path ?? Cadence.Data.IdxImages.FashionMnistDirectory), configurations, x.Seeds, table,
            [.. positional, .. x.ExperimentArgs()], x.ThreadCount, 0, []);
        if (ShardManifest.Read(dir, "--out") is { } existing)
        {
            if (!x.Resuming)
                throw new UsageException("--out", $"{dir} holds shard {existing.Shard}/{existing.Shards} already; pass --resume to continue it, or choose another --out");
            string? why = existing.Shard != shard.Index ? $"it holds shard {existing.Shard}, not {shard.Index}" : manifest.Differs(existing);
            if (why is not null) throw new UsageException("--resume", $"{dir} holds a shard of another experiment: {why}; choose another --out");
        }
        return manifest;
    }

    /// <summary>
    /// Deals the experiment's runs (<see cref="ShardPlan"/>; a run costs its configuration's optimizer steps) and writes
    /// this shard's <c>shard.json</c> (a resumed shard's must have been dealt the same runs). Returns this shard's runs, seed-major.
    /// </summary>
    /// <param name="x">The experiment's settings.</param>
    /// <param name="manifest">What <see cref="Check"/> returned.</param>
    /// <param name="plans">Each configuration's plan by label (<see cref="ExperimentRunner.Plan"/>): a run costs its
    /// epochs × optimizer steps per epoch, and the steps per epoch are saved (a merge rebuilds the schedules from them).</param>
    /// <exception cref="UsageException">A resumed shard whose runs were dealt differently.</exception>
    public static List<ShardRun> Deal(ExperimentSettings x, ShardManifest manifest,
        IReadOnlyDictionary<string, (Schedule Schedule, int Epochs, long BatchesPerEpoch)> plans)
    {
        string dir = x.Out!;
        long batchesPerEpoch = plans.Values.First().BatchesPerEpoch;
        var all = ShardSet.Canonical(manifest.Configurations, manifest.Seeds);
        var dealt = ShardPlan.Assign([.. all.Select(r => plans[r.Label].Epochs * plans[r.Label].BatchesPerEpoch)], manifest.Shards);
        var mine = all.Where((_, i) => dealt[i] == manifest.Shard - 1).ToList();
        manifest = manifest with { BatchesPerEpoch = batchesPerEpoch, Runs = mine };
        Outputs.Folder("--out", dir);
        if (ShardManifest.Read(dir, "--out") is { } existing)
        {
            if (!existing.Runs.SequenceEqual(mine))
                throw new UsageException("--resume", $"{dir} was dealt other runs ({string.Join(", ", existing.Runs.Take(3))} …) than this version deals it; finish it with the version that started it");
        }
        else Outputs.Write("--out", dir, () => manifest.Write(dir));
        return mine;
    }
}
