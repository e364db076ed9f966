using System.Text.Json.Serialization;
using Cadence.Cli.Experiments;
using Cadence.Data;
using Cadence.Models;
using Cadence.Training;

namespace Cadence.Cli.Training;

/// <summary>
/// One training run, the same for <c>fit</c>, <c>lr-find</c>, <c>compare</c> and <c>sweep</c>: seeded torch, loaders,
/// model and learner from the shared options; the policy's schedule for this data; the fit (or its resumption).
/// A run of <c>compare</c> or <c>sweep</c> with seed S therefore trains exactly what <c>cadence fit --seed S</c> trains.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private readonly bool _ownsData;

    private TrainingRun(Learner learner, DataLoaders data, string modelName, bool ownsData)
    {
        (Learner, Data, ModelName, _ownsData) = (learner, data, modelName, ownsData);
    }

    public Learner Learner { get; }

    public DataLoaders Data { get; }

    public string ModelName { get; }

    public long BatchesPerEpoch => Data.Train.BatchCount;

    /// <summary>
    /// Seeds torch, builds loaders, the model and the learner. With <paramref name="ownsData"/> the datasets are disposed
    /// with the run; otherwise they outlive it (an experiment loads its data once for every run). With a
    /// <paramref name="recipe"/> (<c>fit --recipe</c>, the technique options) the recipe builds model, loaders and learner.
    /// </summary>
    public static TrainingRun Create(TrainingSettings t, LoadedData data, long seed, IEnumerable<Callback>? callbacks, bool ownsData,
        TrainingRecipe? recipe = null)
    {
        TorchRuntime.Configure(seed: seed, threads: t.ThreadCount);
        if (recipe is not null)
        {
            var learner = recipe.CreateLearner(data.Train, data.Valid, seed, callbacks, data.ClassNames).Learner;
            return new TrainingRun(learner, learner.Data, recipe.Model, ownsData);
        }
        var loaders = DataLoaders.From(data.Train, data.Valid, (int)t.BatchSize, seed, classNames: data.ClassNames);
        try
        {
            string modelName = t.ModelName(data.Train);
            var spec = ModelZoo.Create(modelName, data.Train.SampleShape, loaders.Classes);
            var learn = new Learner(spec.Model, loaders, optimizer: t.Optimizer(), layerGroups: spec.LayerGroups, callbacks: callbacks);
            return new TrainingRun(learn, loaders, modelName, ownsData);
        }
        catch
        {
            if (ownsData) loaders.Dispose();
            throw;
        }
    }

    /// <summary>The policy's schedule for this data and model: its length from --epochs or its own, one lr or one per layer group.</summary>
    /// <param name="policy">The policy and its options.</param>
    /// <param name="epochs">--epochs, when given.</param>
    /// <param name="source">What to blame in messages (<c>--schedule</c>, <c>SCHEDULE 'clr'</c>).</param>
    public (Schedule Schedule, int Epochs) Plan(PolicyChoice policy, int? epochs, string source)
    {
        var (schedule, n) = policy.Build(BatchesPerEpoch, epochs);
        int groups = Learner.LayerGroups.Count;
        if (schedule.Groups != 1 && schedule.Groups != groups)
            throw new UsageException(source, $"the {policy.Policy} schedule has {schedule.Groups} learning rates but {ModelName} has {groups} layer groups; give one, or one per group");
        return (schedule, n);
    }

    /// <summary>Trains (or continues the checkpoint <paramref name="resumeFrom"/>) with <paramref name="progress"/> watching.</summary>
    public FitResult Fit(Schedule schedule, int epochs, IProgress<FitProgress>? progress, CancellationToken ct, string? resumeFrom = null)
    {
        Learner.Progress = progress;
        return resumeFrom is null ? Learner.Fit(schedule, epochs, ct) : Cadence.Checkpoints.Checkpoint.Resume(Learner, resumeFrom, schedule, epochs, ct);
    }

    /// <summary><c>--lr auto</c> (and <c>--max-lr</c>, <c>--lr-max auto</c>): the range test's valley lr in place of "auto", said on <paramref name="log"/>.</summary>
    public PolicyChoice ResolveAuto(PolicyChoice policy, TextWriter log, string command, CancellationToken ct)
    {
        string[] lrOptions = ["lr", "max-lr", "lr-max"];
        var auto = policy.Options.Where(kv => kv.Value == "auto").Select(kv => kv.Key).ToArray();
        if (auto.Length == 0) return policy;
        if (auto.FirstOrDefault(k => !lrOptions.Contains(k)) is { } bad) throw new UsageException("--" + bad, "auto is only for --lr, --max-lr and --lr-max");
        double lr = Learner.Resolve(Lr.Auto, new Say(log, command), cancellationToken: ct);
        var options = policy.Options.ToDictionary();
        foreach (var key in auto) options[key] = NumberFormat.Exact(lr);
        return policy with { Options = options };
    }

    public void Dispose()
    {
        Learner.Dispose();
        Learner.Model.Dispose();   // built here, so owned here: experiments build hundreds and must not wait for finalizers
        if (_ownsData) Data.Dispose();
        else
        {
            Data.Train.Dispose();   // the loaders only: the datasets serve the experiment's next run
            Data.Valid.Dispose();
        }
    }

    private sealed class Say(TextWriter log, string command) : IProgress<string>
    {
        public void Report(string value) => log.WriteLine($"cadence {command}: {value}");
    }
}

