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
    private readonly BatchAugmenter? _augmenter;

    /// <summary>libtorch's deterministic mode as this process last set it (it is process-wide; tests run many commands in one process).</summary>
    private static bool _deterministic;

    private TrainingRun(Learner learner, DataLoaders data, string modelName, bool ownsData, BatchAugmenter? augmenter)
    {
        (Learner, Data, ModelName, _ownsData, _augmenter) = (learner, data, modelName, ownsData, augmenter);
    }

    public Learner Learner { get; }

    public DataLoaders Data { get; }

    public string ModelName { get; }

    /// <summary>Optimizer steps per epoch (batches, or groups of --accumulate batches): what schedules are built for.</summary>
    public long BatchesPerEpoch => Learner.StepsPerEpoch;

    private long _effectiveBatch;

    /// <summary>
    /// What <c>--weights</c> may adapt in each model: the head replaced for another number of classes, and the first
    /// convolution summed to one channel (fastai's <c>cnn_learner</c> cut and <c>_load_pretrained_weights</c>).
    /// </summary>
    private static readonly Dictionary<string, (string Head, string? FirstConv)> Adaptable = new()
    {
        ["resnet18"] = ("fc", "conv1.weight"),
        ["resnet34"] = ("fc", "conv1.weight"),
        ["resnet"] = ("head.fc", "stem.conv.weight"),
        ["cnn"] = ("head.fc2", "body.conv1.weight"),
        ["mlp"] = ("fc2", null),
    };

    /// <summary>
    /// Seeds torch, sets its deterministic mode (<c>--deterministic</c>), builds loaders, the model (with <c>--weights</c>)
    /// and the learner (metrics accuracy and error_rate; <c>--aug</c>'s augmentation, seeded) on the chosen device
    /// (<see cref="TrainingSettings.Selection"/>). With <paramref name="ownsData"/> the datasets are disposed with the run;
    /// otherwise they outlive it (an experiment loads its data once for every run). With a <paramref name="recipe"/>
    /// (<c>fit --recipe</c>, the technique options) the recipe builds model, loaders and learner.
    /// </summary>
    public static TrainingRun Create(TrainingSettings t, LoadedData data, long seed, IEnumerable<Callback>? callbacks, bool ownsData, DataLog? log = null,
        TrainingRecipe? recipe = null)
    {
        var device = t.Selection.Device;
        TorchRuntime.Configure(seed: seed, threads: t.ThreadCount, device: device);
        if (t.Deterministic != _deterministic) TorchRuntime.Deterministic = _deterministic = t.Deterministic;
        if (recipe is not null)
        {
            var learner = recipe.CreateLearner(data.Train, data.Valid, seed, callbacks, data.ClassNames, [new Accuracy(), new ErrorRate()], device).Learner;
            learner.AccumulationSteps = (int)t.Accumulate;
            return new TrainingRun(learner, learner.Data, recipe.Model, ownsData, augmenter: null) { _effectiveBatch = recipe.BatchSize * t.Accumulate };
        }
        var loaders = DataLoaders.From(data.Train, data.Valid, (int)t.BatchSize, seed, classNames: data.ClassNames);
        BatchAugmenter? augmenter = null;
        try
        {
            string modelName = t.ModelName(data.Train);
            var spec = ModelZoo.Create(modelName, data.Train.SampleShape, loaders.Classes);
            if (t.Weights is { } weights)
            {
                var (head, firstConv) = Adaptable[modelName];
                try
                {
                    foreach (var line in PyTorchWeights.Load(spec.Model, weights, head, firstConv)) log?.Say($"--weights: {line}");
                }
                catch (DataFormatException e)
                {
                    spec.Model.Dispose();
                    throw new OptionIOException("--weights", e.Message, e);
                }
            }
            var all = callbacks?.ToList() ?? [];
            if (t.AugPreset is { } preset)
            {
                augmenter = new BatchAugmenter(AugmentationOptions.Presets[preset], seed);
                all.Add(new AugmentationCallback(augmenter));
                log?.Say($"--aug {preset}: every training batch {Describe(augmenter.Options)} (seeded; validation batches are not augmented)");
            }
            var learn = new Learner(spec.Model, loaders, optimizer: t.Optimizer(), metrics: [new Accuracy(), new ErrorRate()],
                layerGroups: spec.LayerGroups, callbacks: all, device: device)
            {
                AccumulationSteps = (int)t.Accumulate,
            };
            return new TrainingRun(learn, loaders, modelName, ownsData, augmenter) { _effectiveBatch = t.EffectiveBatch };
        }
        catch
        {
            augmenter?.Dispose();
            if (ownsData) loaders.Dispose();
            throw;
        }
    }

    /// <summary>An augmentation in words: <c>flipped with p 0.5, rotated up to 10° and zoomed 1–1.1 with p 0.75 each</c>.</summary>
    private static string Describe(AugmentationOptions o)
    {
        string F(double v) => NumberFormat.Human(v);
        var parts = new List<string>();
        if (o.FlipP > 0) parts.Add($"flipped left–right with p {F(o.FlipP)}");
        var affine = new List<string>();
        if (o.MaxRotate > 0) affine.Add($"rotated up to {F(o.MaxRotate)}°");
        if (o.MaxZoom > 1 || o.MinZoom < 1) affine.Add($"zoomed {F(o.MinZoom)}–{F(o.MaxZoom)}");
        if (affine.Count > 0) parts.Add($"{string.Join(" and ", affine)} with p {F(o.AffineP)} each");
        if (o.CropPadding > 0) parts.Add($"randomly cropped after {o.CropPadding} pixels of reflect padding");
        return string.Join(", ", parts);
    }

    /// <summary>The policy's schedule for this data and model: its length from --epochs or its own, one lr or one per layer group.</summary>
    /// <param name="policy">The policy and its options.</param>
    /// <param name="epochs">--epochs, when given.</param>
    /// <param name="source">What to blame in messages (<c>--schedule</c>, <c>SCHEDULE 'clr'</c>).</param>
    public (Schedule Schedule, int Epochs) Plan(PolicyChoice policy, int? epochs, string source)
    {
        var (schedule, n) = policy.Build(BatchesPerEpoch, epochs, _effectiveBatch);
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

    /// <summary>fastai v2's <c>fine_tune</c> with <c>--fine-tune EPOCHS</c> and the fine-tune options, for this model's layer groups and this data's batches per epoch.</summary>
    /// <exception cref="ValidationException">An option out of range (named); a model with one layer group (--model).</exception>
    public FineTunePlan FineTunePlan(PolicyChoice policy, int epochs) => PlanFineTune(policy, epochs, Learner.LayerGroups.Count, BatchesPerEpoch, ModelName);

    /// <summary>
    /// <see cref="Schedules.FineTune.Plan"/> from the options of the fine-tune policy (base-lr, freeze-epochs, lr-mult,
    /// pct-start, div, moms, div-final; their text already checked), errors named as the command line names them.
    /// </summary>
    public static FineTunePlan PlanFineTune(PolicyChoice policy, int epochs, int groups, long batchesPerEpoch, string model)
    {
        var o = policy.Options;
        double D(string name, double fallback) => o.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int I(string name, int fallback) => o.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        double[]? moms = o.TryGetValue("moms", out var m) ? [.. m.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture))] : null;
        try
        {
            return Schedules.FineTune.Plan(groups, epochs, batchesPerEpoch, D("base-lr", 2e-3), I("freeze-epochs", 1), D("lr-mult", 100),
                D("pct-start", 0.3), D("div", 5), moms, D("div-final", 1e5));
        }
        catch (ScheduleValidationException e)
        {
            throw new ValidationException([.. e.Errors.Select(x => x.Parameter switch
            {
                "groups" => x with { Parameter = "--model", Message = $"{model} has one layer group; fine-tuning freezes all but the last, so it needs two or more" },
                "epochs" => x with { Parameter = "--fine-tune" },
                _ => x with { Parameter = OptionNames.Of(x.Parameter) },
            })]);
        }
    }

    /// <summary>Runs <paramref name="plan"/> with <paramref name="phases"/> joining its two fits into one run for the display and the history.</summary>
    public FitResult FineTune(FineTunePlan plan, FineTuneRun phases, CancellationToken ct)
    {
        Learner.Add(phases);
        Learner.Progress = phases;
        return FineTuneRun.Combined(Learner.FineTune(plan, ct));
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
        _augmenter?.Dispose();
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

    /// <summary>A fine-tune's phase of the epoch (<c>frozen</c> or <c>unfrozen</c>); absent for other fits.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Phase { get; init; }

    public double TrainLoss { get; init; }

    public double ValidLoss { get; init; }

    public double Seconds { get; init; }

    [JsonExtensionData]
    public Dictionary<string, object?> Metrics { get; init; } = [];

    public static EpochJson Of(EpochRecord e, IReadOnlyList<string> metricNames, Func<int, string>? phaseOf = null) => new()
    {
        Epoch = e.Epoch + 1,
        Phase = phaseOf?.Invoke(e.Epoch),
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
    public static HistoryJson Of(Plots.TrainingHistory h, Schedule schedule, string model, Func<int, string>? phaseOf = null) =>
        new(model, schedule.Reference, h.MetricNames, [.. h.Epochs.Select(e => EpochJson.Of(e, h.MetricNames, phaseOf))], [.. h.Steps.Select(StepJson.Of)]);
}

/// <summary>
/// The one JSON line of <c>cadence fit --json</c>: <c>stopped_early</c> and <c>reason</c> (the guard's one line) as
/// <c>lr-find --json</c> writes them, for a run a NaN or divergence stopped (exit 1).
/// </summary>
internal sealed record FitJson(int Epochs, long Iterations, double TrainLoss, double ValidLoss, double Accuracy, double ErrorRate, double Seconds, double ImagesPerSecond,
    string Device, bool StoppedEarly, string? Reason);

/// <summary>One run of <c>compare</c> or <c>sweep</c> in results.json.</summary>
internal sealed record RunJson(long Seed, string Status, string? Reason, int Epochs, long Iterations, double TrainLoss, double ValidLoss,
    double Accuracy, double BestAccuracy, double BestValidLoss, int? TargetEpoch, long? TargetIteration, double Seconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<EpochJson>? History)
{
    public static RunJson Of(RunRecord r) => new(r.Seed, r.Status.ToString().ToLowerInvariant(), r.Reason, r.Epochs, r.Iterations, r.TrainLoss,
        r.ValidLoss, r.Accuracy, r.BestAccuracy, r.BestValidLoss, r.TargetEpoch, r.TargetIteration, Math.Round(r.Seconds, 3),
        r.History?.Select(e => EpochJson.Of(e, r.MetricNames)).ToList());
}
