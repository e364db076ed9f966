using System.Globalization;

namespace Cadence.Cli.Tests;

/// <summary>Small generated CSV data for the experiment commands (compare, sweep): trains in a fraction of a second.</summary>
internal static class ExperimentTestData
{
    /// <summary>
    /// 300 rows, 13 features, 3 classes whose features overlap (a signal of 0.35 on uniform noise): accuracy stays below
    /// 1 and moves from epoch to epoch, so targets and means have something to measure. 240 training rows: 15 batches of 16.
    /// </summary>
    public static string NoisyCsv(string dir) => TestData.ThreeClassCsv(dir, "noisy.csv", noisy: true);

    /// <summary>The options every test passes: the CSV, its label column, 16 per batch, one thread.</summary>
    public static string[] CsvData(string csv) => ["--data", "csv", csv, "--target", "label", "--bs", "16", "--threads", "1"];

    /// <summary>A writer that cancels <paramref name="cts"/> once a line containing <paramref name="trigger"/> was written (Ctrl+C at a known moment).</summary>
    public sealed class CancelOnLine(CancellationTokenSource cts, string trigger) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(trigger, StringComparison.Ordinal)) cts.Cancel();
        }
    }
}

/// <summary>
/// Test classes that train: TorchSharp's generator (weight initialization, dropout) is global to the process, so two
/// trainings on parallel test threads would draw from each other's seed and break run-for-run equality.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TrainingCollection
{
    public const string Name = "training";
}
