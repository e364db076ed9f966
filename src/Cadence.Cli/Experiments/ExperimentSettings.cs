
namespace Cadence.Cli.Experiments;

/// <summary>The options <c>compare</c> and <c>sweep</c> share: the training options, the length, the seeds and the results folder.</summary>
internal class ExperimentSettings : FittingSettings
{
    [CommandOption("--epochs <N>"), Whole(1, 100_000, "Epochs of every run (default: each schedule's own length)")]
    public long? Epochs { get; set; }

    [CommandOption("--seeds <K>"), Whole(1, 10_000, "Run each with seeds 0 … K−1 (default: the one --seed, 0)")]
    public long? SeedCount { get; set; }

    [CommandOption("--seed-list <SEEDS>"), SeedList("Run each with these seeds (S[,S…])")]
    public string? SeedList { get; set; }

    [CommandOption("--out <DIR>"), Output(OutputKind.Folder, "Write the results there, and the charts unless --plots says where")]
    public string? Out { get; set; }

    [CommandOption("--shard <K/N>"), Shard("Run only the K-th of N deterministic, cost-balanced slices of the runs (configurations × seeds), into DIR/shard-K-of-N of --out DIR; auto: the slice of this Slurm array task or Kubernetes Indexed Job pod (JOB_COMPLETION_INDEX, with CADENCE_SHARD_COUNT). 'merge --out DIR' then writes the results")]
    public string? Shard { get; set; }

    [CommandOption("--resume [DIR]"), Description("Continue in DIR (as --out DIR): skip each run already recorded there (DIR/sweep.csv; with --shard, this shard's folder in DIR), which must come from the same data, model and optimizer options")]
    public FlagValue<string>? Resume { get; set; }

    public bool Resuming => Resume is { IsSet: true };

    /// <summary>Set by <c>merge</c> when it reruns the experiment's saved options: the shard folders whose runs are the results.</summary>
    [CommandOption("--merge-from <DIR>", IsHidden = true)]
    public string[]? MergeFrom { get; set; }

    /// <summary>The shard this process runs (from <c>--shard</c>), or null.</summary>
    public ShardSpec? ShardOf { get; private set; }

    /// <summary>The experiment's folder as given by --out; with <c>--shard</c>, <see cref="Out"/> is this shard's folder inside it.</summary>
    public string? ExperimentFolder { get; private set; }

    /// <summary>The seeds every configuration runs with, in order.</summary>
    public IReadOnlyList<long> Seeds =>
        SeedList is not null ? [.. SeedList.Split(',').Select(s => long.Parse(s.Trim(), CultureInfo.InvariantCulture))]
        : SeedCount is { } k ? [.. Enumerable.Range(0, (int)k).Select(i => (long)i)]
        : [SeedValue];

    /// <summary>Where the charts and report.html go: --plots, else --out, else nowhere (nowhere for a shard: its merge draws them).</summary>
    public string? ChartFolder => ShardOf is not null ? null : Plots ?? Out;

    public string Setup() => string.Join(' ', Settings((int?)Epochs).Select(kv => $"{kv.Key}={kv.Value}"));

    public override void Check(Check check)
    {
        base.Check(check);
        ChartsNeedAFolder(check, "this command draws several charts and a report");
        var given = new[] { (Seed is not null, "--seed"), (SeedCount is not null, "--seeds"), (SeedList is not null, "--seed-list") }.Where(g => g.Item1).ToList();
        if (given.Count > 1) check.Fail(given[1].Item2, $"give one of --seed, --seeds and --seed-list, not {given[0].Item2} too");
    }

    /// <summary>
    /// <c>--resume DIR</c> is <c>--out DIR</c>; with <c>--shard</c>, this shard's folder inside it becomes <see cref="Out"/>
    /// (what the results, the lock and the resumption use).
    /// </summary>
    protected void CheckOut(Check check, string command)
    {
        if (Resume is { IsSet: true, Value: { } dir })
        {
            if (Out is not null && Path.GetFullPath(Out) != Path.GetFullPath(dir)) check.Fail("--resume", $"continues the {command} in {dir}, but --out is {Out}; give one");
            Out = dir;
        }
        if (Resuming && Out is null) check.Fail("--resume", $"needs the {command}'s folder: --resume DIR");
        ExperimentFolder = Out;
        if (Shard is null) return;
        if (Out is null) check.Fail("--shard", $"needs --out DIR, the experiment's folder: this shard writes DIR/shard-K-of-N, and 'cadence {command} merge --out DIR' reads them");
        if (Plots is not null) check.Fail("--plots", $"a shard draws no charts; 'cadence {command} merge' draws them");
        if (MergeFrom is not null) check.Fail("--shard", "a merge reads shards; it is not one");
        if (ShardSpec.Parse(Shard, Environment.GetEnvironmentVariable).Shard is { } shard && Out is not null)
        {
            ShardOf = shard;
            Out = Path.Combine(Out, shard.FolderName);
        }
    }

    /// <summary>
    /// The options that define the experiment, as a command line to rerun it (what <c>merge</c> does): every option
    /// that was given or has a default, the data's path made absolute; not where it writes, how it reports, its slice,
    /// its time limit or its threads.
    /// </summary>
    public List<string> ExperimentArgs()
    {
        string[] notSaved = ["--out", "--resume", "--shard", "--merge-from", "--json", "--plots", "--plot-format", "--max-minutes", "--threads"];
        var args = new List<string>();
        foreach (var p in GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (p.GetCustomAttributes(typeof(CommandOptionAttribute), true).FirstOrDefault() is not CommandOptionAttribute option) continue;
            string name = "--" + option.LongNames[0];
            if (notSaved.Contains(name)) continue;
            switch (p.GetValue(this))
            {
                case null or false:
                    break;
                case true:
                    args.Add(name);
                    break;
                case string text when name == "--data":
                    var source = DataSource.Parse(text);
                    args.AddRange([name, source.Path is null ? text : $"{source.Kind} {Path.GetFullPath(source.Path)}"]);
                    break;
                case string text:
                    args.AddRange([name, text]);
                    break;
                case double d:
                    args.AddRange([name, d.ToString("R", CultureInfo.InvariantCulture)]);
                    break;
                case FlagValue<string> flag:   // --aug [PRESET]: absent, alone, or with its value
                    if (flag.IsSet) args.AddRange(flag.Value is null ? [name] : [name, flag.Value]);
                    break;
                case IFormattable number:
                    args.AddRange([name, number.ToString(null, CultureInfo.InvariantCulture)]);
                    break;
                default:
                    throw new InvalidOperationException($"{name}: a {p.PropertyType.Name} option cannot be saved for a merge; add its case here");
            }
        }
        return args;
    }
}

/// <summary>The rule of <c>--seed-list</c>: distinct whole numbers ≥ 0.</summary>
internal sealed class SeedListAttribute(string description) : RuleAttribute(description)
{
    public override string? Allowed => null;

    public override string? Problem(object value)
    {
        var text = (string)value;
        var seeds = text.Split(',').Select(s => long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 && v <= int.MaxValue ? v : -1).ToList();
        if (seeds.Contains(-1)) return $"expected whole numbers in [0, {int.MaxValue}] separated by commas, got '{text}'";
        return seeds.Distinct().Count() != seeds.Count ? $"a seed is given twice in '{text}'" : null;
    }
}
