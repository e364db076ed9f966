using System.Diagnostics;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Cli.Training;
using Cadence.Plots;
using Cadence.Training;
using Spectre.Console;

namespace Cadence.Cli.Commands;

internal sealed partial class FitSettings : TrainingSettings, IPolicySettings
{
    [CommandOption("--epochs <N>"), Whole(1, 100_000, "Epochs to train (default: the schedule's own length; with the fit options and no --cycle-len, epochs at a constant lr)")]
    public long? Epochs { get; set; }

    [CommandOption("--schedule <POLICY>"), Description("The policy; its options follow as for 'cadence schedule POLICY'. The fastai fit options (--lr --cycles --cycle-len --cycle-mult --use-clr --use-clr-beta) are --schedule fit's"), DefaultValue("fit")]
    public string Schedule { get; set; } = "fit";

    [CommandOption("--out <DIR>"), Output(OutputKind.Folder, "Write history.json, metrics.csv, model.dat and checkpoints/ into DIR")]
    public string? Out { get; set; }

    [CommandOption("--tensorboard <DIR>"), Output(OutputKind.Folder, "Write TensorBoard event files (loss, lr and momentum per group, metrics) into DIR")]
    public string? TensorBoard { get; set; }

    [CommandOption("--report <FILE>"), Output(OutputKind.File, "Write a self-contained HTML report (configuration, schedule, epochs, charts)", ".html")]
    public string? Report { get; set; }

    [CommandOption("--checkpoint-every <N>"), Whole(1, int.MaxValue, "Also checkpoint every N iterations (with --out; one at every epoch end and on Ctrl-C/SIGTERM)")]
    public long? CheckpointEvery { get; set; }

    [CommandOption("--keep <K>"), Whole(1, 1000, "Rolling checkpoints kept"), DefaultValue(3L)]
    public long Keep { get; set; } = 3;

    [CommandOption("--cycle-save-name <NAME>"), FileName("fastai cycle_save_name: snapshot NAME_cyc_C after the last batch of each cycle (with --out and --cycle-len)")]
    public string? CycleSaveName { get; set; }

    [CommandOption("--best-save-name <NAME>"), FileName("fastai best_save_name: snapshot NAME whenever the first metric improves (with --out)")]
    public string? BestSaveName { get; set; }

    [CommandOption("--resume <DIR>"), Description("Continue the run in DIR (its newest checkpoint, or DIR itself if it is one) with its configuration; only --threads, --json, --checkpoint-every, --keep, --tensorboard, --report, --plots and --plot-format may be added")]
    public string? Resume { get; set; }

    /// <summary>Set by <c>--resume</c> when it reruns the saved command line: the checkpoint to continue.</summary>
    [CommandOption("--resume-checkpoint <PATH>", IsHidden = true)]
    public string? ResumeCheckpoint { get; set; }

    public PolicyChoice Policy { get; private set; } = null!;

    public void Read(IRemainingArguments remaining, string command)
    {
        if (Resume is not null) return;   // the options are the checkpoint's (FitResume compares them)
        var recipeSchedule = RecipeSchedule();   // --recipe without --schedule: the recipe's one-cycle, options given laid over it
        var spec = PolicyChoice.Find(recipeSchedule is null ? Schedule : "one-cycle", "--schedule");
        var options = PolicyChoice.FromRemaining(remaining, spec, command, training: true);
        if (recipeSchedule is not null) options = new(recipeSchedule.Concat(options).GroupBy(kv => kv.Key).Select(g => g.Last()));
        Policy = new PolicyChoice(spec.Name, spec.Name, spec.Name, options);
    }

    public override void Check(Check check)
    {
        base.Check(check);
        if (Resume is not null) return;
        CheckTechniques(check);
        Policy.CheckText(check);
        ChartsNeedAFolder(check, "fit draws lr, loss and metrics charts");
        foreach (var (given, name) in new[] { (CheckpointEvery is not null, "--checkpoint-every"), (CycleSaveName is not null, "--cycle-save-name"), (BestSaveName is not null, "--best-save-name") })
            if (given && Out is null) check.Fail(name, "needs --out DIR (checkpoints go to DIR/checkpoints)");
        if (CycleSaveName is not null && !(Policy.Policy == "fit" && Policy.Options.ContainsKey("cycle-len")))
            check.Fail("--cycle-save-name", "needs the fastai fit options with --cycle-len (there are no cycles without it)");
    }
}

