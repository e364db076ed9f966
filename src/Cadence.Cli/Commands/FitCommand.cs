using System.Diagnostics;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Cli.Training;
using Cadence.Models;
using Cadence.Plots;
using Cadence.Training;
using Spectre.Console;

namespace Cadence.Cli.Commands;

internal sealed partial class FitSettings : FittingSettings, IPolicySettings
{
    [CommandOption("--epochs <N>"), Whole(1, 100_000, "Epochs to train (default: the schedule's own length; with the fit options and no --cycle-len, epochs at a constant lr)")]
    public long? Epochs { get; set; }

    [CommandOption("--schedule <POLICY>"), Description("The policy (default fit); its options follow as for 'cadence schedule POLICY'. The fastai fit options (--lr --cycles --cycle-len --cycle-mult --use-clr --use-clr-beta) are --schedule fit's")]
    public string? Schedule { get; set; }

    [CommandOption("--fine-tune <EPOCHS>"), Whole(1, 100_000, "fastai v2's fine_tune(EPOCHS): freeze all layer groups but the head, one-cycle for --freeze-epochs at --base-lr, then unfreeze and one-cycle for EPOCHS at slice(base-lr/2/lr-mult, base-lr/2); its options: cadence fit --fine-tune 1 --help")]
    public long? FineTune { get; set; }

    [CommandOption("--export <FILE>"), Output(OutputKind.File, "Also write the trained weights as a PyTorch state dict (torch.load(FILE) in Python; .safetensors by that extension)", ".pt", ".pth", ".safetensors")]
    public string? Export { get; set; }

    [CommandOption("--out <DIR>"), Output(OutputKind.Folder, "Write the run into DIR: checkpoints/, metrics.csv, history.json, model.dat and model.json (for cadence predict); a DIR that holds a run is refused")]
    public string? Out { get; set; }

    [CommandOption("--overwrite"), Description("Replace the run --out DIR holds: it is moved aside at once and deleted when the new run's first checkpoint is written")]
    public bool Overwrite { get; set; }

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

    [CommandOption("--resume <DIR>"), Description("Continue the run in DIR (its newest checkpoint that verifies, or DIR itself if it is one) with its configuration, or show it again if it is complete; only --threads, --json, --checkpoint-every, --keep, --tensorboard, --report, --plots, --plot-format, --export, --no-cache, --cache-dir, --device and --deterministic may be added")]
    public string? Resume { get; set; }

    public PolicyChoice Policy { get; private set; } = null!;

    public void Read(IRemainingArguments remaining, string command)
    {
        if (Resume is not null) return;   // the options are the checkpoint's (FitResume compares them)
        if (FineTune is not null && Schedule is not null) throw new UsageException("--schedule", "give --fine-tune EPOCHS or --schedule POLICY, not both (fine-tune has its own schedule)");
        var recipeSchedule = RecipeSchedule();   // --recipe without --schedule: the recipe's one-cycle, options given laid over it
        var spec = FineTune is not null ? PolicyChoice.FineTuneSpec : PolicyChoice.Find(recipeSchedule is null ? Schedule ?? "fit" : "one-cycle", "--schedule");
        var options = PolicyChoice.FromRemaining(remaining, spec, command, training: true);
        if (recipeSchedule is not null) options = new(recipeSchedule.Concat(options).GroupBy(kv => kv.Key).Select(g => g.Last()));
        Policy = new PolicyChoice(spec.Name, spec.Name, spec.Name, options);
    }

