using System.Text.Json;

namespace Cadence.Cli.Experiments;

/// <summary>
/// The runs of one schedule (or sweep cell) over its seeds. Means and standard deviations are over the runs that
/// trained to the end (<see cref="RunStatus.Ok"/>); diverged and failed runs are counted and their reasons listed.
/// </summary>
internal sealed record Summary(string Label, string Spec, int Expected, IReadOnlyList<RunRecord> Runs)
{
    public IEnumerable<RunRecord> Finished => Runs.Where(r => r.Status == RunStatus.Ok);

    public int Diverged => Runs.Count(r => r.Status == RunStatus.Diverged);

    public int Failed => Runs.Count(r => r.Status == RunStatus.Failed);

    /// <summary>The finite values of <paramref name="value"/> over the finished runs.</summary>
    public List<double> Values(Func<RunRecord, double> value) => Finished.Select(value).Where(double.IsFinite).ToList();

    /// <summary>How many runs reached the target accuracy (at any epoch, also before diverging), and at what epoch/iteration on average.</summary>
    public (int Reached, double Epoch, double Iteration) Target()
    {
        var hits = Runs.Where(r => r.TargetEpoch is not null).ToList();
        return hits.Count == 0 ? (0, double.NaN, double.NaN)
            : (hits.Count, hits.Average(r => (double)r.TargetEpoch!.Value), hits.Average(r => (double)r.TargetIteration!.Value));
    }

    /// <summary>"ok/expected", with the diverged and failed counts when there are any.</summary>
    public string RunsCell()
    {
        var s = $"{Finished.Count()}/{Expected}";
        if (Diverged > 0) s += $" ({Diverged} diverged)";
        if (Failed > 0) s += $" ({Failed} failed)";
        return s;
    }
}

/// <summary>A plain text table: columns padded to their widest cell.</summary>
internal static class TextTable
{
    public static void Write(TextWriter output, IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = header.Select((h, i) => rows.Select(r => i < r.Count ? r[i].Length : 0).Append(h.Length).Max()).ToArray();
        string Line(IReadOnlyList<string> cells) => string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd();
        output.WriteLine(Line(header));
        foreach (var r in rows) output.WriteLine(Line(r));
    }

    public static string Seconds(double s) => double.IsFinite(s) ? s.ToString("F1", CultureInfo.InvariantCulture) + " s" : "—";
}
