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
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        string[] prepared = DataSource.JoinPaths(args);
        if (args.Length == 0)
        {
            Cli.App(["--help"], new Io(stdout, stderr)).Run(["--help"], ct);
            return ExitCodes.Usage;
        }
        if (args is ["--version"]) { stdout.WriteLine(typeof(Program).Assembly.GetName().Version); return ExitCodes.Ok; }
        return Cli.App(prepared, new Io(stdout, stderr)).Run(prepared, ct);
    }
}

/// <summary>Where a command writes: results on <see cref="Out"/>, progress, tables under --json and errors on <see cref="Err"/>.</summary>
internal sealed record Io(TextWriter Out, TextWriter Err)
{
    /// <summary>Whether <see cref="Err"/> is this process's terminal (not a test's writer, not redirected): live progress only then.</summary>
    public bool ErrIsTerminal => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;
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
            c.AddCommand<SweepCommand>("sweep").WithDescription("A grid over one policy's options, every cell with every seed; resumable");
            c.AddCommand<PredictCommand>("predict").WithDescription("Classify images or CSV rows with a finished run's model (cadence fit --out RUN)")
                .WithExample("predict", "--model-dir", "runs/pets", "--top-k", "3", "photos/");
        });
        return app;
    }

    /// <summary>The command the arguments run (for the error prefix), or nothing when they name none.</summary>
    private static string CommandName(IReadOnlyList<string> args) => args.Count > 0 && Commands.Contains(args[0]) ? args[0] : "";
}
