using Cadence.Schedules;

namespace Cadence.Cli.Commands;

internal static class PoliciesCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length > 0) return Usage.Fail(stderr, $"'policies' takes no arguments, got '{args[0]}'");
        foreach (var p in PolicyCatalog.All)
            stdout.WriteLine($"{p.Name,-24} {p.Reference,-40} {p.Summary}");
        return ExitCodes.Ok;
    }
}
