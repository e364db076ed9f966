using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.Training;
using Spectre.Console;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence fit</c>: trains a built-in model on Fashion-MNIST, IDX or CSV data with fastai 0.7's <c>fit</c> options.
/// Exit codes: 0 done, 1 failure (bad data, training error), 2 usage error, 130 cancelled.
/// </summary>
internal static partial class FitCommand
{
    public const int Ok = 0, Failure = 1, Usage = 2, Cancelled = 130;

    public const string Help = """
        usage: cadence fit [options] [fastai fit options | --schedule POLICY [policy options]]
        """ + "\n" + TrainingOptions.Help + "\n" + """
          --out DIR              write history.json, metrics.csv and model.dat
          --json                 print one final JSON line (the table goes to stderr)
          --tensorboard DIR      write TensorBoard event files (loss, lr and momentum per group, metrics)
          --report FILE.html     write a self-contained HTML report (configuration, schedule, epochs, charts)
          --plots DIR            write lr.png, loss.png and metrics.png into DIR
        checkpoints (in DIR/checkpoints; with --out, one at every epoch end and on Ctrl-C/SIGTERM):
          --checkpoint-every N   also every N iterations
          --keep K               rolling checkpoints kept (default 3)
          --cycle-save-name NAME fastai cycle_save_name: snapshot NAME_cyc_C after the last batch of each cycle
          --best-save-name NAME  fastai best_save_name: snapshot NAME whenever the first metric improves
          --resume DIR           continue the run in DIR (its newest checkpoint, or DIR itself if it is one)
                                 with its configuration; only --threads, --json, --checkpoint-every, --keep,
                                 --tensorboard, --report and --plots may be added
          --epochs N             epochs to train (with --schedule: sets the schedule's length)
        fastai 0.7 learn.fit options:
          --lr LR[,LR…]|auto     learning rate, or one per layer group (default 0.01); auto: run an LR range test
                                 first and take its valley suggestion (also for a policy's --lr, --max-lr, --lr-max)
          --cycles N             n_cycle (default 1)
          --cycle-len N          cycle_len in epochs (cosine annealing, or the CLR cycle)
          --cycle-mult N         cycle_mult (default 1)
          --use-clr DIV,CUT_DIV[,MAX_MOM,MIN_MOM]
          --use-clr-beta DIV,PCT[,MAX_MOM,MIN_MOM]
          (--epochs N: without --cycle-len, the number of epochs at a constant lr; with it, must match)
        any policy of `cadence schedule` (see `cadence policies`):
          --schedule POLICY      then exactly the options `cadence schedule POLICY` takes; the data fills
                                 --batches-per-epoch, --steps-per-epoch and, from --epochs, --epochs and
                                 --total-steps unless given, e.g.
                                 cadence fit --epochs 3 --schedule one-cycle --max-lr 0.1
        """;

