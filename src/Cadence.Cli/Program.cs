// TEMPORARY minimal entry point on the `learner` branch so `cadence fit` can be run and tested here.
// src/Cadence.Cli/Program.cs belongs to the CLI owner: on merge, keep theirs and route "fit" to FitCommand.Run.
using Cadence.Cli.Commands;

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
if (args.Length > 0 && args[0] == "fit")
    return FitCommand.Run(args[1..], Console.Out, Console.Error, cts.Token);
Console.Error.WriteLine("usage: cadence fit [options]   (this branch's temporary entry point only knows 'fit')");
return 2;
