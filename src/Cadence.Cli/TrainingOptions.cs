using System.Globalization;
using Cadence.Data;
using Cadence.Models;
using Cadence.Training;

namespace Cadence.Cli;

/// <summary>A command line that cannot be run as given; the CLI prints its message and exits 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Parsing of option values with messages that name the option and the allowed range.</summary>
internal static class OptionValues
{
    public static double Number(string name, string s, double min, double max, bool exclusive = false)
    {
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new UsageException($"{name}: expected a number, got '{s}'");
        bool ok = exclusive ? v > min && v < max : v >= min && v <= max;
        if (!ok) throw new UsageException(string.Create(CultureInfo.InvariantCulture,
            $"{name}: must be in {(exclusive ? "(" : "[")}{min}, {max}{(exclusive ? ")" : "]")}, got {s}"));
        return v;
    }

    public static int Integer(string name, string s, int min, int max)
    {
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new UsageException($"{name}: expected an integer, got '{s}'");
        if (v < min || v > max) throw new UsageException($"{name}: must be in [{min}, {max}], got {s}");
        return v;
    }

    /// <summary>The value after option <c>args[i]</c> (advancing <paramref name="i"/>); a missing value is a usage error.</summary>
    public static string ValueAfter(string[] args, ref int i)
    {
        if (i + 1 >= args.Length || IsOption(args[i + 1])) throw new UsageException($"{args[i]}: missing value");
        return args[++i];
    }

    /// <summary>Whether <paramref name="token"/> is an option name (<c>--x</c>) rather than a value such as <c>-1</c>.</summary>
    public static bool IsOption(string token) => token.StartsWith("--", StringComparison.Ordinal) && token.Length > 2;
}

/// <summary>
/// The data, model, optimizer and runtime options every training command shares (<c>fit</c>, <c>lr-find</c>,
/// <c>compare</c>, <c>sweep</c>): one parser, one help text, one way to build the learner.
/// </summary>
internal sealed record TrainingOptions
{
    public const string Help = """
          --data fashion-mnist | idx DIR | csv FILE   training data (default fashion-mnist)
          --target COLUMN        label column of a CSV file (required with --data csv)
          --valid-pct P          CSV validation fraction in (0, 1) (default 0.2)
          --subset F             train on a seeded fraction F in (0, 1] of the training data (default 1)
          --model mlp|cnn|resnet (default mlp for CSV, cnn for images)
          --bs N                 batch size (default 64)
          --opt sgd|adamw        optimizer (default sgd, momentum 0.9)
          --wd X                 weight decay (L2 for sgd, decoupled for adamw; default 0 / 0.01)
          --seed N               seed of weights, shuffling and split (default 0)
          --threads N            torch threads (default: number of cores)
        """;

    public string Data { get; set; } = "fashion-mnist";
    public string? DataPath { get; set; }
    public string? Target { get; set; }
    public double ValidPct { get; set; } = 0.2;
    public double Subset { get; set; } = 1;
    public string? Model { get; set; }
    public int BatchSize { get; set; } = 64;
    public string Opt { get; set; } = "sgd";
    public double? Wd { get; set; }
    public long Seed { get; set; }
    public int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Consumes <paramref name="option"/> if it is one of these options (<paramref name="next"/> reads its value);
    /// false when it belongs to the command.
    /// </summary>
    public bool TryParse(string option, Func<string> next)
    {
        switch (option)
        {
            case "--data":
                Data = next();
                if (Data is "idx" or "csv") DataPath = next();
                else if (Data != "fashion-mnist") throw new UsageException($"--data: expected fashion-mnist, idx DIR or csv FILE, got '{Data}'");
                return true;
            case "--target": Target = next(); return true;
            case "--valid-pct": ValidPct = OptionValues.Number(option, next(), 0, 1, exclusive: true); return true;
            case "--subset":
                Subset = OptionValues.Number(option, next(), 0, 1);
                if (Subset == 0) throw new UsageException("--subset: must be in (0, 1], got 0");
                return true;
            case "--model":
                Model = next();
                if (!ModelZoo.Names.Contains(Model)) throw new UsageException($"--model: expected one of {string.Join(", ", ModelZoo.Names)}, got '{Model}'");
                return true;
            case "--bs": BatchSize = OptionValues.Integer(option, next(), 1, 1 << 20); return true;
            case "--opt":
                Opt = next();
                if (Opt is not ("sgd" or "adamw")) throw new UsageException($"--opt: expected sgd or adamw, got '{Opt}'");
                return true;
            case "--wd": Wd = OptionValues.Number(option, next(), 0, 1); return true;
            case "--seed": Seed = OptionValues.Integer(option, next(), 0, int.MaxValue); return true;
            case "--threads": Threads = OptionValues.Integer(option, next(), 1, 1024); return true;
            default: return false;
        }
    }