    private sealed record Options
    {
        public TrainingOptions Training { get; init; } = new();
        public string? Out { get; set; }
        public bool Json { get; set; }
        public string? TensorBoard { get; set; }
        public string? Report { get; set; }
        public string? Plots { get; set; }
        public long? CheckpointEvery { get; set; }
        public int Keep { get; set; } = 3;
        public string? CycleSaveName { get; set; }
        public string? BestSaveName { get; set; }
        public double[] Lr { get; set; } = [0.01];
        public bool LrAuto { get; set; }
        public int Cycles { get; set; } = 1;
        public int? CycleLen { get; set; }
        public int CycleMult { get; set; } = 1;
        public UseClr? UseClr { get; set; }
        public UseClrBeta? UseClrBeta { get; set; }
        public int? Epochs { get; set; }
        public bool CyclesGiven { get; set; }
        /// <summary>The first fastai fit option given (they and --schedule exclude each other).</summary>
        public string? FitOptionGiven { get; set; }
        public string? Policy { get; set; }
        public Dictionary<string, string> PolicyOptions { get; set; } = [];
    }

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
            stderr.WriteLine($"cadence fit: {string.Join("; ", e.Errors.Select(x => $"{Cli.Usage.Option(x.Parameter)}: {x.Message}"))}");
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
        var policyTokens = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => OptionValues.ValueAfter(args, ref i);
            if (o.Training.TryParse(a, Next)) continue;
            switch (a)
            {
                case "--out": o.Out = Next(); continue;
                case "--json": o.Json = true; continue;
                case "--tensorboard": o.TensorBoard = Next(); continue;
                case "--report": o.Report = OutputFile(a, Next()); continue;
                case "--plots": o.Plots = Next(); continue;
                case "--checkpoint-every": o.CheckpointEvery = OptionValues.Integer(a, Next(), 1, int.MaxValue); continue;
                case "--keep": o.Keep = OptionValues.Integer(a, Next(), 1, 1000); continue;
                case "--cycle-save-name": o.CycleSaveName = SnapshotName(a, Next()); continue;
                case "--best-save-name": o.BestSaveName = SnapshotName(a, Next()); continue;
                case "--epochs": o.Epochs = OptionValues.Integer(a, Next(), 1, 100_000); continue;
                case "--schedule":
                    if (o.Policy is not null) throw new UsageException("--schedule: given twice");
                    if (o.FitOptionGiven is { } f)
                        throw new UsageException($"--schedule: give either the fastai fit options ({f} …) or --schedule POLICY with its own options, not both");
                    o.Policy = Next();
                    continue;
            }
            if (o.Policy is not null)
            {
                // After --schedule POLICY every other option is the policy's, exactly as `cadence schedule` reads it.
                policyTokens.Add(a);
                if (!a.Contains('=', StringComparison.Ordinal) && i + 1 < args.Length && !IsOptionName(args[i + 1])) policyTokens.Add(args[++i]);
                continue;
            }
            o.FitOptionGiven ??= a;
            switch (a)
            {
                case "--lr":
                    string lr = Next();
                    o.LrAuto = lr == "auto";
                    if (!o.LrAuto) o.Lr = lr.Split(',').Select(s => OptionValues.Number(a, s, 0, 100, exclusive: true)).ToArray();
                    break;
                case "--cycles": o.Cycles = OptionValues.Integer(a, Next(), 1, 10_000); o.CyclesGiven = true; break;
                case "--cycle-len": o.CycleLen = OptionValues.Integer(a, Next(), 1, 10_000); break;
                case "--cycle-mult": o.CycleMult = OptionValues.Integer(a, Next(), 1, 100); break;
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
                default:
                    throw new UsageException($"unknown option '{a}' (see cadence fit --help)");
            }
        }
        o.Training.Validate();
        foreach (var (given, name) in new[] { (o.CheckpointEvery is not null, "--checkpoint-every"), (o.CycleSaveName is not null, "--cycle-save-name"), (o.BestSaveName is not null, "--best-save-name") })
            if (given && o.Out is null) throw new UsageException($"{name}: needs --out DIR (checkpoints go to DIR/checkpoints)");
        if (o.CycleSaveName is not null && o.CycleLen is null)
            throw new UsageException("--cycle-save-name: needs the fastai fit options with --cycle-len (there are no cycles without it)");
        if (o.Policy is not null)
        {
            ParsePolicy(o, policyTokens);
            return o;
        }
        if (o.UseClr is not null && o.UseClrBeta is not null) throw new UsageException("--use-clr and --use-clr-beta: give one, not both");
        if ((o.UseClr is not null || o.UseClrBeta is not null) && o.CycleLen is null)
            throw new UsageException($"--cycle-len: required with {(o.UseClr is not null ? "--use-clr" : "--use-clr-beta")} (it sets the length of a cycle)");
        if (o.Epochs is { } e)
        {
            if (o.CycleLen is null && !o.CyclesGiven) o.Cycles = e;
            else if (FastAi07.Epochs(o.Cycles, o.CycleLen, o.CycleMult) != e)
                throw new UsageException($"--epochs: the fit options give {FastAi07.Epochs(o.Cycles, o.CycleLen, o.CycleMult)} epochs (cycles × cycle-len, geometric with cycle-mult), not {e}");
        }
        return o;
    }

    private static bool IsOptionName(string token) => OptionValues.IsOption(token) && char.IsLetter(token[2]);

    /// <summary>Checks the policy and its option names before any data is loaded; values are checked by the catalog.</summary>
    private static void ParsePolicy(Options o, List<string> tokens)
    {
        PolicySpec spec;
        try
        {
            spec = PolicyCatalog.Find(o.Policy!);
            o.PolicyOptions = PolicyCatalog.ParseTokens(tokens);
        }
        catch (ScheduleValidationException e)
        {
            throw new UsageException(string.Join("; ", e.Errors.Select(x => x.Parameter == "policy" ? $"--schedule: {x.Message}" : $"{Cli.Usage.Option(x.Parameter)}: {x.Message}")));
        }
        foreach (var key in o.PolicyOptions.Keys)
            if (!spec.Options.Any(p => p.Name == key) && !PolicyCatalog.Common.Any(p => p.Name == key))
                throw new UsageException($"--{key}: is not an option of cadence fit or of policy {spec.Name} (its options: {string.Join(", ", spec.Options.Select(p => "--" + p.Name))})");
        if (o.PolicyOptions.ContainsKey("iterations"))
            throw new UsageException("--iterations: the fit's length comes from --epochs and the data; drop --iterations");
    }

    /// <summary>Builds the --schedule policy for this data (see <see cref="PolicySchedules.Build"/>).</summary>
    private static (Schedule Schedule, int Epochs) PolicySchedule(Options o, long batchesPerEpoch) =>
        PolicySchedules.Build(o.Policy!, o.PolicyOptions, o.Epochs, batchesPerEpoch, $"--schedule {o.Policy}");

    private static double[] List(string name, string value, string form)
    {
        var parts = value.Split(',');
        if (parts.Length is not (2 or 4)) throw new UsageException($"{name}: expected {form}, got '{value}'");
        return parts.Select(p => OptionValues.Number(name, p, 0, 1e6)).ToArray();
    }

    private static int Train(Options o, string configuration, string? resumeFrom, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var table = o.Json ? stderr : stdout;
        var loaded = o.Training.Load();
        var callbacks = new List<Callback> { new NanGuard() };
        if (o.Out is not null)
        {
            Directory.CreateDirectory(o.Out);
            callbacks.Add(new CsvLogger(Path.Combine(o.Out, "metrics.csv")));
        }
        if (o.TensorBoard is not null) callbacks.Add(new TensorBoardLogger(o.TensorBoard));
        using var run = o.Training.Build(loaded, callbacks);
        var learn = run.Learner;
        string modelName = run.ModelName;
        long bpe = run.Data.Train.BatchCount;
        Schedule schedule;
        int epochs;
        CheckpointCallback? checkpoints = null;
        if (o.Out is not null)
        {
            learn.Add(checkpoints = new CheckpointCallback(new CheckpointOptions
            {
                Directory = Path.Combine(o.Out, Checkpoint.DirectoryName),
                EveryIterations = o.CheckpointEvery ?? 0,
                Keep = o.Keep,
                CycleSaveName = o.CycleSaveName,
                BestSaveName = o.BestSaveName,
                Configuration = configuration,
                CycleEnds = CheckpointOptions.FastAi07CycleEnds(bpe, o.Cycles, o.CycleLen, o.CycleMult, o.UseClr is not null || o.UseClrBeta is not null),
            }));
        }
        if (o.LrAuto || o.PolicyOptions.ContainsValue("auto")) LrAuto.Resolve(o.PolicyOptions, lr => o.Lr = [lr], learn, stderr, ct);
        if (o.Policy is not null)
        {
            (schedule, epochs) = PolicySchedule(o, bpe);
            if (schedule.Groups != 1 && schedule.Groups != learn.LayerGroups.Count)
                throw new UsageException($"--schedule: the policy has {schedule.Groups} learning rates but {modelName} has {learn.LayerGroups.Count} layer groups; give one, or one per group");
        }
        else
        {
            if (o.Lr.Length != 1 && o.Lr.Length != learn.LayerGroups.Count)
                throw new UsageException($"--lr: give one learning rate or {learn.LayerGroups.Count} (one per layer group of {modelName}), got {o.Lr.Length}");
            schedule = FastAi07.Fit(o.Lr, bpe, o.Cycles, o.CycleLen, o.CycleMult, o.UseClr, o.UseClrBeta);
            epochs = (int)FastAi07.Epochs(o.Cycles, o.CycleLen, o.CycleMult);
        }
        var metrics = learn.Metrics.Select(m => m.Name).ToArray();
        var clock = Stopwatch.StartNew();
        FitResult Fit(IProgress<FitProgress> progress)
        {
            learn.Progress = progress;
            return resumeFrom is null ? learn.Fit(schedule, epochs, ct) : Checkpoint.Resume(learn, resumeFrom, schedule, epochs, ct);
        }
        // The live bar only when a person watches: stderr is this process's terminal (not a test's writer).
        bool live = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && (o.Json || !Console.IsOutputRedirected);
        FitResult result;
        try
        {
            result = live
                ? FitProgressDisplay.Live(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }), metrics, epochs * bpe, Fit)
                : FitProgressDisplay.Plain(table, stderr, metrics, Fit);
        }
        catch (OperationCanceledException) when (checkpoints?.LastRolling is { } last)
        {
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cadence fit: interrupted at iteration {learn.Iteration}; checkpoint {last}"));
            stderr.WriteLine($"cadence fit: resume with: cadence fit --resume {o.Out}");
            return Cancelled;
        }
        double seconds = clock.Elapsed.TotalSeconds;
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
        WriteCharts(o, learn, schedule, modelName, o.Json ? null : stdout);
        double trainImages = (double)result.Iterations * o.Training.BatchSize;
        trainImages = Math.Min(trainImages, (double)result.Epochs * loaded.Train.Count);
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
}
