using Cadence.Plots;
using Cadence.Schedules;

namespace Cadence.Cli.Commands;

/// <summary><c>cadence schedule … --plot FILE.png|FILE.svg</c>: the schedule's chart as an image file.</summary>
internal static class SchedulePlot
{
    /// <summary>Checked before any work: the extension picks the format, and the folder must exist.</summary>
    public static bool ValidPath(string path, out string error)
    {
        try
        {
            Chart.FormatOf(path);
        }
        catch (ArgumentException e)
        {
            error = e.Message.Split(" (Parameter")[0];
            return false;
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        error = dir is not null && !Directory.Exists(dir) ? $"the folder {dir} does not exist" : "";
        return error.Length == 0;
    }

    /// <summary>Writes the chart; says so on <paramref name="stdout"/> when given (table output only, so JSON/CSV stay clean).</summary>
    public static int Write(Schedule schedule, long iterations, string path, TextWriter? stdout, TextWriter stderr)
    {
        try
        {
            Plots.Plots.Schedule(schedule, iterations, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"cadence: --plot: could not write {path}: {e.Message}");
            return ExitCodes.Failure;
        }
        stdout?.WriteLine($"\nChart written to {path}.");
        return ExitCodes.Ok;
    }
}
