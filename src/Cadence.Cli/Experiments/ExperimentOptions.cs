using System.Globalization;

namespace Cadence.Cli.Experiments;

/// <summary>
/// The options <c>compare</c> and <c>sweep</c> share: the training options, the length, the seeds and the outputs.
/// </summary>
internal sealed class ExperimentOptions
{
    public const string Help = """
          --epochs N             epochs of every run (default: each schedule's own length)
          --seeds K              run each with seeds 0 … K−1 (default: the one --seed, 0)
          --seed-list S[,S…]     run each with these seeds
          --out DIR              write the results there (see below)
          --json                 print one JSON document on stdout (the table goes to stderr)
        """;

    public TrainingOptions Training { get; } = new();
    public int? Epochs { get; private set; }
    public string? Out { get; private set; }
    public bool Json { get; private set; }
    private List<long>? _seeds;
    private string? _seedOption;

    /// <summary>The seeds every configuration runs with, in order.</summary>
    public IReadOnlyList<long> Seeds => _seeds ?? [Training.Seed];

    /// <summary>Consumes <paramref name="option"/> if it is a shared option; false when it belongs to the command.</summary>
    public bool TryParse(string option, Func<string> next)
    {
        switch (option)
        {
            case "--epochs": Epochs = OptionValues.Integer(option, next(), 1, 100_000); return true;
            case "--out": Out = next(); return true;
            case "--json": Json = true; return true;
            case "--seeds":
                SeedOption(option);
                _seeds = [.. Enumerable.Range(0, OptionValues.Integer(option, next(), 1, 10_000)).Select(i => (long)i)];
                return true;
            case "--seed-list":
                {
                    SeedOption(option);
                    var text = next();
                    _seeds = [.. text.Split(',').Select(s => (long)OptionValues.Integer(option, s.Trim(), 0, int.MaxValue))];
                    if (_seeds.Distinct().Count() != _seeds.Count) throw new UsageException($"--seed-list: a seed is given twice in '{text}'");
                    return true;
                }
            case "--seed":
                SeedOption(option);
                return Training.TryParse(option, next);
            default:
                return Training.TryParse(option, next);
        }
    }

    private void SeedOption(string option)
    {
        if (_seedOption is not null && _seedOption != option) throw new UsageException($"{option}: give one of --seed, --seeds and --seed-list, not {_seedOption} too");
        if (_seedOption == option) throw new UsageException($"{option}: given twice");
        _seedOption = option;
    }

    /// <summary>Checks the combinations a single option cannot check.</summary>
    public void Validate() => Training.Validate();

    /// <summary>
    /// What every run of an experiment shares apart from its schedule and seed, as one line: a results file records it
    /// so that <c>--resume</c> refuses to mix runs of different setups.
    /// </summary>
    public string Setup() => string.Join(' ', Settings().Select(kv => $"{kv.Key}={kv.Value}"));

    /// <summary>The parts of <see cref="Setup"/> as name and value (the configuration table of a report).</summary>
    public List<KeyValuePair<string, string>> Settings()
    {
        var t = Training;
        var parts = new List<KeyValuePair<string, string>>
        {
            new("data", t.DataPath is null ? t.Data : $"{t.Data}:{Path.GetFullPath(t.DataPath)}"),
        };
        if (t.Target is not null) parts.Add(new("target", t.Target));
        if (t.Data == "csv") parts.Add(new("valid-pct", F($"{t.ValidPct}")));
        parts.Add(new("subset", F($"{t.Subset}")));
        parts.Add(new("model", t.Model ?? "auto"));
        parts.Add(new("bs", F($"{t.BatchSize}")));
        parts.Add(new("opt", t.Opt));
        parts.Add(new("wd", t.Wd is { } wd ? F($"{wd}") : "default"));
        parts.Add(new("epochs", Epochs is { } e ? F($"{e}") : "auto"));
        return parts;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