/// <summary>
/// <c>cadence fit</c>: trains a built-in model with any policy (fastai 0.7's <c>fit</c> options by default); with
/// <c>--out</c> checkpoints, history and model; <c>--resume DIR</c> continues a run bit for bit.
/// </summary>
internal sealed class FitCommand(Io io) : CadenceCommand<FitSettings>(io)
{
    protected override int Run(CommandContext context, FitSettings s, CancellationToken ct)
    {
        if (s.Resume is not null) return FitResume.Rerun(s.Resume, context.Arguments, Io, ct);
        string? configuration = null;
        if (s.ResumeCheckpoint is not null)
        {
            var info = Checkpoint.ReadInfo(s.ResumeCheckpoint);
            configuration = info.Configuration;
            var p = info.Position;
            Io.Err.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cadence fit: resuming {s.ResumeCheckpoint} at iteration {p.Iteration} (epoch {p.Epoch + 1}, {(p.EpochEnded ? "ended" : $"{p.BatchesDone} batches done")})"));
        }
        configuration ??= FitResume.Configuration(context.Arguments, s.ThreadCount);
        s.BatchSizeGiven = context.Arguments.Contains("--bs");
        return Train(s, configuration, ct);
    }

    private int Train(FitSettings s, string configuration, CancellationToken ct)
    {
        var table = s.Json ? Io.Err : Io.Out;
        var loaded = s.Load(s.SeedValue);
        var callbacks = new List<Callback> { new NanGuard() };
        if (s.Out is not null)
        {
            Outputs.Folder("--out", s.Out);
            callbacks.Add(new CsvLogger(Path.Combine(s.Out, "metrics.csv")));
        }
        if (s.TensorBoard is not null) callbacks.Add(new TensorBoardLogger(s.TensorBoard));
        var recipe = s.RecipeFor(loaded.Train);
        if (recipe is not null)
            foreach (var line in s.Header(recipe)) table.WriteLine(line);
        using var run = TrainingRun.Create(s, loaded, s.SeedValue, callbacks, ownsData: true, recipe);
        var learn = run.Learner;
        var policy = run.ResolveAuto(s.Policy, Io.Err, "fit", ct);
        var (schedule, epochs) = run.Plan(policy, s.EpochsToTrain, policy.Policy == "fit" ? "--lr" : "--schedule");
        CheckpointCallback? checkpoints = null;
        if (s.Out is not null)
        {
            bool fit = policy.Policy == "fit";
            learn.Add(checkpoints = new CheckpointCallback(new CheckpointOptions
            {
                Directory = Path.Combine(s.Out, Checkpoint.DirectoryName),
                EveryIterations = s.CheckpointEvery ?? 0,
                Keep = (int)s.Keep,
                CycleSaveName = s.CycleSaveName,
                BestSaveName = s.BestSaveName,
                Configuration = configuration,
                CycleEnds = CheckpointOptions.FastAi07CycleEnds(run.BatchesPerEpoch, fit ? policy.Whole("cycles", 1) : 1,
                    fit && policy.Options.ContainsKey("cycle-len") ? policy.Whole("cycle-len", 1) : null, fit ? policy.Whole("cycle-mult", 1) : 1,
                    fit && (policy.Options.ContainsKey("use-clr") || policy.Options.ContainsKey("use-clr-beta"))),
            }));
        }
        var metrics = learn.Metrics.Select(m => m.Name).ToArray();
        var clock = Stopwatch.StartNew();
        FitResult Fit(IProgress<FitProgress> progress) => run.Fit(schedule, epochs, progress, ct, s.ResumeCheckpoint);
        // The live bar only when a person watches: stderr is this process's terminal and stdout is not piped away.
        bool live = Io.ErrIsTerminal && (s.Json || !Console.IsOutputRedirected);
        FitResult result;
        try
        {
            result = live
                ? FitProgressDisplay.Live(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }), metrics, epochs * run.BatchesPerEpoch, Fit)
                : FitProgressDisplay.Plain(table, Io.Err, metrics, Fit);
        }
        catch (OperationCanceledException) when (checkpoints?.LastRolling is { } last)
        {
            Io.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cadence fit: interrupted at iteration {learn.Iteration}; checkpoint {last}"));
            Io.Err.WriteLine($"cadence fit: resume with: cadence fit --resume {s.Out}");
            return ExitCodes.Cancelled;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        if (result.StopReason is not null)
        {
            Io.Err.WriteLine($"cadence fit: stopped early: {result.StopReason}");
            if (checkpoints is not null)
                Io.Err.WriteLine(checkpoints.LastRolling is { } good ? $"cadence fit: the last good checkpoint is {good}" : "cadence fit: no checkpoint was written before the stop");
        }
        if (s.Out is not null)
        {
            Outputs.Write("--out", s.Out, () =>
            {
                AtomicFile.Write(Path.Combine(s.Out, "history.json"), Json.Bytes(HistoryJson.Of(learn.Recorder, schedule, run.ModelName)));
                learn.Save(Path.Combine(s.Out, "model.dat"));
            });
        }
        WriteCharts(s, policy, learn, schedule, run.ModelName, s.Json ? null : Io.Out);
        if (s.Json)
        {
            double images = Math.Min((double)result.Iterations * run.Data.Train.BatchSize, (double)result.Epochs * loaded.Train.Count);
            Io.Out.WriteLine(Json.Serialize(new FitJson(result.Epochs, result.Iterations, result.TrainLoss, result.ValidLoss,
                result.Metrics.TryGetValue("accuracy", out var acc) ? acc : double.NaN, Math.Round(seconds, 3), Math.Round(images / seconds, 1))));
        }
        return result.StopReason is null ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>The terminal lr chart, <c>--plots DIR</c> and <c>--report FILE.html</c>.</summary>
    private static void WriteCharts(FitSettings s, PolicyChoice policy, Learner learn, Schedule schedule, string modelName, TextWriter? terminal)
    {
        var history = TrainingHistory.From(learn.Recorder);
        if (history.Steps.Count == 0) return;
        if (terminal is not null)
        {
            terminal.WriteLine();
            terminal.Write(TerminalChart.Render(history.Steps.Select(x => x.Lr[^1]).ToArray(), "lr", TerminalChart.UnicodeAllowed(terminal)));
        }
        if (s.Plots is not null)
        {
            Outputs.Folder("--plots", s.Plots!);
            Outputs.Write("--plots", s.Plots, () =>
            {
                Plots.Plots.LrChart(history).Save(s.PlotPath("lr")!);
                Plots.Plots.LossChart(history).Save(s.PlotPath("loss")!);
                if (history.MetricNames.Count > 0 && history.Epochs.Count > 0) Plots.Plots.MetricsChart(history).Save(s.PlotPath("metrics")!);
            });
        }
        if (s.Report is { } report)
        {
            Outputs.Folder("--report", Path.GetDirectoryName(Path.GetFullPath(report))!);
            Outputs.Write("--report", report, () => Report.ForFit(history, schedule, Configuration(s, policy, learn, modelName, history), $"cadence fit — {modelName}").Save(report));
        }
    }

    private static List<KeyValuePair<string, string>> Configuration(FitSettings s, PolicyChoice policy, Learner learn, string modelName, TrainingHistory history)
    {
        var source = s.Source;
        var c = new List<KeyValuePair<string, string>>
        {
            new("data", source.Path is null ? source.Kind : $"{source.Kind} {source.Path}"),
            new("model", $"{modelName} ({learn.LayerGroups.Count} layer groups)"),
            new("optimizer", s.Opt == "adamw" ? $"adamw, weight decay {NumberFormat.Exact(s.Wd ?? 0.01)}" : $"sgd, momentum 0.9, weight decay {NumberFormat.Exact(s.Wd ?? 0)}"),
            new("batch size", s.BatchSize.ToString(CultureInfo.InvariantCulture)),
        };
        if (s.Subset < 1) c.Add(new("subset", NumberFormat.Exact(s.Subset)));
        c.Add(new("schedule", policy.Policy));
        c.AddRange(policy.Options);
        c.Add(new("epochs run", history.Epochs.Count.ToString(CultureInfo.InvariantCulture)));
        c.Add(new("iterations run", history.Steps.Count.ToString(CultureInfo.InvariantCulture)));
        c.Add(new("seed", s.SeedValue.ToString(CultureInfo.InvariantCulture)));
        return c;
    }
}
