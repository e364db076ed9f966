using System.Globalization;
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

    /// <summary>Writes <c>{"mean": …, "std": …, "n": …}</c> of <paramref name="value"/> (std null below two runs).</summary>
    public void WriteStat(Utf8JsonWriter w, string name, Func<RunRecord, double> value)
    {
        var values = Values(value);
        var (mean, std) = Stats.Of(values);
        w.WriteStartObject(name);
        Json.Number(w, "mean", mean);
        Json.Number(w, "std", std);
        w.WriteNumber("n", values.Count);
        w.WriteEndObject();
    }
}

/// <summary>JSON helpers: non-finite numbers become null (JSON has no NaN).</summary>
internal static class Json
{
    public static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    public static void Value(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue();
    }

    /// <summary>Writes one run (its CSV fields, and its per-epoch history when it has one).</summary>
    public static void Run(Utf8JsonWriter w, RunRecord r)
    {
        w.WriteStartObject();
        w.WriteNumber("seed", r.Seed);
        w.WriteString("status", r.Status.ToString().ToLowerInvariant());
        if (r.Reason is null) w.WriteNull("reason"); else w.WriteString("reason", r.Reason);
        w.WriteNumber("epochs", r.Epochs);
        w.WriteNumber("iterations", r.Iterations);
        Number(w, "train_loss", r.TrainLoss);
        Number(w, "valid_loss", r.ValidLoss);
        Number(w, "accuracy", r.Accuracy);
        Number(w, "best_accuracy", r.BestAccuracy);
        Number(w, "best_valid_loss", r.BestValidLoss);
        if (r.TargetEpoch is { } te) w.WriteNumber("target_epoch", te); else w.WriteNull("target_epoch");
        if (r.TargetIteration is { } ti) w.WriteNumber("target_iteration", ti); else w.WriteNull("target_iteration");
        w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
        if (r.History is { } history)
        {
            w.WriteStartArray("history");
            foreach (var e in history)
            {
                w.WriteStartObject();
                w.WriteNumber("epoch", e.Epoch + 1);
                Number(w, "train_loss", e.TrainLoss);
                Number(w, "valid_loss", e.ValidLoss);
                for (int i = 0; i < e.Metrics.Count && i < r.MetricNames.Count; i++) Number(w, r.MetricNames[i], e.Metrics[i]);
                w.WriteNumber("seconds", Math.Round(e.Seconds, 3));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>Builds a JSON document in memory (for atomic file writes and one-line stdout).</summary>
    public static byte[] Build(Action<Utf8JsonWriter> write, bool indented = false)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented }))
            write(w);
        return ms.ToArray();
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
