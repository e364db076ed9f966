using System.Runtime.InteropServices;
using Cadence.Callbacks;
using Cadence.Cli.Training;
using Cadence.Training;

namespace Cadence.Cli.Experiments;

/// <summary>
/// Runs schedules on the data of an experiment. The data is loaded once; each seed gets the training/validation split
/// and subset that <c>cadence fit --seed S</c> would draw, derived from the loaded data, and trains through the same
/// <see cref="TrainingRun"/>, so a run here gives exactly the numbers of the same <c>cadence fit</c>.
/// </summary>
internal sealed class ExperimentRunner(ExperimentSettings options, TextWriter log, string command) : IDisposable
{
    private readonly Dictionary<long, LoadedData> _bySeed = [];
    private readonly DataLog _dataLog = new(log, command, live: false);
    private LoadedData? _full;

    /// <summary>The data a run with <paramref name="seed"/> trains on.</summary>
    public LoadedData Data(long seed)
    {
        bool seeded = options.SeededSplit;
        if (!seeded && options.Subset >= 1) return _full ??= options.Load(seed, _dataLog);   // the same for every seed
        if (_bySeed.TryGetValue(seed, out var cached)) return cached;
        LoadedData data;
        if (seeded) data = options.Load(seed, _dataLog);   // the validation split depends on the seed
        else
        {
            _full ??= options.Load(seed, _dataLog, subset: false);
            data = _full with { Train = _full.Train.Subset(options.Subset, seed) };
        }
        _bySeed[seed] = data;
        return data;
    }

    /// <summary>
    /// Builds every schedule for the data before the first run, so a bad option or length fails in seconds rather
    /// than after hours. Returns each schedule, its epochs and the batches per epoch, by label.
    /// </summary>
    /// <exception cref="UsageException">A schedule cannot be built for this data; the message names it.</exception>
    public Dictionary<string, (Schedule Schedule, int Epochs, long BatchesPerEpoch)> Plan(IReadOnlyList<PolicyChoice> specs, long seed)
    {
        using var probe = TrainingRun.Create(options, Data(seed), seed, null, ownsData: false, _dataLog);
        var plans = new Dictionary<string, (Schedule, int, long)>();
        foreach (var spec in specs)
        {
            try
            {
                var (schedule, epochs) = probe.Plan(spec, (int?)options.Epochs, Source(spec));
                plans[spec.Label] = (schedule, epochs, probe.BatchesPerEpoch);
            }
            catch (UsageException e) when (e.Option != Source(spec)) { throw new UsageException(Source(spec), e.Message); }
            catch (ScheduleValidationException e)
            {
                throw new UsageException(Source(spec), string.Join("; ", e.Errors.Select(x => $"{x.Parameter.Replace('_', '-')}: {x.Message}")));
            }
        }
        return plans;
    }

    private static string Source(PolicyChoice spec) => spec.Label == spec.Text ? $"schedule '{spec.Text}'" : $"schedule '{spec.Label}' ({spec.Text})";

    /// <summary>
    /// Trains one schedule with one seed. Divergence (NaN loss) and training errors are recorded in the result, not
    /// thrown: an experiment goes on with its next run.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled; the run is not recorded.</exception>
    public RunRecord Run(string setup, PolicyChoice spec, long seed, double? targetAccuracy, string progressPrefix, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            using var run = TrainingRun.Create(options, Data(seed), seed, [new NanGuard()], ownsData: false, _dataLog);
            var (schedule, epochs) = run.Plan(spec, (int?)options.Epochs, Source(spec));
            var result = run.Fit(schedule, epochs, new EpochLines(log, progressPrefix, run.Learner.Recorder), ct);
            return Record(setup, spec, seed, run.Learner.Recorder, result, run.BatchesPerEpoch, targetAccuracy);
        }
        catch (Exception e) when (e is ExternalException or InvalidOperationException or ArgumentException or OutOfMemoryException or IOException)
        {
            return new RunRecord(setup, spec.Label, spec.Text, seed, RunStatus.Failed, 0, 0, double.NaN, double.NaN, double.NaN, double.NaN,
                double.NaN, null, null, clock.Elapsed.TotalSeconds, ErrorHandler.OneLine($"{e.GetType().Name}: {e.Message}"));
        }
    }

    private static RunRecord Record(string setup, PolicyChoice spec, long seed, Recorder recorder, FitResult result, long bpe, double? target)
    {
        int acc = recorder.MetricNames.ToList().IndexOf("accuracy");
        var history = recorder.Epochs.ToArray();
        double Acc(EpochRecord e) => acc >= 0 && acc < e.Metrics.Count ? e.Metrics[acc] : double.NaN;
        var accuracies = history.Select(Acc).Where(double.IsFinite).ToArray();
        var losses = history.Select(e => e.ValidLoss).Where(double.IsFinite).ToArray();
        int? targetEpoch = null;
        if (target is { } t)
            for (int i = 0; i < history.Length; i++)
                if (Acc(history[i]) >= t) { targetEpoch = history[i].Epoch + 1; break; }
        bool ok = result.StopReason is null;
        return new RunRecord(setup, spec.Label, spec.Text, seed, ok ? RunStatus.Ok : RunStatus.Diverged, result.Epochs, result.Iterations,
            result.TrainLoss, ok ? result.ValidLoss : double.NaN, ok && history.Length > 0 ? Acc(history[^1]) : double.NaN,
            accuracies.Length > 0 ? accuracies.Max() : double.NaN, losses.Length > 0 ? losses.Min() : double.NaN,
            targetEpoch, targetEpoch * bpe, result.Seconds, result.StopReason is { } r ? ErrorHandler.OneLine(r) : null)
        {
            History = history,
            MetricNames = recorder.MetricNames.ToArray(),
        };
    }

    public void Dispose()
    {
        foreach (var d in _bySeed.Values)
        {
            d.Train.Dispose();
            if (!ReferenceEquals(d.Valid, _full?.Valid)) d.Valid.Dispose();
        }
        if (_full is not null)
        {
            _full.Train.Dispose();
            _full.Valid.Dispose();
        }
    }

    /// <summary>One line per finished epoch on the log (stderr): long runs show they are alive.</summary>
    private sealed class EpochLines(TextWriter log, string prefix, Recorder recorder) : IProgress<FitProgress>
    {
        public void Report(FitProgress p)
        {
            if (p.Finished is not { } e) return;
            var metrics = string.Join("  ", recorder.MetricNames.Zip(e.Metrics, (n, v) => $"{n} {v.ToString("F4", CultureInfo.InvariantCulture)}"));
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefix} epoch {e.Epoch + 1}/{p.Epochs}  valid_loss {e.ValidLoss:F4}  {metrics}  ({e.Seconds:F1} s)"));
            log.Flush();
        }
    }
}

/// <summary>Mean and sample standard deviation, and their "mean ± std" form in tables.</summary>
internal static class Stats
{
    public static (double Mean, double Std) Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (double.NaN, double.NaN);
        double mean = values.Average();
        if (values.Count < 2) return (mean, double.NaN);
        double ss = values.Sum(v => (v - mean) * (v - mean));
        return (mean, Math.Sqrt(ss / (values.Count - 1)));
    }

    public static string Format(IReadOnlyList<double> values, string format = "F4")
    {
        var (mean, std) = Of(values);
        if (double.IsNaN(mean)) return "—";
        var m = mean.ToString(format, CultureInfo.InvariantCulture);
        return double.IsNaN(std) ? m : $"{m} ± {std.ToString(format, CultureInfo.InvariantCulture)}";
    }
}