/// <summary>One epoch in JSON (history.json, results.json): the metrics by name, after the fixed fields.</summary>
internal sealed class EpochJson
{
    public int Epoch { get; init; }

    public double TrainLoss { get; init; }

    public double ValidLoss { get; init; }

    public double Seconds { get; init; }

    [JsonExtensionData]
    public Dictionary<string, object?> Metrics { get; init; } = [];

    public static EpochJson Of(EpochRecord e, IReadOnlyList<string> metricNames) => new()
    {
        Epoch = e.Epoch + 1,
        TrainLoss = e.TrainLoss,
        ValidLoss = e.ValidLoss,
        Seconds = Math.Round(e.Seconds, 3),
        Metrics = metricNames.Zip(e.Metrics).ToDictionary(m => m.First, m => (object?)(double.IsFinite(m.Second) ? m.Second : null)),
    };
}

/// <summary>One optimizer step in history.json: lr and momentum of every parameter group.</summary>
internal sealed record StepJson(long Step, int Epoch, double Loss, double SmoothLoss, double[] Lr, double[] Momentum)
{
    public static StepJson Of(StepRecord s) => new(s.Step, s.Epoch + 1, s.Loss, s.SmoothLoss, s.Lr, s.Momentum);
}

/// <summary><c>cadence fit --out DIR</c>'s history.json, from the recorder's records.</summary>
internal sealed record HistoryJson(string Model, string Schedule, IReadOnlyList<string> Metrics, IReadOnlyList<EpochJson> Epochs, IReadOnlyList<StepJson> Steps)
{
    public static HistoryJson Of(Recorder r, Schedule schedule, string model) =>
        new(model, schedule.Reference, r.MetricNames, [.. r.Epochs.Select(e => EpochJson.Of(e, r.MetricNames))], [.. r.Steps.Select(StepJson.Of)]);
}

/// <summary>The one JSON line of <c>cadence fit --json</c>.</summary>
internal sealed record FitJson(int Epochs, long Iterations, double TrainLoss, double ValidLoss, double Accuracy, double Seconds, double ImagesPerSecond);

/// <summary>One run of <c>compare</c> or <c>sweep</c> in results.json.</summary>
internal sealed record RunJson(long Seed, string Status, string? Reason, int Epochs, long Iterations, double TrainLoss, double ValidLoss,
    double Accuracy, double BestAccuracy, double BestValidLoss, int? TargetEpoch, long? TargetIteration, double Seconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<EpochJson>? History)
{
    public static RunJson Of(RunRecord r) => new(r.Seed, r.Status.ToString().ToLowerInvariant(), r.Reason, r.Epochs, r.Iterations, r.TrainLoss,
        r.ValidLoss, r.Accuracy, r.BestAccuracy, r.BestValidLoss, r.TargetEpoch, r.TargetIteration, Math.Round(r.Seconds, 3),
        r.History?.Select(e => EpochJson.Of(e, r.MetricNames)).ToList());
}
