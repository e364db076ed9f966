using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.Training;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence fit</c>: trains a built-in model on Fashion-MNIST, IDX or CSV data with fastai 0.7's <c>fit</c> options.
/// Exit codes: 0 done, 1 failure (bad data, training error), 2 usage error, 130 cancelled.
/// </summary>
internal static class FitCommand
{
    public const int Ok = 0, Failure = 1, Usage = 2, Cancelled = 130;

    public const string Help = """
        usage: cadence fit [options]
          --data fashion-mnist | idx DIR | csv FILE   training data (default fashion-mnist)
          --target COLUMN        label column of a CSV file (required with --data csv)
          --valid-pct P          CSV validation fraction in (0, 1) (default 0.2)
          --model mlp|cnn|resnet (default mlp for CSV, cnn for images)
          --bs N                 batch size (default 64)
          --opt sgd|adamw        optimizer (default sgd, momentum 0.9)
          --wd X                 weight decay (L2 for sgd, decoupled for adamw; default 0 / 0.01)
          --seed N               seed of weights, shuffling and split (default 0)
          --threads N            torch threads (default: number of cores)
          --out DIR              write history.json, metrics.csv and model.dat
          --json                 print one final JSON line (the table goes to stderr)
        checkpoints (in DIR/checkpoints; with --out, one at every epoch end and on Ctrl-C/SIGTERM):
          --checkpoint-every N   also every N iterations
          --keep K               rolling checkpoints kept (default 3)
          --cycle-save-name NAME fastai cycle_save_name: snapshot NAME_cyc_C after the last batch of each cycle
          --best-save-name NAME  fastai best_save_name: snapshot NAME whenever the first metric improves
          --resume DIR           continue the run in DIR (its newest checkpoint, or DIR itself if it is one)
                                 with its configuration; only --threads, --json, --checkpoint-every, --keep may be added
        fastai 0.7 learn.fit options:
          --lr LR[,LR…]          learning rate, or one per layer group (default 0.01)
          --cycles N             n_cycle (default 1)
          --cycle-len N          cycle_len in epochs (cosine annealing, or the CLR cycle)
          --cycle-mult N         cycle_mult (default 1)
          --use-clr DIV,CUT_DIV[,MAX_MOM,MIN_MOM]
          --use-clr-beta DIV,PCT[,MAX_MOM,MIN_MOM]
          --epochs N             without --cycle-len: the number of epochs at a constant lr; with it, must match
        """;

    private sealed class UsageException(string message) : Exception(message);

    private sealed record Options
    {
        public string Data { get; set; } = "fashion-mnist";
        public string? DataPath { get; set; }
        public string? Target { get; set; }
        public double ValidPct { get; set; } = 0.2;
        public string? Model { get; set; }
        public int BatchSize { get; set; } = 64;
        public string Opt { get; set; } = "sgd";
        public double? Wd { get; set; }
        public long Seed { get; set; }
        public int Threads { get; set; } = Environment.ProcessorCount;
        public string? Out { get; set; }
        public bool Json { get; set; }
        public double[] Lr { get; set; } = [0.01];
        public int Cycles { get; set; } = 1;
        public int? CycleLen { get; set; }
        public int CycleMult { get; set; } = 1;
        public UseClr? UseClr { get; set; }
        public UseClrBeta? UseClrBeta { get; set; }
        public int? Epochs { get; set; }
        public bool CyclesGiven { get; set; }
        public long? CheckpointEvery { get; set; }
        public int Keep { get; set; } = 3;
        public string? CycleSaveName { get; set; }
        public string? BestSaveName { get; set; }
    }

    /// <summary>Options a resumed run may add or change: they do not change what is computed (--threads only its rounding).</summary>
    private static readonly string[] ResumeOptions = ["--threads", "--json", "--checkpoint-every", "--keep"];

