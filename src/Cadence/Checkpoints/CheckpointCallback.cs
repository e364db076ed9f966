using System.Globalization;
using System.Text.Json;
using Cadence.Training;

namespace Cadence.Checkpoints;

/// <summary>When and where <see cref="CheckpointCallback"/> writes checkpoints.</summary>
public sealed record CheckpointOptions
{
    /// <summary>Directory of the checkpoints (created when needed).</summary>
    public required string Directory { get; init; }

    /// <summary>Write a rolling checkpoint every this many iterations (0: none).</summary>
    public long EveryIterations { get; init; }

    /// <summary>Write a rolling checkpoint at the end of every epoch (after validation).</summary>
    public bool EveryEpoch { get; init; } = true;

    /// <summary>Write a rolling checkpoint when the fit is cancelled (Ctrl-C, a callback), unless the last loss was NaN or infinite.</summary>
    public bool OnCancel { get; init; } = true;

    /// <summary>Rolling checkpoints to keep (the newest); cycle and best snapshots are never deleted.</summary>
    public int Keep { get; init; } = 3;

    /// <summary>
    /// fastai 0.7 <c>cycle_save_name</c>: a snapshot <c>{name}_cyc_{c}</c> at the end of every cycle c (0-based), or null.
    /// Needs <see cref="CycleEnds"/>.
    /// </summary>
    public string? CycleSaveName { get; init; }

    /// <summary>Iterations (steps done) at which a cycle ends, ascending; see <see cref="FastAi07CycleEnds"/>.</summary>
    public IReadOnlyList<long>? CycleEnds { get; init; }

    /// <summary>fastai 0.7 <c>best_save_name</c>: a snapshot of that name whenever <see cref="BestMetric"/> improves at an epoch end, or null.</summary>
    public string? BestSaveName { get; init; }

    /// <summary>Metric name, or <c>valid_loss</c>; null: the first metric, else the validation loss (fastai's <c>SaveBestModel</c>).</summary>
    public string? BestMetric { get; init; }

    /// <summary>Whether a larger <see cref="BestMetric"/> is better; null: smaller for names ending in "loss" or "error", larger otherwise.</summary>
    public bool? BestHigherIsBetter { get; init; }

    /// <summary>The run's configuration, stored in every checkpoint (JSON text), or null.</summary>
    public string? Configuration { get; init; }

    /// <summary>Called with the path of every checkpoint once it is durable (e.g. <see cref="RunDirectory.CheckpointSaved"/>), or null.</summary>
    public Action<string>? Saved { get; init; }

    /// <summary>
    /// The iterations at which fastai 0.7's <c>learn.fit</c> cycles end: cosine annealing (<c>cycle_len</c>) grows
    /// each cycle by <c>cycle_mult</c>; <c>use_clr</c> and <c>use_clr_beta</c> repeat cycles of
    /// <c>cycle_len</c> epochs over all the epochs. Without <c>cycle_len</c> there are no cycles.
    /// </summary>
    public static IReadOnlyList<long> FastAi07CycleEnds(long batchesPerEpoch, int cycles, int? cycleLen, int cycleMult, bool clr)
    {
        if (batchesPerEpoch < 1) throw new ArgumentOutOfRangeException(nameof(batchesPerEpoch), batchesPerEpoch, "must be ≥ 1");
        if (cycleLen is not { } len) return [];
        long total = Schedules.FastAi07.Epochs(cycles, cycleLen, cycleMult) * batchesPerEpoch;
        long nb = batchesPerEpoch * len;
        var ends = new List<long>();
        if (clr)
        {
            for (long at = nb; at <= total; at += nb) ends.Add(at);
            return ends;
        }
        long end = 0;
        for (int c = 0; c < cycles && end + nb <= total; c++, nb *= cycleMult) ends.Add(end += nb);
        return ends;
    }
}

/// <summary>
/// Writes checkpoints during a fit (<see cref="Checkpoint"/>): rolling ones every N iterations, at each epoch end and
/// on cancellation (the newest <see cref="CheckpointOptions.Keep"/> are kept), fastai 0.7's cycle snapshots and the
/// best-so-far snapshot.
/// <para>
/// Cycle snapshots are written after the <em>last</em> batch of the cycle, so <c>{name}_cyc_{c}</c> holds the weights
/// at the true end of cycle c. fastai 0.7 saved them from inside <c>calc_lr</c> during the second-to-last batch's
/// <c>on_batch_end</c>, so its snapshots miss the cycle's final batch (see docs/checkpoints.md).
/// </para>
/// <para>
/// With a <see cref="Callbacks.DivergenceGuard"/> on the learner, no rolling checkpoint is written while the loss is
/// suspect (above the guard's threshold) nor when the guard stops the fit, so the newest rolling checkpoint is always
/// the last good one.
/// </para>
/// </summary>
public sealed class CheckpointCallback : Callback, ICheckpointState
{
    private HashSet<long> _cycleEnds = [];
    private long[] _cycleEndList = [];
    private double _best;
    private string? _bestName;
    private bool _higherIsBetter;
    private TrainingPosition? _lastRolling;
    private Callbacks.DivergenceGuard? _guard;

