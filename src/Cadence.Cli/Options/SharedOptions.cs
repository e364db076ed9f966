using Cadence.Data;
using Cadence.Cli.Training;
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
/// data, images, model, optimizer and runtime. A new shared option is one property here (with its rule) and, when it
/// changes what is computed, one line in <see cref="Settings"/>.
/// </summary>
internal class TrainingSettings : OutputSettings, ICheckedSettings
{
    // --- data ---

    [CommandOption("--data <SOURCE>"), DataSource("Training data: fashion-mnist, idx DIR (Fashion-MNIST's four IDX files), folder DIR (DIR/train/<class>/*.png and DIR/valid/<class>/…; docs/data.md), cifar10 DIR (CIFAR-10's binary files) or csv FILE (see README: the CSV format)"), DefaultValue("fashion-mnist")]
    public string Data { get; set; } = "fashion-mnist";

    [CommandOption("--target <COLUMN>"), Description("Label column of a CSV file (required with --data csv)")]
    public string? Target { get; set; }

    [CommandOption("--valid <FILE>"), Description("Validation rows from this CSV file (the columns of --data csv FILE) instead of a --valid-pct split")]
    public string? Valid { get; set; }

    [CommandOption("--valid-pct <P>"), Number(0, 1, "Seeded fraction held out for validation from a CSV file, or from an image folder without valid/ or test/ (default 0.2)", MinOpen = true, MaxOpen = true)]
    public double? ValidPct { get; set; }

    [CommandOption("--subset <F>"), Number(0, 1, "Train on a seeded fraction F of the training data", MinOpen = true), DefaultValue(1.0)]
    public double Subset { get; set; } = 1;

    // --- images (--data folder) ---

    [CommandOption("--size <N>"), Whole(1, ImageFolderOptions.MaxSize, "Resize every image to N×N (default: the images' own size, which must then be the same for all)")]
    public long? Size { get; set; }

    [CommandOption("--resize <METHOD>"), OneOf("How --size resizes: the largest centred crop, or the whole image squished (fastai's Resize methods; default crop)", "crop", "squish")]
    public string? Resize { get; set; }

    [CommandOption("--channels <C>"), OneOf("Channels of the decoded images (default: 1 when every image is grey, else 3)", "1", "3")]
    public string? Channels { get; set; }

    [CommandOption("--skip-bad"), Description("Leave out images that cannot be decoded, listing each (default: the first is an error naming it)")]
    public bool SkipBad { get; set; }

    [CommandOption("--no-cache"), Description("Decode the images without reading or writing the decode cache")]
    public bool NoCache { get; set; }

    [CommandOption("--cache-dir <DIR>"), Output(OutputKind.Folder, "Folder of the decode cache (default $XDG_CACHE_HOME/cadence/images, else ~/.cache/cadence/images)")]
    public string? CacheDir { get; set; }

    [CommandOption("--aug [PRESET]"), OneOf("Augment the training batches: fastai (aug_transforms: flip, rotate ≤ 10°, zoom ≤ 1.1) or cifar (flip, 4-pixel reflect-padded crop); --aug alone is fastai (default: off)", "fastai", "cifar")]
    public FlagValue<string>? Aug { get; set; }

    // --- model ---

    [CommandOption("--model <NAME>"), Model("Model (default: mlp for CSV, cnn for images); resnet18 and resnet34 are torchvision's")]
    public string? Model { get; set; }

    [CommandOption("--weights <FILE>"), Description("Start from a PyTorch state dict: .pt/.pth (torch.save(model.state_dict(), f)) or .safetensors; a head for another number of classes is replaced, three-channel weights adapt to one-channel images, each said in one line; images are then normalized with ImageNet's statistics (3 channels)")]
    public string? Weights { get; set; }

    // --- optimizer ---

    [CommandOption("--bs <N>"), Whole(1, 1 << 20, "Batch size"), DefaultValue(64L)]
    public long BatchSize { get; set; } = 64;

    [CommandOption("--opt <NAME>"), OneOf("Optimizer: SGD with momentum 0.9, or AdamW", "sgd", "adamw"), DefaultValue("sgd")]
    public string Opt { get; set; } = "sgd";

    [CommandOption("--wd <X>"), Number(0, 1, "Weight decay: L2 for sgd (default 0), decoupled for adamw (default 0.01)")]
    public double? Wd { get; set; }

    // --- runtime ---

    [CommandOption("--seed <N>"), Whole(0, int.MaxValue, "Seed of the weights, the shuffling, the split and the augmentation (default 0)")]
    public long? Seed { get; set; }

    [CommandOption("--threads <N>"), Whole(1, 1024, "Torch threads (default: the number of cores)")]
    public long? Threads { get; set; }

    /// <summary>The data source as typed (<c>csv</c> and its file, …).</summary>
    public DataSource Source => DataSource.Parse(Data);

    public int ThreadCount => (int)(Threads ?? Environment.ProcessorCount);

    public long SeedValue => Seed ?? 0;

    /// <summary>The augmentation preset's name, or null when --aug is off.</summary>
    public string? AugPreset => Aug is { IsSet: true } aug ? aug.Value ?? "fastai" : null;

    /// <summary>Whether the validation split is drawn with the seed (so each seed of an experiment loads its own split).</summary>
    public bool SeededSplit => Source switch
    {
        { Kind: "csv" } => Valid is null,
        { Kind: "folder", Path: { } dir } => !ImageFolder.ValidFolderNames.Any(n => Directory.Exists(System.IO.Path.Combine(dir, n))),
        _ => false,
    };

