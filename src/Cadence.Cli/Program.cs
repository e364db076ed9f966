using Cadence.Cli.Commands;
using Spectre.Console;

namespace Cadence.Cli;

/// <summary>Entry point of the <c>cadence</c> command.</summary>
public static class Program
{
    /// <summary>Runs the command line; returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        // Ctrl+C asks the run to stop after the current step instead of killing the process mid-write.
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        // SIGTERM (kill, a batch scheduler's time limit) too: `cadence fit` then checkpoints and exits cleanly.
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        return Run(args, Console.Out, Console.Error, cts.Token);
    }

    /// <summary>Testable form of <see cref="Main"/>: output to <paramref name="stdout"/> and <paramref name="stderr"/>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct) => Run(args, new Io(stdout, stderr), ct);

    /// <summary>Runs the command line with <paramref name="io"/> (a resumed run passes the run directory it holds open).</summary>
    internal static int Run(string[] args, Io io, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        string[] prepared = MergeCommands.Join(DataSource.JoinPaths(args));
        if (args.Length == 0)
        {
            Cli.App(["--help"], io).Run(["--help"], ct);
            return ExitCodes.Usage;
        }
        if (args is ["--version"]) { io.Out.WriteLine(typeof(Program).Assembly.GetName().Version); return ExitCodes.Ok; }
        return Cli.App(prepared, io).Run(prepared, ct);
    }
}

/// <summary>
/// <c>cadence sweep merge</c> and <c>cadence compare merge</c> are the hidden commands <c>sweep-merge</c> and
/// <c>compare-merge</c>: the two words are joined before parsing, and shown as two words in errors and help.
/// </summary>
internal static class MergeCommands
{
    public const string Sweep = "sweep-merge", Compare = "compare-merge";

    /// <summary><c>sweep merge …</c> → <c>sweep-merge …</c> (only as the first two words).</summary>
    public static string[] Join(string[] args) =>
        args is [var command and ("sweep" or "compare"), "merge", .. var rest] ? [$"{command}-merge", .. rest] : args;

    /// <summary>How a merge command is called on the command line (<c>sweep merge</c>), or null for another command.</summary>
    public static string? Shown(string name) => name is Sweep or Compare ? name.Replace('-', ' ') : null;
}

/// <summary>Where a command writes: results on <see cref="Out"/>, progress, tables under --json and errors on <see cref="Err"/>.</summary>
internal sealed record Io(TextWriter Out, TextWriter Err)
{
    /// <summary>Whether <see cref="Err"/> is this process's terminal (not a test's writer, not redirected): live progress only then.</summary>
    public bool ErrIsTerminal => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;

    /// <summary>
    /// <c>fit --resume</c>: the run directory, opened (and locked) by <see cref="Commands.FitResume"/> before it read a
    /// checkpoint, for the rerun of the saved command line; null otherwise.
    /// </summary>
    public Cadence.Checkpoints.RunDirectory? ResumedRun { get; init; }
}

/// <summary>The commands and their configuration: the parser, the help, the one error handler.</summary>
internal static class Cli
{
    public static readonly string[] Commands = ["schedule", "policies", "fit", "lr-find", "compare", "sweep", "predict"];

    public static CommandApp App(IReadOnlyList<string> args, Io io)
    {
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.SetApplicationName("cadence");
            c.Settings.Registrar.RegisterInstance<Io>(io);
            // Help goes to stdout, plain (no colour, no markup surprises), at a fixed width so it reads the same everywhere.
            var console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(io.Out),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
            console.Profile.Width = 110;
            c.ConfigureConsole(console);
            c.SetHelpProvider(new CadenceHelp(c.Settings, args));
            // Relaxed parsing: options a command does not declare reach it as remaining arguments, where the policy
            // commands read their policy's options and every other command refuses them (CadenceCommand.Execute).
            c.SetExceptionHandler((e, _) => ErrorHandler.Report(e, CommandName(args), args, io.Err));
            c.AddCommand<ScheduleCommand>("schedule").WithDescription("Preview a schedule without training: numbers, a chart, plain words")
                .WithExample("schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "1000", "--explain");
            c.AddCommand<PoliciesCommand>("policies").WithDescription("Every policy and what it reproduces");
            c.AddCommand<FitCommand>("fit").WithDescription("Train a model with a schedule (fastai's fit options, or --schedule POLICY and its options)")
                .WithExample("fit", "--data", "csv", "samples/data/iris.csv", "--target", "species", "--lr", "0.1", "--cycle-len", "3", "--use-clr", "32,5");
            c.AddCommand<LrFindCommand>("lr-find").WithDescription("LR range test (fastai's lr_find): the loss-vs-lr curve and suggested lrs");
            c.AddCommand<CompareCommand>("compare").WithDescription("Train the same model, data and seeds under several schedules; mean ± std, time to a target");
            c.AddCommand<SweepCommand>("sweep").WithDescription("A grid over one policy's options, every cell with every seed; resumable, shardable");
            // 'compare merge' and 'sweep merge' (see MergeCommands): hidden commands of their own, since a Spectre branch's
            // default command cannot take its first argument (the POLICY, a SCHEDULE) under relaxed parsing.
            c.AddCommand<CompareMergeCommand>(MergeCommands.Compare).IsHidden().WithDescription("Join the shards of a compare (--shard K/N) into its results");
            c.AddCommand<SweepMergeCommand>(MergeCommands.Sweep).IsHidden().WithDescription("Join the shards of a sweep (--shard K/N) into its results");
            c.AddCommand<PredictCommand>("predict").WithDescription("Classify images or CSV rows with a finished run's model (cadence fit --out RUN)")
                .WithExample("predict", "--model-dir", "runs/pets", "--top-k", "3", "photos/");
        });
        return app;
    }

    /// <summary>The command the arguments run (for the error prefix), or nothing when they name none.</summary>
    private static string CommandName(IReadOnlyList<string> args) =>
        args.Count == 0 ? "" : MergeCommands.Shown(args[0]) ?? (Commands.Contains(args[0]) ? args[0] : "");
}