    public override void Check(Check check)
    {
        base.Check(check);
        if (Overwrite && Resume is not null) check.Fail("--overwrite", "replaces a run and --resume continues one: give one of them");
        if (Resume is not null) return;
        if (Overwrite && Out is null) check.Fail("--overwrite", "needs --out DIR (the run to replace)");
        CheckTechniques(check);
        Policy.CheckText(check);
        ChartsNeedAFolder(check, "fit draws lr, loss and metrics charts");
        foreach (var (given, name) in new[] { (CheckpointEvery is not null, "--checkpoint-every"), (CycleSaveName is not null, "--cycle-save-name"), (BestSaveName is not null, "--best-save-name") })
            if (given && Out is null) check.Fail(name, "needs --out DIR (checkpoints go to DIR/checkpoints)");
        if (CycleSaveName is not null && !(Policy.Policy == "fit" && Policy.Options.ContainsKey("cycle-len")) && FineTune is null)
            check.Fail("--cycle-save-name", "needs the fastai fit options with --cycle-len (there are no cycles without it)");
        if (FineTune is null) return;
        if (check.Errors.Count == 0)
        {
            // The values' ranges, before any data is loaded (the model's groups and the batches come later: any will do here).
            try { TrainingRun.PlanFineTune(Policy, (int)FineTune, groups: 2, batchesPerEpoch: 1, Model ?? "the model"); }
            catch (ValidationException e) { foreach (var x in e.Errors) check.Fail(x.Parameter, x.Message); }
        }
        if (Epochs is not null) check.Fail("--epochs", "give the epochs as --fine-tune EPOCHS (the unfrozen phase; --freeze-epochs the frozen one)");
        foreach (var (given, name) in new[] { (CheckpointEvery is not null, "--checkpoint-every"), (CycleSaveName is not null, "--cycle-save-name"), (BestSaveName is not null, "--best-save-name") })
            if (given) check.Fail(name, "not with --fine-tune: its two fits write no checkpoints (a fine-tune cannot be resumed)");
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
        s.BatchSizeGiven = context.Arguments.Contains("--bs");
        // The rerun of a saved command line: FitResume holds the run open (and locked) and says where it resumes.
        if (Io.ResumedRun is { } resumed) return Train(s, resumed, resumed.ResumeFrom!.Checkpoint.Configuration!, ct);
        // --out is opened (locked, refused when it holds a run, the old run moved aside with --overwrite) before any data is loaded.
        using var run = s.Out is null ? null : RunDirectory.Open(s.Out, s.Overwrite ? RunMode.Overwrite : RunMode.New, "--out");
        return Train(s, run, FitResume.Configuration(context.Arguments, s.ThreadCount), ct);
    }