    public virtual void Check(Check check)
    {
        var source = Source;
        bool csv = source.Kind == "csv", folder = source.Kind == "folder";
        if (csv && Target is null) check.Fail("--target", "required with --data csv (the label column)");
        if (!csv && Target is not null) check.Fail("--target", "only applies to --data csv");
        if (Valid is not null && !csv) check.Fail("--valid", "only applies to --data csv (an image folder's validation images are its valid/ folder)");
        if (Valid is not null && ValidPct is not null) check.Fail("--valid-pct", "give --valid FILE or --valid-pct, not both");
        if (ValidPct is not null && !csv && !folder) check.Fail("--valid-pct", $"only applies to --data csv or folder (--data {source.Kind} has its own test set)");
        else if (ValidPct is not null && folder && !SeededSplit) check.Fail("--valid-pct", $"{source.Path} has a validation folder ({string.Join(" or ", ImageFolder.ValidFolderNames.Select(n => n + "/"))}): the split is the folders'");
        foreach (var (given, name) in new[] { (Size is not null, "--size"), (Resize is not null, "--resize"), (Channels is not null, "--channels"), (SkipBad, "--skip-bad"), (NoCache, "--no-cache"), (CacheDir is not null, "--cache-dir") })
            if (given && !folder) check.Fail(name, $"only applies to --data folder DIR, not to --data {source.Kind}");
        if (Resize is not null && Size is null && folder) check.Fail("--resize", "needs --size N (without it the images keep their own size)");
        if (NoCache && CacheDir is not null) check.Fail("--cache-dir", "give --no-cache or --cache-dir, not both");
        if (AugPreset is not null && csv) check.Fail("--aug", "augments images; --data csv is a table");
        if (csv && Model is { } m && m != "mlp") check.Fail("--model", $"{m} needs images; --data csv is a table (use mlp)");
    }

    /// <summary>
    /// Loads the training and validation data as a run with <paramref name="seed"/> sees it (the CSV and image-folder
    /// splits and the subset are seeded), saying on <paramref name="log"/> what it found (classes, skipped images, cache).
    /// </summary>
    public LoadedData Load(long seed, DataLog log, bool subset = true)
    {
        TorchRuntime.Configure(threads: ThreadCount);   // before the first tensor: the native environment and threads
        var source = Source;
        LoadedData data;
        switch (source.Kind)
        {
            case "csv":
                CsvData csv;
                try { csv = CsvTabular.Load(source.Path!, Target!, ValidPct ?? 0.2, seed, Valid); }
                catch (DataFormatException e) when (Valid is not null && e.File == Valid) { throw new OptionIOException("--valid", e.Message, e); }
                data = new LoadedData(csv.Train, csv.Valid, csv.ClassNames, ModelCard.ForTable("", csv));
                break;
            case "folder":
                data = ImageLoading.Folder(this, source.Path!, seed, log);
                break;
            case "cifar10":
                data = ImageLoading.Cifar10(this, source.Path!, log);
                break;
            case "idx":
                data = ImageLoading.Idx(source.Path!, null);
                break;
            default:
                if (!File.Exists(System.IO.Path.Combine(IdxImages.FashionMnistDirectory, "train-images-idx3-ubyte.gz")))
                    throw new DataFormatException(IdxImages.FashionMnistDirectory,
                        "Fashion-MNIST not found (install Debian's dataset-fashion-mnist, e.g. 'make setup' as root, or pass --data idx DIR)");
                data = ImageLoading.Idx(IdxImages.FashionMnistDirectory, IdxImages.FashionMnistClasses);
                break;
        }
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
        string Full(string path) => System.IO.Path.GetFullPath(path);
        var parts = new List<KeyValuePair<string, string>>
        {
            new("data", source.Path is null ? source.Kind : $"{source.Kind}:{Full(source.Path)}"),
        };
        if (Target is not null) parts.Add(new("target", Target));
        if (Valid is not null) parts.Add(new("valid", Full(Valid)));
        else if (SeededSplit) parts.Add(new("valid-pct", NumberFormat.Exact(ValidPct ?? 0.2)));
        if (Size is not null) parts.Add(new("size", $"{Size} ({Resize ?? "crop"})"));
        if (Channels is not null) parts.Add(new("channels", Channels));
        if (SkipBad) parts.Add(new("skip-bad", "yes"));
        parts.Add(new("subset", NumberFormat.Exact(Subset)));
        if (AugPreset is { } aug) parts.Add(new("aug", aug));
        parts.Add(new("model", Model ?? "auto"));
        if (Weights is not null) parts.Add(new("weights", Full(Weights)));
        parts.Add(new("bs", BatchSize.ToString(CultureInfo.InvariantCulture)));
        parts.Add(new("opt", Opt));
        parts.Add(new("wd", Wd is { } wd ? NumberFormat.Exact(wd) : "default"));
        parts.Add(new("epochs", epochs is { } e ? e.ToString(CultureInfo.InvariantCulture) : "auto"));
        return parts;
    }
}

/// <summary>
/// Training and validation data as loaded from the command line, and the card a trained model is saved with (how its
/// inputs are prepared; its model name is filled in by <see cref="CardFor"/>).
/// </summary>
internal sealed record LoadedData(InMemoryDataset Train, InMemoryDataset Valid, IReadOnlyList<string>? ClassNames, ModelCard Card)
{
    /// <summary>The model card of <paramref name="model"/> trained on this data.</summary>
    public ModelCard CardFor(string model) => Card with { Model = model };

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
        ["folder"] = "DIR",
        ["cifar10"] = "DIR",
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
    public override string Allowed => string.Join("|", ModelZoo.AllNames);

    public override string? Problem(object value) => ModelZoo.AllNames.Contains((string)value) ? null
        : $"expected one of {string.Join(", ", ModelZoo.AllNames)}, got '{value}'{OptionNames.DidYouMean((string)value, ModelZoo.AllNames)}";
}
