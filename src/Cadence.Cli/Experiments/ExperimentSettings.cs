
namespace Cadence.Cli.Experiments;

/// <summary>The options <c>compare</c> and <c>sweep</c> share: the training options, the length, the seeds and the results folder.</summary>
internal class ExperimentSettings : TrainingSettings
{
    [CommandOption("--epochs <N>"), Whole(1, 100_000, "Epochs of every run (default: each schedule's own length)")]
    public long? Epochs { get; set; }

    [CommandOption("--seeds <K>"), Whole(1, 10_000, "Run each with seeds 0 … K−1 (default: the one --seed, 0)")]
    public long? SeedCount { get; set; }

    [CommandOption("--seed-list <SEEDS>"), SeedList("Run each with these seeds (S[,S…])")]
    public string? SeedList { get; set; }

    [CommandOption("--out <DIR>"), Output(OutputKind.Folder, "Write the results there, and the charts unless --plots says where")]
    public string? Out { get; set; }

    /// <summary>The seeds every configuration runs with, in order.</summary>
    public IReadOnlyList<long> Seeds =>
        SeedList is not null ? [.. SeedList.Split(',').Select(s => long.Parse(s.Trim(), CultureInfo.InvariantCulture))]
        : SeedCount is { } k ? [.. Enumerable.Range(0, (int)k).Select(i => (long)i)]
        : [SeedValue];

    /// <summary>Where the charts and report.html go: --plots, else --out, else nowhere.</summary>
    public string? ChartFolder => Plots ?? Out;

    public string Setup() => string.Join(' ', Settings((int?)Epochs).Select(kv => $"{kv.Key}={kv.Value}"));

    public override void Check(Check check)
    {
        base.Check(check);
        ChartsNeedAFolder(check, "this command draws several charts and a report");
        var given = new[] { (Seed is not null, "--seed"), (SeedCount is not null, "--seeds"), (SeedList is not null, "--seed-list") }.Where(g => g.Item1).ToList();
        if (given.Count > 1) check.Fail(given[1].Item2, $"give one of --seed, --seeds and --seed-list, not {given[0].Item2} too");
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