    private int Train(FitSettings s, RunDirectory? runDir, string configuration, CancellationToken ct)
    {
        var table = s.Json ? Io.Err : Io.Out;
        var log = DataLog.For(Io, "fit", s.Json);
        var loaded = s.Load(s.SeedValue, log);
        var callbacks = s.Guards();
        string? metricsCsv = s.Out is null ? null : Path.Combine(s.Out, "metrics.csv");
        if (s.Out is not null && s.FineTune is null) callbacks.Add(new CsvLogger(metricsCsv!));   // a fine-tune's two fits: FineTuneRun writes it
        if (s.TensorBoard is not null) callbacks.Add(new TensorBoardLogger(s.TensorBoard));
        var recipe = s.RecipeFor(loaded.Train);
        if (recipe is not null)
            foreach (var line in s.Header(recipe)) table.WriteLine(line);
        using var run = TrainingRun.Create(s, loaded, s.SeedValue, callbacks, ownsData: true, log, recipe);
        var learn = run.Learner;
        var policy = run.ResolveAuto(s.Policy, Io.Err, "fit", ct);
        var plan = s.FineTune is { } fineTune ? run.FineTunePlan(policy, (int)fineTune) : null;
        var (schedule, epochs) = plan is not null ? (plan.AsSchedule(), plan.FreezeEpochs + plan.Epochs)
            : run.Plan(policy, s.EpochsToTrain, policy.Policy == "fit" ? "--lr" : "--schedule");
        s.Announce(Io.Err, "fit");
        CheckpointCallback? checkpoints = null;
        FineTuneRun? phases = null;
        Func<int, string>? phaseOf = plan is null ? null : plan.PhaseOf;   // a fine-tune's rows name their phase
        if (runDir is not null && plan is null)
        {
            bool fit = policy.Policy == "fit";
            // The run directory's options finish an overwrite (delete the old run) once the first checkpoint is durable.
            learn.Add(checkpoints = new CheckpointCallback(runDir.CheckpointOptions with
            {
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
        FitResult Fit(IProgress<FitProgress> progress) => plan is null ? run.Fit(schedule, epochs, progress, ct, runDir?.ResumeFrom?.Checkpoint.Path)
            : run.FineTune(plan, phases = new FineTuneRun(plan, progress, metricsCsv), ct);
        // The live bar only when a person watches: stderr is this process's terminal and stdout is not piped away.
        bool live = Io.ErrIsTerminal && (s.Json || !Console.IsOutputRedirected);
        FitResult result;
        try
        {
            result = live
                ? FitProgressDisplay.Live(AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }), metrics, epochs * run.BatchesPerEpoch, Fit, phaseOf)
                : FitProgressDisplay.Plain(table, Io.Err, metrics, Fit, phaseOf);
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
        var history = phases?.History(learn) ?? TrainingHistory.From(learn.Recorder);
        // An iteration is an optimizer step: --accumulate batches of the run's batch size (the recipe's, unless --bs).
        double images = Math.Min((double)result.Iterations * run.Data.Train.BatchSize * learn.AccumulationSteps, (double)result.Epochs * loaded.Train.Count);
        double Metric(string name) => result.Metrics.TryGetValue(name, out var v) ? v : double.NaN;
        string summary = Json.Serialize(new FitJson(result.Epochs, result.Iterations, result.TrainLoss, result.ValidLoss,
            Metric("accuracy"), Metric("error_rate"), Math.Round(seconds, 3), Math.Round(images / seconds, 1), learn.Device.ToString(),
            result.StopReason is not null, result.StopReason is { } reason ? ErrorHandler.OneLine(reason) : null));
        if (s.Export is { } export)
        {
            Outputs.Folder("--export", Path.GetDirectoryName(Path.GetFullPath(export))!);
            Outputs.Write("--export", export, () => Cadence.Models.PyTorchWeights.Export(learn.Model, export));
        }
        if (runDir is not null) WriteRun(runDir, s.Out!, run, loaded, schedule, history, result, summary, phaseOf);
        WriteCharts(s, policy, learn, schedule, history, loaded, run.ModelName, s.Json ? null : Io.Out, ct);
        if (s.Json) Io.Out.WriteLine(summary);
        return result.StopReason is null ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>
    /// The run's outputs, each written durably (temporary file, rename): history.json always; for a run that ended
    /// normally also the model (model.dat and model.json, which <c>cadence predict</c> reads) and, last, the completion
    /// record, after which <c>--resume</c> shows the run instead of training it. A stopped run keeps its checkpoints.
    /// </summary>
    private static void WriteRun(RunDirectory runDir, string dir, TrainingRun run, LoadedData loaded, Schedule schedule, TrainingHistory history,
        FitResult result, string summary, Func<int, string>? phaseOf) =>
        Outputs.Write("--out", dir, () =>
        {
            CheckpointStore.WriteFileDurably(Path.Combine(dir, "history.json"), Json.Bytes(HistoryJson.Of(history, schedule, run.ModelName, phaseOf)));
            if (result.StopReason is not null) return;
            loaded.CardFor(run.ModelName).Save(dir, run.Learner.Model);   // model.dat and model.json: what cadence predict reads
            // A fine-tune's history is its two fits' (the learner's recorder holds the last one's).
            runDir.Complete(RunCompletion.Of(run.Learner, result, summary) with { MetricNames = history.MetricNames, Epochs = history.Epochs, Steps = history.Steps });
        });

    /// <summary>The terminal lr chart, <c>--plots DIR</c> and <c>--report FILE.html</c> (with what the model got wrong).</summary>
    private void WriteCharts(FitSettings s, PolicyChoice policy, Learner learn, Schedule schedule, TrainingHistory history, LoadedData loaded,
        string modelName, TextWriter? terminal, CancellationToken ct)
    {
        if (history.Steps.Count == 0) return;
        if (terminal is not null)
        {
            terminal.WriteLine();
            terminal.Write(TerminalChart.Render(history.Steps.Select(x => x.Lr[^1]).ToArray(), "lr", TerminalChart.UnicodeAllowed(terminal)));
        }
        var errors = s.Plots is not null || s.Report is not null ? Interpretation.Charts(learn, loaded, Io.Err, ct) : [];
        if (s.Plots is not null)
        {
            Outputs.Folder("--plots", s.Plots!);
            Outputs.Write("--plots", s.Plots, () =>
            {
                Plots.Plots.LrChart(history).Save(s.PlotPath("lr")!);
                Plots.Plots.LossChart(history).Save(s.PlotPath("loss")!);
                if (history.MetricNames.Count > 0 && history.Epochs.Count > 0) Plots.Plots.MetricsChart(history).Save(s.PlotPath("metrics")!);
                foreach (var (name, chart) in errors) chart.Save(s.PlotPath(name)!);
            });
        }
        if (s.Report is { } report)
        {
            Outputs.Folder("--report", Path.GetDirectoryName(Path.GetFullPath(report))!);
            var page = Report.ForFit(history, schedule, Configuration(s, policy, learn, modelName, history), $"cadence fit — {modelName}");
            foreach (var (_, chart) in errors) page.AddChart(chart);
            Outputs.Write("--report", report, () => page.Save(report));
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
        if (s.AugPreset is { } aug) c.Add(new("augmentation", aug));
        if (s.Weights is { } weights) c.Add(new("weights", weights));
        c.Add(new("schedule", s.FineTune is { } ft ? $"fine-tune {ft}" : policy.Policy));
        c.AddRange(policy.Options);
        c.Add(new("epochs run", history.Epochs.Count.ToString(CultureInfo.InvariantCulture)));
        c.Add(new("iterations run", history.Steps.Count.ToString(CultureInfo.InvariantCulture)));
        c.Add(new("seed", s.SeedValue.ToString(CultureInfo.InvariantCulture)));
        return c;
    }
}
