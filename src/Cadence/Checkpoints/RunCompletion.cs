using System.Globalization;
using System.Text.Json;
using Cadence.Training;

namespace Cadence.Checkpoints;

/// <summary>
/// What a finished run leaves in its directory (<see cref="RunDirectory.CompletionName"/>): the fit's result, its
/// history (every epoch and step) and the caller's summary, so a <c>--resume</c> of a finished run can show the
/// results again without loading a model or training.
/// </summary>
public sealed record RunCompletion
{
    /// <summary>The final result of the fit.</summary>
    public required FitResult Result { get; init; }

    /// <summary>Metric names, in the order of <see cref="EpochRecord.Metrics"/>.</summary>
    public required IReadOnlyList<string> MetricNames { get; init; }

    /// <summary>Every epoch of the run (resumed parts included).</summary>
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }

    /// <summary>Every optimizer step of the run.</summary>
    public required IReadOnlyList<StepRecord> Steps { get; init; }

    /// <summary>The caller's own summary as JSON (for <c>cadence fit</c>: its final JSON line), or null.</summary>
    public string? Summary { get; init; }

    /// <summary>When the run finished (UTC).</summary>
    public DateTimeOffset Completed { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>The completion of <paramref name="learner"/>'s last fit, which returned <paramref name="result"/>.</summary>
    /// <param name="learner">The learner (its recorder holds the history).</param>
    /// <param name="result">What the fit returned.</param>
    /// <param name="summary">JSON to keep with it (printed again on a resume of the finished run), or null.</param>
    public static RunCompletion Of(Learner learner, FitResult result, string? summary = null)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(result);
        if (summary is not null) using (JsonDocument.Parse(summary)) { }   // refuses text that is not JSON now, not at the next read
        return new RunCompletion
        {
            Result = result,
            MetricNames = learner.Recorder.MetricNames.ToArray(),
            Epochs = learner.Recorder.Epochs.ToArray(),
            Steps = learner.Recorder.Steps.ToArray(),
            Summary = summary,
        };
    }

    private const int Format = 1;

    internal byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("format", Format);
            w.WriteString("completed", Completed);
            w.WriteNumber("epochs", Result.Epochs);
            w.WriteNumber("iterations", Result.Iterations);
            Checkpoint.WriteDouble(w, "train_loss", Result.TrainLoss);
            Checkpoint.WriteDouble(w, "valid_loss", Result.ValidLoss);
            w.WriteStartObject("metrics");
            foreach (var (name, value) in Result.Metrics) Checkpoint.WriteDouble(w, name, value);
            w.WriteEndObject();
            Checkpoint.WriteDouble(w, "seconds", Result.Seconds);
            if (Result.StopReason is null) w.WriteNull("stop_reason"); else w.WriteString("stop_reason", Result.StopReason);
            w.WriteStartArray("metric_names");
            foreach (var m in MetricNames) w.WriteStringValue(m);
            w.WriteEndArray();
            w.WritePropertyName("history");
            w.Flush();
            using (var history = new MemoryStream())
            {
                Checkpoint.WriteHistory(history, new RecorderSnapshot([.. Steps], [.. Epochs], 0, 0, double.NaN));
                w.WriteRawValue(history.ToArray());
            }
            w.WritePropertyName("summary");
            if (Summary is null) w.WriteNullValue(); else w.WriteRawValue(Summary);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <exception cref="CheckpointException">Unreadable (the message names the file).</exception>
    internal static RunCompletion Read(string file)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
            var r = doc.RootElement;
            int format = r.GetProperty("format").GetInt32();
            if (format != Format) throw new CheckpointException(file, $"format {format} is not supported (this version reads format {Format})");
            var history = Checkpoint.ReadHistory(file, System.Text.Encoding.UTF8.GetBytes(r.GetProperty("history").GetRawText()));
            var metrics = r.GetProperty("metrics").EnumerateObject().ToDictionary(p => p.Name, p => Checkpoint.ReadDouble(p.Value), StringComparer.Ordinal);
            var stop = r.GetProperty("stop_reason");
            var result = new FitResult(r.GetProperty("epochs").GetInt32(), r.GetProperty("iterations").GetInt64(),
                Checkpoint.ReadDouble(r.GetProperty("train_loss")), Checkpoint.ReadDouble(r.GetProperty("valid_loss")), metrics,
                Checkpoint.ReadDouble(r.GetProperty("seconds")), stop.ValueKind == JsonValueKind.Null ? null : stop.GetString());
            var summary = r.GetProperty("summary");
            return new RunCompletion
            {
                Result = result,
                MetricNames = r.GetProperty("metric_names").EnumerateArray().Select(m => m.GetString()!).ToArray(),
                Epochs = history.Epochs,
                Steps = history.Steps,
                Summary = summary.ValueKind == JsonValueKind.Null ? null : summary.GetRawText(),
                Completed = r.GetProperty("completed").GetDateTimeOffset(),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException(file, string.Create(CultureInfo.InvariantCulture, $"unreadable completion record: {e.Message}"));
        }
    }
}
