using Cadence.Data;
using Cadence.Models;
using Cadence.Training;

namespace Cadence.Cli.Options;

/// <summary>The output options of every command that prints or draws: declared once, inherited.</summary>
internal class OutputSettings : CommandSettings
{
    [CommandOption("--json"), Description("Print one JSON document on stdout (tables and progress go to stderr)")]
    public bool Json { get; set; }

    [CommandOption("--plots|--plot <PATH>"), Output(OutputKind.Charts, "Write the charts into folder PATH (created when missing); a command that draws one chart also takes a file PATH.png or PATH.svg")]
    public string? Plots { get; set; }

    [CommandOption("--plot-format <FORMAT>"), OneOf("Image format of the charts written into a --plots folder", "png", "svg"), DefaultValue("png")]
    public string PlotFormat { get; set; } = "png";

    /// <summary>Whether --plots names one chart file (<c>x.png</c>, <c>x.svg</c>) rather than a folder.</summary>
    public bool PlotsIsFile => Plots is not null && OutputAttribute.ChartExtensions.Contains(Path.GetExtension(Plots).ToLowerInvariant());

    /// <summary>Where chart <paramref name="name"/> goes: --plots itself when it is a file, else --plots/NAME.FORMAT; null without --plots.</summary>
    public string? PlotPath(string name) => Plots is null ? null : PlotsIsFile ? Plots : Path.Combine(Plots, $"{name}.{PlotFormat}");

    /// <summary>For commands that draw several charts: --plots must be a folder.</summary>
    protected void ChartsNeedAFolder(Check check, string what)
    {
        if (PlotsIsFile) check.Fail("--plots", $"{what}: give a folder, got '{Plots}'");
    }
}

/// <summary>
/// The option sets of every training command (<c>fit</c>, <c>lr-find</c>, <c>compare</c>, <c>sweep</c>), declared once:
/// data, model, optimizer and runtime. A new shared option is one property here (with its rule) and, when it changes
/// what is computed, one line in <see cref="Settings"/>.
/// </summary>
internal class TrainingSettings : OutputSettings, ICheckedSettings
{
    // --- data ---

    [CommandOption("--data <SOURCE>"), DataSource("Training data: fashion-mnist, idx DIR (Fashion-MNIST's four IDX files) or csv FILE (see README: the CSV format)"), DefaultValue("fashion-mnist")]
    public string Data { get; set; } = "fashion-mnist";

    [CommandOption("--target <COLUMN>"), Description("Label column of a CSV file (required with --data csv)")]
    public string? Target { get; set; }

    [CommandOption("--valid-pct <P>"), Number(0, 1, "Fraction of a CSV file held out for validation", MinOpen = true, MaxOpen = true), DefaultValue(0.2)]
    public double ValidPct { get; set; } = 0.2;

    [CommandOption("--subset <F>"), Number(0, 1, "Train on a seeded fraction F of the training data", MinOpen = true), DefaultValue(1.0)]
    public double Subset { get; set; } = 1;

    // --- model ---

    [CommandOption("--model <NAME>"), Model("Built-in model (default: mlp for CSV, cnn for images)")]
    public string? Model { get; set; }

    // --- optimizer ---

    [CommandOption("--bs <N>"), Whole(1, 1 << 20, "Batch size"), DefaultValue(64L)]
    public long BatchSize { get; set; } = 64;

    [CommandOption("--opt <NAME>"), OneOf("Optimizer: SGD with momentum 0.9, or AdamW", "sgd", "adamw"), DefaultValue("sgd")]
    public string Opt { get; set; } = "sgd";

    [CommandOption("--wd <X>"), Number(0, 1, "Weight decay: L2 for sgd (default 0), decoupled for adamw (default 0.01)")]
    public double? Wd { get; set; }

    // --- runtime ---

    [CommandOption("--seed <N>"), Whole(0, int.MaxValue, "Seed of the weights, the shuffling and the split (default 0)")]
    public long? Seed { get; set; }

    [CommandOption("--threads <N>"), Whole(1, 1024, "Torch threads (default: the number of cores)")]
    public long? Threads { get; set; }

    /// <summary>The data source as typed (<c>csv</c> and its file, …).</summary>
    public DataSource Source => DataSource.Parse(Data);

    public int ThreadCount => (int)(Threads ?? Environment.ProcessorCount);

    public long SeedValue => Seed ?? 0;

    public virtual void Check(Check check)
    {
        if (Source.Kind == "csv" && Target is null) check.Fail("--target", "required with --data csv (the label column)");
        if (Source.Kind != "csv" && Target is not null) check.Fail("--target", "only applies to --data csv");
    }

    /// <summary>Loads the training and validation data as a run with <paramref name="seed"/> sees it (the CSV split and the subset are seeded).</summary>
    public LoadedData Load(long seed, bool subset = true)
    {
        TorchRuntime.Configure(threads: ThreadCount);   // before the first tensor: the native environment and threads
        var source = Source;
        InMemoryDataset train, valid;
        IReadOnlyList<string>? classNames = null;
        switch (source.Kind)
        {
            case "csv":
                var csv = CsvTabular.Load(source.Path!, Target!, ValidPct, seed);
                (train, valid, classNames) = (csv.Train, csv.Valid, csv.ClassNames);
                break;
            case "idx":
                (train, valid) = IdxImages.Load(source.Path!);
                break;
            default:
                if (!File.Exists(Path.Combine(IdxImages.FashionMnistDirectory, "train-images-idx3-ubyte.gz")))
                    throw new DataFormatException(IdxImages.FashionMnistDirectory,
                        "Fashion-MNIST not found (install Debian's dataset-fashion-mnist, e.g. 'make setup' as root, or pass --data idx DIR)");
                (train, valid) = IdxImages.Load(IdxImages.FashionMnistDirectory);
                classNames = IdxImages.FashionMnistClasses;
                break;
        }
        var data = new LoadedData(train, valid, classNames);
        return subset ? data.Subset(Subset, seed) : data;
    }