    /// <summary>Creates the callback.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public CheckpointCallback(CheckpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Directory)) throw new ArgumentException("Directory: required", nameof(options));
        if (options.EveryIterations < 0) throw new ArgumentOutOfRangeException(nameof(options), options.EveryIterations, "EveryIterations: must be ≥ 0");
        if (options.Keep < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Keep, "Keep: must be ≥ 1");
        if (options.CycleSaveName is not null && options.CycleEnds is null)
            throw new ArgumentException("CycleSaveName needs CycleEnds (e.g. CheckpointOptions.FastAi07CycleEnds)", nameof(options));
        if (options.CycleEnds is { } ends)
        {
            for (int i = 0; i < ends.Count; i++)
                if (ends[i] < 1 || (i > 0 && ends[i] <= ends[i - 1]))
                    throw new ArgumentException("CycleEnds: must be ascending iterations ≥ 1", nameof(options));
            _cycleEndList = [.. ends];
            _cycleEnds = [.. ends];
        }
        Options = options;
    }

    /// <summary>The options.</summary>
    public CheckpointOptions Options { get; }

    /// <summary>After the recorder (50) and the CSV logger (55), before <see cref="Callbacks.EarlyStopping"/> (60), so the epoch-end checkpoint is written even when early stopping ends the fit.</summary>
    public override int Order => 58;

    /// <summary>An LR range test writes no checkpoint.</summary>
    public override bool RunsDuringLrFind => false;

    /// <summary>Path of the newest rolling checkpoint of this fit (or the one it resumed from), or null.</summary>
    public string? LastRolling { get; private set; }

    /// <summary>Best value of the best-so-far metric in this fit (NaN before the first epoch end).</summary>
    public double Best => _best;

    /// <inheritdoc />
    public string CheckpointKey => "checkpoint";

    /// <inheritdoc />
    public string SaveCheckpointState() => JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["best"] = _best.ToString("R", CultureInfo.InvariantCulture),
    });

    /// <inheritdoc />
    public void LoadCheckpointState(string json)
    {
        var state = JsonSerializer.Deserialize<Dictionary<string, string>>(json);
        if (state is not null && state.TryGetValue("best", out var b)) _best = double.Parse(b, NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public override void BeforeFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        CheckpointStore.RemoveTemporaries(Options.Directory);
        _best = double.NaN;
        (_bestName, _higherIsBetter) = BestMetric(learner);
        _lastRolling = learner.StartAt;
        _guard = learner.Callbacks.OfType<Callbacks.DivergenceGuard>().FirstOrDefault();
        LastRolling = learner.StartAt is { } at && Directory.Exists(Path.Combine(Options.Directory, Checkpoint.RollingName(at)))
            ? Path.Combine(Options.Directory, Checkpoint.RollingName(at)) : null;
    }

    /// <inheritdoc />
    public override void AfterBatch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        long it = learner.Iteration;
        if (it == 0) return;
        if (Options.EveryIterations > 0 && it % Options.EveryIterations == 0) SaveRolling(learner, "iteration");
        if (Options.CycleSaveName is { } name && _cycleEnds.Contains(it))
        {
            int cycle = Array.BinarySearch(_cycleEndList, it);
            Saved(Checkpoint.Save(learner, Options.Directory, Checkpoint.CycleName(name, cycle), "cycle", Options.Configuration));
        }
    }

    /// <inheritdoc />
    public override void AfterEpoch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (Options.BestSaveName is { } best && _bestName is not null)
        {
            double v = _bestName == "valid_loss" ? learner.ValidLoss : MetricValue(learner, _bestName);
            if (!double.IsNaN(v) && (double.IsNaN(_best) || (_higherIsBetter ? v > _best : v < _best)))
            {
                _best = v;
                Saved(Checkpoint.Save(learner, Options.Directory, best, "best", Options.Configuration));
            }
        }
        if (Options.EveryEpoch) SaveRolling(learner, "epoch");
    }

    /// <inheritdoc />
    public override void AfterCancelFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        // After a NaN or infinite loss, or a divergence, the newest checkpoint stays the last good one.
        if (Options.OnCancel && double.IsFinite(learner.Loss)) SaveRolling(learner, "interrupt");
    }

    private void SaveRolling(Learner learner, string kind)
    {
        var at = learner.Position;
        if (_lastRolling == at || _guard is { Healthy: false }) return;
        LastRolling = Checkpoint.Save(learner, Options.Directory, Checkpoint.RollingName(at), kind, Options.Configuration, at);
        _lastRolling = at;
        Saved(LastRolling);
        // Prune only older ones: after resuming from an earlier checkpoint, later ones (rewritten as the run goes on) stay.
        var older = Checkpoint.Rolling(Options.Directory).Where(p => string.CompareOrdinal(p, LastRolling) < 0).ToArray();
        for (int i = 0; i < older.Length - (Options.Keep - 1); i++)
        {
            try { CheckpointStore.Delete(older[i]); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // pruning is best effort: an old checkpoint left behind harms nothing
        }
    }

    private void Saved(string checkpoint) => Options.Saved?.Invoke(checkpoint);

    private (string? Name, bool HigherIsBetter) BestMetric(Learner learner)
    {
        if (Options.BestSaveName is null) return (null, false);
        string name = Options.BestMetric ?? (learner.Metrics.Count > 0 ? learner.Metrics[0].Name : "valid_loss");
        if (name != "valid_loss" && !learner.Metrics.Any(m => m.Name == name))
            throw new ArgumentException($"BestMetric: '{name}' is neither valid_loss nor one of the learner's metrics ({string.Join(", ", learner.Metrics.Select(m => m.Name))})");
        bool higher = Options.BestHigherIsBetter ?? !(name.EndsWith("loss", StringComparison.Ordinal) || name.EndsWith("error", StringComparison.Ordinal));
        return (name, higher);
    }

    private static double MetricValue(Learner learner, string name)
    {
        for (int i = 0; i < learner.Metrics.Count && i < learner.MetricValues.Count; i++)
            if (learner.Metrics[i].Name == name) return learner.MetricValues[i];
        return double.NaN;
    }
}