    /// <summary>Checks the combinations a single option cannot check.</summary>
    public void Validate()
    {
        if (Data == "csv" && Target is null) throw new UsageException("--target: required with --data csv (the label column)");
        if (Data != "csv" && Target is not null) throw new UsageException("--target: only applies to --data csv");
    }

    /// <summary>Loads the training and validation data (the subset, when asked, drawn with the seed).</summary>
    public LoadedData Load()
    {
        TorchRuntime.Configure(threads: Threads);   // before the first tensor: the native environment and threads
        InMemoryDataset train, valid;
        IReadOnlyList<string>? classNames = null;
        switch (Data)
        {
            case "csv":
                var csv = CsvTabular.Load(DataPath!, Target!, ValidPct, Seed);
                (train, valid, classNames) = (csv.Train, csv.Valid, csv.ClassNames);
                break;
            case "idx":
                (train, valid) = IdxImages.Load(DataPath!);
                break;
            default:
                if (!File.Exists(Path.Combine(IdxImages.FashionMnistDirectory, "train-images-idx3-ubyte.gz")))
                    throw new DataFormatException(IdxImages.FashionMnistDirectory,
                        "Fashion-MNIST not found (install Debian's dataset-fashion-mnist, e.g. 'make setup' as root, or pass --data idx DIR)");
                (train, valid) = IdxImages.Load(IdxImages.FashionMnistDirectory);
                classNames = IdxImages.FashionMnistClasses;
                break;
        }
        if (Subset < 1)
        {
            var all = train;
            train = all.Subset(Subset, Seed);
            all.Dispose();
        }
        return new LoadedData(train, valid, classNames);
    }

    /// <summary>The built-in model's name for this data (the option, or the default for its shape).</summary>
    public string ModelName(InMemoryDataset train) => Model ?? (train.SampleShape.Length == 1 ? "mlp" : "cnn");

    /// <summary>The optimizer: SGD with momentum 0.9 (L2) or AdamW (decoupled weight decay).</summary>
    public OptimizerFactory Optimizer() =>
        Opt == "adamw" ? OptimizerFactory.AdamW(weightDecay: Wd ?? 0.01) : OptimizerFactory.Sgd(weightDecay: Wd ?? 0);

    /// <summary>
    /// Configures torch (seed, threads), builds data loaders, model and learner. The caller disposes the result.
    /// </summary>
    public TrainingRun Build(LoadedData data, IEnumerable<Callback>? callbacks = null)
    {
        TorchRuntime.Configure(seed: Seed, threads: Threads);
        var loaders = DataLoaders.From(data.Train, data.Valid, BatchSize, Seed, classNames: data.ClassNames);
        try
        {
            string modelName = ModelName(data.Train);
            var spec = ModelZoo.Create(modelName, data.Train.SampleShape, loaders.Classes);
            var learn = new Learner(spec.Model, loaders, optimizer: Optimizer(), layerGroups: spec.LayerGroups, callbacks: callbacks);
            return new TrainingRun(learn, loaders, modelName);
        }
        catch
        {
            loaders.Dispose();
            throw;
        }
    }
}

/// <summary>Training and validation data as loaded from the command line.</summary>
internal sealed record LoadedData(InMemoryDataset Train, InMemoryDataset Valid, IReadOnlyList<string>? ClassNames);

/// <summary>A learner with the loaders it owns.</summary>
internal sealed class TrainingRun(Learner learner, DataLoaders data, string modelName) : IDisposable
{
    public Learner Learner { get; } = learner;
    public DataLoaders Data { get; } = data;
    public string ModelName { get; } = modelName;

    public void Dispose()
    {
        Learner.Dispose();
        Learner.Model.Dispose();   // built here, so owned here: experiments build hundreds and must not wait for finalizers
        Data.Dispose();
    }
}