    /// <summary>Runs <c>cadence fit</c>; <paramref name="args"/> are the arguments after <c>fit</c>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        Options o;
        try
        {
            if (args.Contains("--help") || args.Contains("-h")) { stdout.WriteLine(Help); return Ok; }
            if (args.Contains("--resume")) return Resume(args, stdout, stderr, ct);
            o = Parse(args);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"cadence fit: {e.Message}");
            return Usage;
        }
        return Guarded(() => Train(o, ConfigurationOf(args, o), null, stdout, stderr, ct), stderr);
    }

    private static int Guarded(Func<int> run, TextWriter stderr)
    {
        try
        {
            return run();
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"cadence fit: {e.Message}");
            return Usage;
        }
        catch (ScheduleValidationException e)
        {
            stderr.WriteLine($"cadence fit: {OneLine(e.Message)}");
            return Usage;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("cadence fit: cancelled");
            return Cancelled;
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"cadence fit: {e.Message}");
            return Failure;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException
                                       or DllNotFoundException or TypeInitializationException or System.Runtime.InteropServices.ExternalException)
        {
            stderr.WriteLine($"cadence fit: {OneLine(e.Message)}");
            if (e is DllNotFoundException or TypeInitializationException)
                stderr.WriteLine("cadence fit: TorchSharp's native library did not load; on Debian 12 run 'make setup' as root (libstdc++ with GLIBCXX_3.4.32 is needed)");
            return Failure;
        }
    }

    private static string OneLine(string s) => s.Replace("\r", " ", StringComparison.Ordinal).Replace("\n", "; ", StringComparison.Ordinal);

    private static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next()
            {
                if (i + 1 >= args.Length || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                    throw new UsageException($"{a}: missing value");
                return args[++i];
            }
            switch (a)
            {
                case "--data":
                    o.Data = Next();
                    if (o.Data is "idx" or "csv") o.DataPath = Next();
                    else if (o.Data != "fashion-mnist") throw new UsageException($"--data: expected fashion-mnist, idx DIR or csv FILE, got '{o.Data}'");
                    break;
                case "--target": o.Target = Next(); break;
                case "--valid-pct": o.ValidPct = Dbl(a, Next(), 0, 1, exclusive: true); break;
                case "--model":
                    o.Model = Next();
                    if (!ModelZoo.Names.Contains(o.Model)) throw new UsageException($"--model: expected one of {string.Join(", ", ModelZoo.Names)}, got '{o.Model}'");
                    break;
                case "--bs": o.BatchSize = Int(a, Next(), 1, 1 << 20); break;
                case "--opt":
                    o.Opt = Next();
                    if (o.Opt is not ("sgd" or "adamw")) throw new UsageException($"--opt: expected sgd or adamw, got '{o.Opt}'");
                    break;
                case "--wd": o.Wd = Dbl(a, Next(), 0, 1); break;
                case "--seed": o.Seed = Int(a, Next(), 0, int.MaxValue); break;
                case "--threads": o.Threads = Int(a, Next(), 1, 1024); break;
                case "--out": o.Out = Next(); break;
                case "--json": o.Json = true; break;
                case "--lr":
                    o.Lr = Next().Split(',').Select(s => Dbl(a, s, 0, 100, exclusive: true)).ToArray();
                    break;
                case "--cycles": o.Cycles = Int(a, Next(), 1, 10_000); o.CyclesGiven = true; break;
                case "--cycle-len": o.CycleLen = Int(a, Next(), 1, 10_000); break;
                case "--cycle-mult": o.CycleMult = Int(a, Next(), 1, 100); break;
                case "--use-clr":
                    {
                        var v = List(a, Next(), "DIV,CUT_DIV[,MAX_MOM,MIN_MOM]");
                        o.UseClr = new UseClr(v[0], v[1], v.Length > 2 ? v[2] : null, v.Length > 2 ? v[3] : null);
                        break;
                    }
                case "--use-clr-beta":
                    {
                        var v = List(a, Next(), "DIV,PCT[,MAX_MOM,MIN_MOM]");
                        o.UseClrBeta = new UseClrBeta(v[0], v[1], v.Length > 2 ? v[2] : null, v.Length > 2 ? v[3] : null);
                        break;
                    }
                case "--epochs": o.Epochs = Int(a, Next(), 1, 100_000); break;
                case "--checkpoint-every": o.CheckpointEvery = Int(a, Next(), 1, int.MaxValue); break;
                case "--keep": o.Keep = Int(a, Next(), 1, 1000); break;
                case "--cycle-save-name": o.CycleSaveName = SnapshotName(a, Next()); break;
                case "--best-save-name": o.BestSaveName = SnapshotName(a, Next()); break;
                case "--schedule":
                    // HOOK (--schedule POLICY …): to be wired to the shared policy parser of `cadence schedule`,
                    // then trained with Learner.Fit(schedule, epochs) where --epochs sets the length.
                    throw new UsageException("--schedule: not available yet in this build; use the fastai options (--lr, --cycle-len, --use-clr …)");
                default:
                    throw new UsageException($"unknown option '{a}' (see cadence fit --help)");
            }
        }
        if (o.Data == "csv" && o.Target is null) throw new UsageException("--target: required with --data csv (the label column)");
        if (o.Data != "csv" && o.Target is not null) throw new UsageException("--target: only applies to --data csv");
        if (o.UseClr is not null && o.UseClrBeta is not null) throw new UsageException("--use-clr and --use-clr-beta: give one, not both");
        if ((o.UseClr is not null || o.UseClrBeta is not null) && o.CycleLen is null)
            throw new UsageException($"--cycle-len: required with {(o.UseClr is not null ? "--use-clr" : "--use-clr-beta")} (it sets the length of a cycle)");
        foreach (var (given, name) in new[] { (o.CheckpointEvery is not null, "--checkpoint-every"), (o.CycleSaveName is not null, "--cycle-save-name"), (o.BestSaveName is not null, "--best-save-name") })
            if (given && o.Out is null) throw new UsageException($"{name}: needs --out DIR (checkpoints go to DIR/checkpoints)");
        if (o.CycleSaveName is not null && o.CycleLen is null) throw new UsageException("--cycle-save-name: needs --cycle-len (there are no cycles without it)");
        if (o.Epochs is { } e)
        {
            if (o.CycleLen is null && !o.CyclesGiven) o.Cycles = e;
            else if (FastAi07.Epochs(o.Cycles, o.CycleLen, o.CycleMult) != e)
                throw new UsageException($"--epochs: the fit options give {FastAi07.Epochs(o.Cycles, o.CycleLen, o.CycleMult)} epochs (cycles × cycle-len, geometric with cycle-mult), not {e}");
        }
        return o;
    }

    private static string SnapshotName(string option, string name)
    {
        if (name.Length == 0 || name.Length > 100 || name.StartsWith('.') || name.StartsWith("ckpt-", StringComparison.Ordinal)
            || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new UsageException($"{option}: expected a name of letters, digits, '-', '_' and '.' (not starting with '.' or 'ckpt-'), got '{name}'");
        return name;
    }

    /// <summary>What a checkpoint stores to rerun this command: its arguments (paths made absolute) and the thread count.</summary>
    private static string ConfigurationOf(string[] args, Options o)
    {
        var saved = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            saved.Add(args[i]);
            if (args[i] == "--out" && i + 1 < args.Length) saved.Add(Path.GetFullPath(args[++i]));
            else if (args[i] == "--data" && i + 2 < args.Length && args[i + 1] is "csv" or "idx") { saved.Add(args[++i]); saved.Add(Path.GetFullPath(args[++i])); }
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartArray("args");
            foreach (var a in saved) w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteNumber("threads", o.Threads);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>The arguments as groups: an option and the values after it.</summary>
    private static List<string[]> Groups(IEnumerable<string> args)
    {
        var groups = new List<List<string>>();
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2 || groups.Count == 0) groups.Add([a]);
            else groups[^1].Add(a);
        }
        return groups.Select(g => g.ToArray()).ToList();
    }

    /// <summary>The options that decide what is computed, as text (two runs with equal keys compute the same thing).</summary>
    private static string TrainingKey(Options o) =>
        JsonSerializer.Serialize(o with { Threads = 0, Json = false, Out = null, CheckpointEvery = null, Keep = 0 });

    /// <summary><c>cadence fit --resume DIR [--threads N] [--json] [--checkpoint-every N] [--keep K]</c>.</summary>
    private static int Resume(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct) => Guarded(() =>
    {
        var groups = Groups(args);
        var resume = groups.Where(g => g[0] == "--resume").ToArray();
        if (resume.Length != 1 || resume[0].Length != 2) throw new UsageException("--resume: expected one directory (--resume DIR)");
        string path = Checkpoint.Locate(resume[0][1]);
        var info = Checkpoint.ReadInfo(path);
        if (info.Configuration is null) throw new UsageException($"--resume: {path} has no cadence fit configuration (it was written by a program, not by cadence fit)");
        string[] saved;
        int threads;
        using (var doc = JsonDocument.Parse(info.Configuration))
        {
            saved = doc.RootElement.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray();
            threads = doc.RootElement.GetProperty("threads").GetInt32();
        }
        string parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string runDir = Path.GetFileName(parent) == Checkpoint.DirectoryName ? Path.GetDirectoryName(parent)! : parent;
        var baseline = Parse(saved);
        var extra = new List<string> { "--threads", threads.ToString(CultureInfo.InvariantCulture) };
        var conflicts = new List<string>();
        var savedGroups = Groups(saved);
        foreach (var g in groups.Where(g => g[0] != "--resume"))
        {
            if (ResumeOptions.Contains(g[0])) { extra.AddRange(g); continue; }
            if (g[0] == "--out")
            {
                if (g.Length != 2 || Path.GetFullPath(g[1]).TrimEnd('/') != runDir.TrimEnd('/'))
                    conflicts.Add($"{string.Join(' ', g)}: a resumed run writes into the directory it resumes ({runDir})");
                continue;
            }
            if (TrainingKey(Parse([.. saved, .. g])) != TrainingKey(baseline))
            {
                var was = savedGroups.LastOrDefault(s => s[0] == g[0]);
                conflicts.Add($"{string.Join(' ', g)}: the checkpoint's run used {(was is null ? "the default" : string.Join(' ', was))}");
            }
        }
        if (conflicts.Count > 0)
            throw new UsageException($"--resume: {string.Join("; ", conflicts)}; a resumed run keeps the configuration it started with (drop the option, or start a new run)");
        var o = Parse([.. saved, .. extra]);
        o.Out = runDir;
        var p = info.Position;
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cadence fit: resuming {path} at iteration {p.Iteration} (epoch {p.Epoch + 1}, {(p.EpochEnded ? "ended" : $"{p.BatchesDone} batches done")})"));
        return Train(o, info.Configuration, path, stdout, stderr, ct);
    }, stderr);

    private static double[] List(string name, string value, string form)
    {
        var parts = value.Split(',');
        if (parts.Length is not (2 or 4)) throw new UsageException($"{name}: expected {form}, got '{value}'");
        return parts.Select(p => Dbl(name, p, 0, 1e6)).ToArray();
    }

    private static double Dbl(string name, string s, double min, double max, bool exclusive = false)
    {
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new UsageException($"{name}: expected a number, got '{s}'");
        bool ok = exclusive ? v > min && v < max : v >= min && v <= max;
        if (!ok) throw new UsageException(string.Create(CultureInfo.InvariantCulture,
            $"{name}: must be in {(exclusive ? "(" : "[")}{min}, {max}{(exclusive ? ")" : "]")}, got {s}"));
        return v;
    }

    private static int Int(string name, string s, int min, int max)
    {
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new UsageException($"{name}: expected an integer, got '{s}'");
        if (v < min || v > max) throw new UsageException($"{name}: must be in [{min}, {max}], got {s}");
        return v;
    }

    private static int Train(Options o, string configuration, string? resumeFrom, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        TorchRuntime.Configure(seed: o.Seed, threads: o.Threads);
        var table = o.Json ? stderr : stdout;
        InMemoryDataset train, valid;
        IReadOnlyList<string>? classNames = null;
        switch (o.Data)
        {
            case "csv":
                var csv = CsvTabular.Load(o.DataPath!, o.Target!, o.ValidPct, o.Seed);
                (train, valid, classNames) = (csv.Train, csv.Valid, csv.ClassNames);
                break;
            case "idx":
                (train, valid) = IdxImages.Load(o.DataPath!);
                break;
            default:
                if (!File.Exists(Path.Combine(IdxImages.FashionMnistDirectory, "train-images-idx3-ubyte.gz")))
                    throw new DataFormatException(IdxImages.FashionMnistDirectory,
                        "Fashion-MNIST not found (install Debian's dataset-fashion-mnist, e.g. 'make setup' as root, or pass --data idx DIR)");
                (train, valid) = IdxImages.Load(IdxImages.FashionMnistDirectory);
                classNames = IdxImages.FashionMnistClasses;
                break;
        }
        using var data = DataLoaders.From(train, valid, o.BatchSize, o.Seed, classNames: classNames);
        string modelName = o.Model ?? (train.SampleShape.Length == 1 ? "mlp" : "cnn");
        var spec = ModelZoo.Create(modelName, train.SampleShape, data.Classes);
        if (o.Lr.Length != 1 && o.Lr.Length != spec.LayerGroups.Count)
            throw new UsageException($"--lr: give one learning rate or {spec.LayerGroups.Count} (one per layer group of {modelName}), got {o.Lr.Length}");
        OptimizerFactory opt = o.Opt == "adamw" ? OptimizerFactory.AdamW(weightDecay: o.Wd ?? 0.01) : OptimizerFactory.Sgd(weightDecay: o.Wd ?? 0);
        var callbacks = new List<Callback> { new NanGuard() };
        CheckpointCallback? checkpoints = null;
        if (o.Out is not null)
        {
            Directory.CreateDirectory(o.Out);
            callbacks.Add(new CsvLogger(Path.Combine(o.Out, "metrics.csv")));
            callbacks.Add(checkpoints = new CheckpointCallback(new CheckpointOptions
            {
                Directory = Path.Combine(o.Out, Checkpoint.DirectoryName),
                EveryIterations = o.CheckpointEvery ?? 0,
                Keep = o.Keep,
                CycleSaveName = o.CycleSaveName,
                BestSaveName = o.BestSaveName,
                Configuration = configuration,
                CycleEnds = CheckpointOptions.FastAi07CycleEnds(data.Train.BatchCount, o.Cycles, o.CycleLen, o.CycleMult, o.UseClr is not null || o.UseClrBeta is not null),
            }));
        }
        using var learn = new Learner(spec.Model, data, optimizer: opt, layerGroups: spec.LayerGroups, callbacks: callbacks);
        var schedule = FastAi07.Fit(o.Lr, data.Train.BatchCount, o.Cycles, o.CycleLen, o.CycleMult, o.UseClr, o.UseClrBeta);
        int epochs = (int)FastAi07.Epochs(o.Cycles, o.CycleLen, o.CycleMult);
        var report = new ProgressReport(table, stderr, learn.Metrics.Select(m => m.Name).ToArray(), liveLine: !Console.IsErrorRedirected);
        learn.Progress = report;
        report.Header();
        var clock = Stopwatch.StartNew();
        FitResult result;
        try
        {
            result = resumeFrom is null ? learn.Fit(schedule, epochs, ct) : Checkpoint.Resume(learn, resumeFrom, schedule, epochs, ct);
        }
        catch (OperationCanceledException) when (checkpoints?.LastRolling is { } last)
        {
            report.Done();
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cadence fit: interrupted at iteration {learn.Iteration}; checkpoint {last}"));
            stderr.WriteLine($"cadence fit: resume with: cadence fit --resume {o.Out}");
            return Cancelled;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        report.Done();
        if (result.StopReason is not null) stderr.WriteLine($"cadence fit: stopped early: {result.StopReason}");
        if (result.StopReason is not null && checkpoints is not null)
            stderr.WriteLine(checkpoints.LastRolling is { } good
                ? $"cadence fit: the last good checkpoint is {good}"
                : "cadence fit: no checkpoint was written before the stop");
        if (o.Out is not null)
        {
            WriteHistory(Path.Combine(o.Out, "history.json"), learn, schedule, modelName);
            learn.Save(Path.Combine(o.Out, "model.dat"));
        }
        double trainImages = (double)result.Iterations * o.BatchSize;
        trainImages = Math.Min(trainImages, (double)result.Epochs * train.Count);
        if (o.Json)
        {
            using var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                w.WriteStartObject();
                w.WriteNumber("epochs", result.Epochs);
                w.WriteNumber("iterations", result.Iterations);
                Num(w, "train_loss", result.TrainLoss);
                Num(w, "valid_loss", result.ValidLoss);
                Num(w, "accuracy", result.Metrics.TryGetValue("accuracy", out var acc) ? acc : double.NaN);
                w.WriteNumber("seconds", Math.Round(seconds, 3));
                w.WriteNumber("images_per_second", Math.Round(trainImages / seconds, 1));
                w.WriteEndObject();
            }
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
        }
        return result.StopReason is null ? Ok : Failure;
    }

    private static void Num(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    private static void WriteHistory(string path, Learner learn, Schedule schedule, string model)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("model", model);
        w.WriteString("schedule", schedule.Reference);
        w.WriteStartArray("metrics");
        foreach (var m in learn.Recorder.MetricNames) w.WriteStringValue(m);
        w.WriteEndArray();
        w.WriteStartArray("epochs");
        foreach (var e in learn.Recorder.Epochs)
        {
            w.WriteStartObject();
            w.WriteNumber("epoch", e.Epoch + 1);
            Num(w, "train_loss", e.TrainLoss);
            Num(w, "valid_loss", e.ValidLoss);
            for (int i = 0; i < e.Metrics.Count && i < learn.Recorder.MetricNames.Count; i++) Num(w, learn.Recorder.MetricNames[i], e.Metrics[i]);
            w.WriteNumber("seconds", e.Seconds);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("steps");
        foreach (var s in learn.Recorder.Steps)
        {
            w.WriteStartObject();
            w.WriteNumber("step", s.Step);
            w.WriteNumber("epoch", s.Epoch + 1);
            Num(w, "loss", s.Loss);
            Num(w, "smooth_loss", s.SmoothLoss);
            w.WriteStartArray("lr");
            foreach (var v in s.Lr) { if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue(); }
            w.WriteEndArray();
            w.WriteStartArray("momentum");
            foreach (var v in s.Momentum) { if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue(); }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Synchronous progress: a live line on stderr (when it is a terminal, else every 10%) and fastai's epoch table.</summary>
    private sealed class ProgressReport(TextWriter table, TextWriter live, string[] metrics, bool liveLine) : IProgress<FitProgress>
    {
        private readonly Stopwatch _throttle = Stopwatch.StartNew();
        private long _lastTenth = -1;
        private bool _lineOpen;

        public void Header() =>
            table.WriteLine(string.Join("  ", new[] { "epoch", "train_loss", "valid_loss" }.Concat(metrics).Append("time").Select(h => h.PadRight(10))).TrimEnd());

        public void Report(FitProgress p)
        {
            if (p.Finished is { } e)
            {
                ClearLine();
                var cells = new List<string> { (e.Epoch + 1).ToString(CultureInfo.InvariantCulture), F(e.TrainLoss), F(e.ValidLoss) };
                cells.AddRange(e.Metrics.Select(F));
                var t = TimeSpan.FromSeconds(e.Seconds);
                cells.Add($"{(int)t.TotalMinutes:00}:{t.Seconds:00}");
                table.WriteLine(string.Join("  ", cells.Select(c => c.PadRight(10))).TrimEnd());
                table.Flush();
                _lastTenth = -1;
                return;
            }
            string text = string.Create(CultureInfo.InvariantCulture,
                $"epoch {p.Epoch + 1}/{p.Epochs}  batch {p.Batch}/{p.Batches}  loss {p.SmoothLoss:F4}  lr {p.Lr:G4}");
            if (liveLine)
            {
                if (_throttle.ElapsedMilliseconds < 250 && p.Batch != p.Batches) return;
                _throttle.Restart();
                live.Write("\r" + text.PadRight(70));
                live.Flush();
                _lineOpen = true;
            }
            else
            {
                long tenth = p.Batch * 10 / p.Batches;
                if (tenth == _lastTenth || tenth == 10) return;
                _lastTenth = tenth;
                if (tenth > 0) { live.WriteLine(text); live.Flush(); }
            }
        }

        public void Done() => ClearLine();

        private void ClearLine()
        {
            if (!_lineOpen) return;
            live.Write("\r" + new string(' ', 70) + "\r");
            live.Flush();
            _lineOpen = false;
        }

        private static string F(double v) => double.IsFinite(v) ? v.ToString("F6", CultureInfo.InvariantCulture) : "nan";
    }
}
