using Cadence.Cli.Commands;

namespace Cadence.Cli;

/// <summary>Entry point of the <c>cadence</c> command: dispatches verbs, maps errors to exit codes.</summary>
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

    /// <summary>Testable form of <see cref="Main"/>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            stdout.Write(Help.Main);
            return args.Length == 0 ? ExitCodes.Usage : ExitCodes.Ok;
        }
        if (args[0] == "--version") { stdout.WriteLine(typeof(Program).Assembly.GetName().Version); return ExitCodes.Ok; }
        var rest = args[1..];
        return args[0] switch
        {
            "schedule" => ScheduleCommand.Run(rest, stdout, stderr),
            "policies" => PoliciesCommand.Run(rest, stdout, stderr),
            "fit" => FitCommand.Run(rest, stdout, stderr, ct),
            "lr-find" => LrFindCommand.Run(rest, stdout, stderr, ct),
            "compare" => CompareCommand.Run(rest, stdout, stderr, ct),
            "sweep" => SweepCommand.Run(rest, stdout, stderr, ct),
            _ => Usage.Fail(stderr, $"unknown command '{args[0]}'; commands: {Help.Commands}"),
        };
    }
}

/// <summary>Process exit codes.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>The run failed (training diverged, a file could not be written …).</summary>
    public const int Failure = 1;
    /// <summary>The command line was wrong: unknown option, invalid value.</summary>
    public const int Usage = 2;
    /// <summary>Interrupted (Ctrl+C).</summary>
    public const int Cancelled = 130;
}

internal static class Usage
{
    /// <summary>Writes one clear line to stderr and returns the usage exit code.</summary>
    public static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"cadence: {message}");
        return ExitCodes.Usage;
    }

    /// <summary>Names a reference parameter as the option the user typed.</summary>
    public static string Option(string parameter) => "--" + parameter.ToLowerInvariant().Replace('_', '-');
}
