using Cadence.Data;
using Cadence.Schedules;

namespace Cadence.Cli.Experiments;

/// <summary>Maps the exceptions of a training command to one line on stderr and its exit code (as <c>cadence fit</c> does).</summary>
internal static class CommandErrors
{
    public static int Run(string command, TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"cadence {command}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (ScheduleValidationException e)
        {
            stderr.WriteLine($"cadence {command}: {string.Join("; ", e.Errors.Select(x => $"{Usage.Option(x.Parameter)}: {x.Message}"))}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine($"cadence {command}: cancelled");
            return ExitCodes.Cancelled;
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"cadence {command}: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException
                                       or DllNotFoundException or TypeInitializationException or System.Runtime.InteropServices.ExternalException)
        {
            stderr.WriteLine($"cadence {command}: {e.Message.Replace("\r", " ", StringComparison.Ordinal).Replace("\n", "; ", StringComparison.Ordinal)}");
            if (e is DllNotFoundException or TypeInitializationException)
                stderr.WriteLine($"cadence {command}: TorchSharp's native library did not load; on Debian 12 run 'make setup' as root (libstdc++ with GLIBCXX_3.4.32 is needed)");
            return ExitCodes.Failure;
        }
    }
}
