using System.Text;
using Cadence.Training;

namespace Cadence.Cli.Experiments;

/// <summary>How a run ended.</summary>
internal enum RunStatus
{
    /// <summary>Trained every epoch.</summary>
    Ok,
    /// <summary>The loss became NaN or infinite; training stopped (the run is a result, not an error).</summary>
    Diverged,
    /// <summary>Training threw (out of memory, a native error …); the experiment went on with the next run.</summary>
    Failed,
}

/// <summary>
/// One training run of an experiment (one schedule or sweep cell, one seed): a row of the results CSV. Accuracy is
/// measured at the end of each epoch, so the target is reached "at" an epoch end and its iteration.
/// </summary>
internal sealed record RunRecord(
    string Setup, string Label, string Spec, long Seed, RunStatus Status, int Epochs, long Iterations,
    double TrainLoss, double ValidLoss, double Accuracy, double BestAccuracy, double BestValidLoss,
    int? TargetEpoch, long? TargetIteration, double Seconds, string? Reason)
{
    /// <summary>Per-epoch history (not stored in the CSV; null for rows read back from it).</summary>
    public IReadOnlyList<EpochRecord>? History { get; init; }

    /// <summary>Names of the metrics in <see cref="EpochRecord.Metrics"/>, in order.</summary>
    public IReadOnlyList<string> MetricNames { get; init; } = [];

    /// <summary>Columns of the results CSV, in order.</summary>
    public static readonly string[] Columns =
    [
        "setup", "label", "spec", "seed", "status", "epochs", "iterations", "train_loss", "valid_loss", "accuracy",
        "best_accuracy", "best_valid_loss", "target_epoch", "target_iteration", "seconds", "reason",
    ];

    /// <summary>The CSV header line (without line end).</summary>
    public static string Header => string.Join(',', Columns);

    /// <summary>The value of a metric named on the command line (<c>accuracy</c>, <c>best_accuracy</c>, <c>valid_loss</c>).</summary>
    public double Metric(string name) => name switch
    {
        "accuracy" => Accuracy,
        "best_accuracy" => BestAccuracy,
        "valid_loss" => ValidLoss,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown metric"),
    };

    /// <summary>This run as a CSV line (without line end), fields quoted where needed.</summary>
    public string ToCsv() => string.Join(',', new[]
    {
        Setup, Label, Spec, I(Seed), Status.ToString().ToLowerInvariant(), I(Epochs), I(Iterations), D(TrainLoss), D(ValidLoss),
        D(Accuracy), D(BestAccuracy), D(BestValidLoss), TargetEpoch is { } e ? I(e) : "", TargetIteration is { } it ? I(it) : "",
        Seconds.ToString("F3", CultureInfo.InvariantCulture), Reason ?? "",
    }.Select(Quote));

    /// <summary>Reads a row written by <see cref="ToCsv"/>.</summary>
    /// <exception cref="FormatException">The row does not have the columns and values this version writes.</exception>
    public static RunRecord FromCsv(IReadOnlyList<string> f)
    {
        if (f.Count != Columns.Length) throw new FormatException($"expected {Columns.Length} fields, got {f.Count}");
        if (!Enum.TryParse<RunStatus>(f[4], ignoreCase: true, out var status)) throw new FormatException($"unknown status '{f[4]}'");
        return new RunRecord(f[0], f[1], f[2], L(f[3]), status, (int)L(f[5]), L(f[6]), Pd(f[7]), Pd(f[8]), Pd(f[9]), Pd(f[10]), Pd(f[11]),
            f[12].Length == 0 ? null : (int)L(f[12]), f[13].Length == 0 ? null : L(f[13]), Pd(f[14]), f[15].Length == 0 ? null : f[15]);
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    // Shortest round-trip form, so a resumed sweep aggregates exactly the numbers it measured.
    private static string D(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "nan";

    private static long L(string s) => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"expected an integer, got '{s}'");

    private static double Pd(string s) => s == "nan" ? double.NaN
        : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"expected a number, got '{s}'");

    private static string Quote(string s) =>
        s.AsSpan().IndexOfAny(",\"\r\n") < 0 ? s : "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).</summary>
    public static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }
}