    /// <summary>The built-in model's name for this data (the option, or the default for its shape).</summary>
    public string ModelName(InMemoryDataset train) => Model ?? (train.SampleShape.Length == 1 ? "mlp" : "cnn");

    /// <summary>The optimizer: SGD with momentum 0.9 (L2) or AdamW (decoupled weight decay).</summary>
    public OptimizerFactory Optimizer() =>
        Opt == "adamw" ? OptimizerFactory.AdamW(weightDecay: Wd ?? 0.01) : OptimizerFactory.Sgd(weightDecay: Wd ?? 0);

    /// <summary>
    /// What every run shares apart from its schedule and seed, as names and values: the configuration table of a
    /// report, and (joined) the setup a results file records so that a resumed sweep refuses to mix setups.
    /// </summary>
    public List<KeyValuePair<string, string>> Settings(int? epochs)
    {
        var source = Source;
        var parts = new List<KeyValuePair<string, string>>
        {
            new("data", source.Path is null ? source.Kind : $"{source.Kind}:{Path.GetFullPath(source.Path)}"),
        };
        if (Target is not null) parts.Add(new("target", Target));
        if (source.Kind == "csv") parts.Add(new("valid-pct", NumberFormat.Exact(ValidPct)));
        parts.Add(new("subset", NumberFormat.Exact(Subset)));
        parts.Add(new("model", Model ?? "auto"));
        parts.Add(new("bs", BatchSize.ToString(CultureInfo.InvariantCulture)));
        parts.Add(new("opt", Opt));
        parts.Add(new("wd", Wd is { } wd ? NumberFormat.Exact(wd) : "default"));
        parts.Add(new("epochs", epochs is { } e ? e.ToString(CultureInfo.InvariantCulture) : "auto"));
        return parts;
    }
}

/// <summary>Training and validation data as loaded from the command line.</summary>
internal sealed record LoadedData(InMemoryDataset Train, InMemoryDataset Valid, IReadOnlyList<string>? ClassNames)
{
    /// <summary>A seeded fraction of the training data (this object itself when the fraction is 1); the full set is disposed.</summary>
    public LoadedData Subset(double fraction, long seed)
    {
        if (fraction >= 1) return this;
        var part = this with { Train = Train.Subset(fraction, seed) };
        Train.Dispose();
        return part;
    }
}

/// <summary>
/// A data source: a kind and, for most kinds, a path (<c>--data csv FILE</c>). The command line joins the two words
/// into one value before parsing (<see cref="JoinPaths"/>): a parser option takes one value.
/// </summary>
internal sealed record DataSource(string Kind, string? Path)
{
    /// <summary>Every kind, and what its path is (null: it has none). A new kind is one line here and one case in <see cref="TrainingSettings.Load"/>.</summary>
    public static readonly IReadOnlyDictionary<string, string?> Kinds = new Dictionary<string, string?>
    {
        ["fashion-mnist"] = null,
        ["idx"] = "DIR",
        ["csv"] = "FILE",
    };

    public static DataSource Parse(string value)
    {
        int space = value.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? new DataSource(value, null) : new DataSource(value[..space], value[(space + 1)..]);
    }

    /// <summary>What is wrong with <paramref name="value"/>, or null (the path's existence is the loader's to check).</summary>
    public static string? Problem(string value)
    {
        var (kind, path) = Parse(value);
        if (!Kinds.TryGetValue(kind, out var needs))
            return $"expected {string.Join(", ", Kinds.Select(k => k.Value is null ? k.Key : $"{k.Key} {k.Value}"))}, got '{kind}'{OptionNames.DidYouMean(kind, Kinds.Keys)}";
        if (needs is not null && path is null) return $"{kind} needs a path: --data {kind} {needs}";
        if (needs is null && path is not null) return $"{kind} takes no path, got '{path}'";
        if (needs == "FILE" && Directory.Exists(path)) return $"{path} is a folder; --data {kind} takes a file";
        if (needs == "DIR" && File.Exists(path)) return $"{path} is a file; --data {kind} takes a folder";
        return null;
    }

    /// <summary><c>--data csv FILE</c> → <c>--data "csv FILE"</c>: the kind and its path as one option value.</summary>
    public static string[] JoinPaths(IReadOnlyList<string> args)
    {
        var joined = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            joined.Add(args[i]);
            if (args[i] == "--data" && i + 2 < args.Count && Kinds.GetValueOrDefault(args[i + 1]) is not null && !args[i + 2].StartsWith("--", StringComparison.Ordinal))
            {
                joined.Add($"{args[i + 1]} {args[i + 2]}");
                i += 2;
            }
        }
        return [.. joined];
    }
}

/// <summary>The rule of <c>--data</c>.</summary>
internal sealed class DataSourceAttribute(string description) : RuleAttribute(description)
{
    public override string? Allowed => null;

    public override string? Problem(object value) => DataSource.Problem((string)value);
}

/// <summary>The rule of <c>--model</c>: a name of the model zoo.</summary>
internal sealed class ModelAttribute(string description) : RuleAttribute(description)
{
    public override string Allowed => string.Join("|", ModelZoo.Names);

    public override string? Problem(object value) => ModelZoo.Names.Contains((string)value) ? null
        : $"expected one of {string.Join(", ", ModelZoo.Names)}, got '{value}'{OptionNames.DidYouMean((string)value, ModelZoo.Names)}";
}
