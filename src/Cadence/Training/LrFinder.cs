using System.Diagnostics;
using System.Globalization;
using Cadence.Schedules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>Which reference's LR range test to reproduce.</summary>
public enum LrFindMode
{
    /// <summary>
    /// fastai v2 <c>lr_find</c> (reference/schedules.md §3.5): <c>numIt</c> batches over as many epochs as needed, batch
    /// t at <c>start·(end/start)^(t/numIt)</c>, stop after recording a smoothed loss above 4× the best so far (best
    /// tracked from the first batch); a NaN loss does not stop the run, the suggestions ignore everything from it on.
    /// </summary>
    FastAi2,
    /// <summary>
    /// fastai 0.7 <c>lr_find</c> (§1.7): one epoch, start 1e-5, batch k (1-based) at <c>start·(end/start)^((k−1)/nb)</c>,
    /// stop on a NaN or a smoothed loss above 4× the best, the best tracked from batch 12 only, and the batch that
    /// stops the run is not recorded.
    /// </summary>
    FastAi07,
}

/// <summary>Options of <see cref="LrFinder.LrFind(Learner, LrFindOptions, IProgress{LrFindProgress}?, CancellationToken)"/>.</summary>
public sealed record LrFindOptions
{
    /// <summary>Learning rate of the first batch (of the last layer group); null: 1e-7 (fastai v2) or 1e-5 (fastai 0.7).</summary>
    public double? StartLr { get; init; }

    /// <summary>The learning rate the sweep heads for (never reached: the last batch is one step short of it).</summary>
    public double EndLr { get; init; } = 10;

    /// <summary>Batches of the sweep (fastai v2; raised to 6 as fastai does). fastai 0.7 sweeps exactly one epoch and ignores it.</summary>
    public int NumIt { get; init; } = 100;

    /// <summary>Stop when the smoothed loss exceeds 4× the best smoothed loss.</summary>
    public bool StopDiv { get; init; } = true;

    /// <summary>
    /// A linear sweep instead of an exponential one. fastai v2: <c>start + (end − start)·t/numIt</c> (<c>SchedLin</c>);
    /// fastai 0.7: <c>start·(end/start)/nb·(k − 1)</c>, so the first batch has lr 0 and the start lr only sets the scale.
    /// </summary>
    public bool Linear { get; init; }

    /// <summary>Which reference to reproduce.</summary>
    public LrFindMode Mode { get; init; } = LrFindMode.FastAi2;

    /// <summary>
    /// Differential learning rates: one per layer group, as you would pass them to <c>Fit</c>. Only their ratios to
    /// the last group count: every group is swept at the last group's lr times its ratio. Null: every group alike.
    /// </summary>
    public IReadOnlyList<double>? GroupLrs { get; init; }

    /// <summary>The first batch's lr in effect: <see cref="StartLr"/> or the mode's default.</summary>
    public double EffectiveStartLr => StartLr ?? (Mode == LrFindMode.FastAi07 ? 1e-5 : 1e-7);

    /// <summary>Every invalid option, named by its parameter (<c>startLr</c>, <c>endLr</c>, <c>numIt</c>, <c>groupLrs</c>), with the allowed range.</summary>
    public IReadOnlyList<ValidationError> Errors(int layerGroups)
    {
        double start = EffectiveStartLr;
        var check = new Check()
            .Positive("startLr", start)
            .That(EndLr > start && double.IsFinite(EndLr), "endLr", $"must be a finite number above the start lr ({NumberFormat.Exact(start)}), got {NumberFormat.Exact(EndLr)}")
            .That(NumIt >= 1, "numIt", $"must be ≥ 1, got {NumIt}");
        if (GroupLrs is { } g)
        {
            if (g.Count != layerGroups) check.Fail("groupLrs", $"give one lr per layer group ({layerGroups}), got {g.Count}");
            else check.Lr("groupLrs", g);
        }
        return check.Errors;
    }

    /// <summary><see cref="Errors"/> as text (<c>parameter: problem</c>).</summary>
    public IEnumerable<string> Validate(int layerGroups) => Errors(layerGroups).Select(e => e.ToString());
}

/// <summary>Progress of a range test, reported after every batch.</summary>
/// <param name="Iteration">Batches done.</param>
/// <param name="Total">Batches the sweep runs at most.</param>
/// <param name="Lr">Learning rate of the last group at this batch.</param>
/// <param name="Loss">Raw loss of the batch.</param>
/// <param name="SmoothLoss">Debiased moving average of the loss (β = 0.98).</param>
public readonly record struct LrFindProgress(int Iteration, int Total, double Lr, double Loss, double SmoothLoss);

/// <summary>What a range test recorded and what it suggests.</summary>
/// <param name="Mode">The reference reproduced.</param>
/// <param name="Lrs">Learning rate of the last layer group at each recorded batch.</param>
/// <param name="Losses">Raw loss of each recorded batch.</param>
/// <param name="Smoothed">Debiased moving average of the loss (β = 0.98) at each recorded batch: what the stop rule and the suggestions read.</param>
/// <param name="Suggestions">Every suggestion the curve allows (a method is absent when the window has too few points for it).</param>
/// <param name="WindowStart">First recorded point the suggestions read (fastai v2: <c>numIt // 10</c>; 0.7's plot: 10).</param>
/// <param name="WindowCount">Points the suggestions read (the window ends 5 points (0.7: 6) before the end, and before the first NaN).</param>
/// <param name="StoppedEarly">Whether the loss stopped the run (divergence, or NaN in fastai 0.7 mode) before the planned batches.</param>
/// <param name="Reason">Why the sweep ended, in words.</param>
/// <param name="Batches">Batches trained (in fastai 0.7 mode one more than recorded when the loss stopped the run).</param>
/// <param name="Seconds">Wall time.</param>
public sealed record LrFindResult(LrFindMode Mode, IReadOnlyList<double> Lrs, IReadOnlyList<double> Losses, IReadOnlyList<double> Smoothed,
    IReadOnlyDictionary<LrSuggestion, SuggestedLr> Suggestions, int WindowStart, int WindowCount, bool StoppedEarly, string Reason, int Batches, double Seconds)
{
    /// <summary>fastai's default suggestion, or null when the window is empty.</summary>
    public SuggestedLr? Valley => Suggestions.GetValueOrDefault(LrSuggestion.Valley);
}

/// <summary>
/// Smith's LR range test as fastai runs it (<c>learn.lr_find()</c>): trains on increasing learning rates, records the
/// smoothed loss, and reads suggestions off the curve with <see cref="LrSuggestions"/>. Afterwards the model (weights
/// and buffers), the gradients and the optimizer's state and hyper-parameters are exactly what they were.
/// </summary>
/// <remarks>
/// As in fastai v2, the sweep is a fit through the learner's own loop (same device, data placement, dispose scopes and
/// callbacks) with a finder callback that follows the sweep, records the curve, stops it and skips validation. Of the
/// learner's callbacks those with <see cref="Callback.RunsDuringLrFind"/> run: the NaN guard (the sweep then ends at the
/// first NaN), gradient clipping, augmentation; the recorder, loggers, checkpoints and early stopping do not, so the
/// learner's history, counters and files are untouched (fastai runs its fit under <c>no_logging</c> and cancels
/// validation for the same reason). Frozen layer groups stay frozen. The data loader's shuffling and TorchSharp's
/// global generator advance, as in fastai. On a GPU the losses are read in chunks, so the sweep may run up to
/// <see cref="Learner.LossReadInterval"/> batches past its stopping point; those are neither recorded nor counted.
/// </remarks>
public static class LrFinder
{
    private const double Beta = 0.98;

    /// <summary>fastai's <c>learn.lr_find(start_lr, end_lr, num_it, stop_div)</c> with the given options.</summary>
    /// <param name="learner">The learner whose model and optimizer are probed (and restored).</param>
    /// <param name="options">The sweep.</param>
    /// <param name="progress">Receives every batch.</param>
    /// <param name="cancellationToken">Stops the sweep after the current batch; the state is restored before the exception propagates.</param>
    /// <exception cref="ArgumentException">An option is invalid (every invalid option is named).</exception>
    public static LrFindResult LrFind(this Learner learner, LrFindOptions options, IProgress<LrFindProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(options);
        int groups = learner.LayerGroups.Count;
        var errors = options.Validate(groups).ToArray();
        if (errors.Length > 0) throw new ArgumentException(string.Join("; ", errors), nameof(options));
        long batchesPerEpoch = learner.Data.Train.BatchCount;
        if (batchesPerEpoch < 1) throw new ArgumentException("the training data has no batch (fewer samples than one batch with dropLast)", nameof(learner));

        var sweep = Sweep.Create(options, batchesPerEpoch, groups);
        var finder = new Finder(options.Mode, options.StopDiv, sweep, progress);
        var optimizer = learner.Optimizer;
        var clock = Stopwatch.StartNew();
        using (NewDisposeScope())
        using (var snapshot = TrainingSnapshot.Take(learner.Model, learner.LayerGroups.SelectMany(g => g), optimizer))
        {
            try
            {
                learner.RunRangeTest(sweep.Schedule(groups), checked((int)((sweep.Batches + batchesPerEpoch - 1) / batchesPerEpoch)), finder, cancellationToken);
            }
            finally
            {
                optimizer.zero_grad();
                snapshot.Restore();
            }
        }

        var (lrs, smoothed) = (finder.Lrs, finder.Smoothed);
        // The finder's own reason; else a callback stopped the fit (the NaN guard), which counts as stopping early.
        bool early = finder.StoppedEarly || finder.Reason is null && finder.StopReason is not null;
        string reason = finder.Reason ?? finder.StopReason ?? Say($"ran {finder.Trained} batches");
        int skipStart = options.Mode == LrFindMode.FastAi07 ? 10 : options.NumIt / 10;
        int skipEnd = options.Mode == LrFindMode.FastAi07 ? 6 : 5;
        var (wl, ws) = LrSuggestions.Window(lrs, smoothed, skipStart, skipEnd);
        int firstNaN = smoothed.FindIndex(double.IsNaN);
        if (firstNaN >= 0 && options.Mode == LrFindMode.FastAi2)
            reason += Say($"; the loss became NaN at batch {firstNaN + 1} (lr {lrs[firstNaN]:G4}), so the suggestions read only the points before it");
        return new LrFindResult(options.Mode, lrs, finder.Losses, smoothed, LrSuggestions.All(wl, ws), skipStart, wl.Length, early, reason, finder.Trained,
            clock.Elapsed.TotalSeconds);
    }

    /// <summary>fastai v2's <c>learn.lr_find(start_lr=1e-7, end_lr=10, num_it=100, stop_div=True)</c>, or fastai 0.7's with <paramref name="mode"/>.</summary>
    /// <param name="learner">The learner whose model and optimizer are probed (and restored).</param>
    /// <param name="startLr">Learning rate of the first batch; null: the mode's default (1e-7, or 1e-5 for fastai 0.7).</param>
    /// <param name="endLr">The learning rate the sweep heads for.</param>
    /// <param name="numIt">Batches of the sweep (fastai v2 only).</param>
    /// <param name="stopDiv">Stop when the smoothed loss exceeds 4× the best.</param>
    /// <param name="linear">Linear rather than exponential sweep.</param>
    /// <param name="mode">The reference reproduced.</param>
    /// <param name="groupLrs">Differential learning rates (only their ratios to the last group count).</param>
    /// <param name="progress">Receives every batch.</param>
    /// <param name="cancellationToken">Stops the sweep; the state is restored first.</param>
    public static LrFindResult LrFind(this Learner learner, double? startLr = null, double endLr = 10, int numIt = 100, bool stopDiv = true,
        bool linear = false, LrFindMode mode = LrFindMode.FastAi2, IReadOnlyList<double>? groupLrs = null,
        IProgress<LrFindProgress>? progress = null, CancellationToken cancellationToken = default) =>
        learner.LrFind(new LrFindOptions { StartLr = startLr, EndLr = endLr, NumIt = numIt, StopDiv = stopDiv, Linear = linear, Mode = mode, GroupLrs = groupLrs },
            progress, cancellationToken);

    /// <summary>
    /// The learning rate <paramref name="lr"/> stands for: its value, or for <see cref="Lr.Auto"/> the suggestion of a
    /// range test run now (model and optimizer restored afterwards). <paramref name="messages"/> is told which lr was
    /// chosen and why.
    /// </summary>
    /// <exception cref="InvalidOperationException">The range test recorded too few points for the suggestion.</exception>
    public static double Resolve(this Learner learner, Lr lr, IProgress<string>? messages = null, IProgress<LrFindProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(lr);
        if (lr.Value is { } v) return v;
        var found = learner.LrFind(lr.FindOptions ?? new LrFindOptions(), progress, cancellationToken);
        var s = found.Suggestions.GetValueOrDefault(lr.Suggestion)
            ?? throw new InvalidOperationException(
                $"the LR range test recorded {found.Lrs.Count} points ({found.Reason}), too few for the {lr.Suggestion.ToString().ToLowerInvariant()} suggestion " +
                $"(it reads points {found.WindowStart} to the 6th from the end); give a learning rate instead");
        messages?.Report(Say($"lr auto: {s.Lr:G4}, the {s.Method.ToString().ToLowerInvariant()} suggestion of an LR range test over {found.Batches} batches ({found.Reason}): {s.Why}"));
        return s.Lr;
    }

    /// <summary>
    /// fastai 0.7 <c>learn.fit(lr, …)</c> where the learning rate may be <see cref="Lr.Auto"/>: runs the range test
    /// first (see <see cref="Resolve"/>), then fits with the chosen lr for every layer group.
    /// </summary>
    public static FitResult Fit(this Learner learner, Lr lr, int cycles = 1, int? cycleLen = null, int cycleMult = 1,
        UseClr? useClr = null, UseClrBeta? useClrBeta = null, IProgress<string>? messages = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        double value = learner.Resolve(lr, messages, cancellationToken: cancellationToken);
        return learner.Fit([value], cycles, cycleLen, cycleMult, useClr, useClrBeta, cancellationToken);
    }

    /// <summary>
    /// fastai v2 <c>learn.fit_one_cycle(n_epoch, lr_max)</c> where <paramref name="lrMax"/> may be <see cref="Lr.Auto"/>
    /// (fastai's advice: the valley suggestion as lr_max): runs the range test first, then the one cycle.
    /// </summary>
    public static FitResult FitOneCycle(this Learner learner, int epochs, Lr lrMax, double div = 25, double divFinal = 1e5, double pctStart = 0.25,
        IReadOnlyList<double>? moms = null, IProgress<string>? messages = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        double value = learner.Resolve(lrMax, messages, cancellationToken: cancellationToken);
        return learner.FitOneCycle(epochs, [value], div, divFinal, pctStart, moms, cancellationToken);
    }

    private static string Say(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// fastai's <c>LRFinder</c> callback: reads each batch's loss, smooths it (debiased EMA, β = 0.98), records the curve,
    /// reports progress, and cancels the fit when the stop rule of the mode fires or the sweep is done; it also cancels
    /// every epoch's validation. The learner writes the sweep's learning rates itself: the sweep is its schedule.
    /// </summary>
    private sealed class Finder(LrFindMode mode, bool stopDiv, Sweep sweep, IProgress<LrFindProgress>? progress) : Callback
    {
        private readonly Queue<BatchLoss> _read = new();
        private double _average, _best = mode == LrFindMode.FastAi07 ? 1e9 : double.PositiveInfinity;

        public List<double> Lrs { get; } = [];
        public List<double> Losses { get; } = [];
        public List<double> Smoothed { get; } = [];
        public int Trained { get; private set; }
        public bool StoppedEarly { get; private set; }
        public string? Reason { get; private set; }
        public string? StopReason { get; private set; }

        /// <summary>After the NaN guard and gradient clipping, where the recorder would be.</summary>
        public override int Order => 50;

        public override void AfterLossRead(Learner learner, BatchLoss loss) => _read.Enqueue(loss);

        // A batch is done once it stepped: its learning rates are then those in the optimizer, which progress reports
        // may read. On a GPU its loss arrives later, and is handled at the batch where it is read.
        public override void AfterBatch(Learner learner) => Drain(learner);

        public override void BeforeValidate(Learner learner)
        {
            Drain(learner);
            learner.Cancel(Scope.Epoch);   // fastai: CancelValidException
        }

        /// <summary>Why another callback stopped the sweep (the learner's stop reason), when the finder did not.</summary>
        public override void AfterCancelFit(Learner learner) => StopReason = Reason is null ? learner.StopReason : null;

        private void Drain(Learner learner)
        {
            while (_read.Count > 0)
            {
                var reading = _read.Dequeue();
                if (Reason is not null) continue;   // read after the stop (a GPU's chunk): neither recorded nor counted
                if (Done(reading.Loss))
                {
                    _read.Clear();
                    learner.Cancel(Scope.Fit);
                }
            }
        }

        // Batch t of the sweep: true when the sweep ends with it.
        private bool Done(double loss)
        {
            int t = Trained++;
            _average = Beta * _average + (1 - Beta) * loss;
            double smooth = _average / (1 - Math.Pow(Beta, t + 1));
            double lastLr = sweep.LastLr(t);
            progress?.Report(new LrFindProgress(t + 1, sweep.Batches, lastLr, loss, smooth));
            if (mode == LrFindMode.FastAi07)
            {
                // 0.7 tests before recording, and only from batch 12 on does the best move (iteration > 10).
                if (stopDiv && (double.IsNaN(smooth) || smooth > 4 * _best))
                {
                    (StoppedEarly, Reason) = (true, double.IsNaN(smooth)
                        ? Say($"the loss became NaN at batch {t + 1} (lr {lastLr:G4}); that batch is not recorded")
                        : Say($"the smoothed loss {smooth:G4} at batch {t + 1} (lr {lastLr:G4}) exceeded 4 × the best {_best:G4}; that batch is not recorded"));
                    return true;
                }
                if (smooth < _best && t > 10) _best = smooth;
                Record(lastLr, loss, smooth);
                if (t + 1 >= sweep.Batches) Reason = Say($"swept one epoch ({sweep.Batches} batches)");
            }
            else
            {
                Record(lastLr, loss, smooth);
                if (smooth < _best) _best = smooth;
                if (stopDiv && smooth > 4 * _best)
                    (StoppedEarly, Reason) = (true, Say($"the smoothed loss {smooth:G4} at batch {t + 1} (lr {lastLr:G4}) exceeded 4 × the best {_best:G4}"));
                else if (t + 1 >= sweep.Batches) Reason = Say($"ran all {sweep.Batches} batches");
            }
            return Reason is not null;
        }

        private void Record(double lr, double loss, double smooth)
        {
            Lrs.Add(lr);
            Losses.Add(loss);
            Smoothed.Add(smooth);
        }
    }

    /// <summary>The learning rate of every group at each batch of the sweep.</summary>
    private sealed class Sweep
    {
        private readonly Func<int, double> _last;
        private readonly double[] _ratio;

        private Sweep(Func<int, double> last, double[] ratio, int batches) => (_last, _ratio, Batches) = (last, ratio, batches);

        /// <summary>Batches the sweep runs at most.</summary>
        public int Batches { get; }

        /// <summary>The learning rate of the last group at batch <paramref name="t"/>.</summary>
        public double LastLr(int t) => _last(t);

        public static Sweep Create(LrFindOptions o, long batchesPerEpoch, int groups)
        {
            double start = o.EffectiveStartLr, end = o.EndLr;
            var ratio = new double[groups];
            for (int g = 0; g < groups; g++) ratio[g] = o.GroupLrs is { } d ? d[g] / d[groups - 1] : 1;
            if (o.Mode == LrFindMode.FastAi07)
            {
                if (batchesPerEpoch > int.MaxValue) throw new ArgumentException("one epoch has too many batches for a range test");
                int nb = (int)batchesPerEpoch;
                double r = end / start;
                if (o.Linear)
                {
                    double mult = r / nb;
                    return new Sweep(k => start * (mult * k), ratio, nb);
                }
                double m = Math.Pow(r, 1.0 / nb);
                return new Sweep(k => start * Math.Pow(m, k), ratio, nb);
            }
            int numIt = Math.Max(o.NumIt, 6);
            return o.Linear
                ? new Sweep(t => start + (double)t / numIt * (end - start), ratio, numIt)
                : new Sweep(t => start * Math.Pow(end / start, (double)t / numIt), ratio, numIt);
        }

        /// <summary>The sweep as the learner's schedule: group g at step t uses the last group's lr times its ratio (the last group: exactly the sweep).</summary>
        public Schedule Schedule(int groups) => new()
        {
            Policy = "lr-find",
            Reference = "fastai lr_find",
            Lr = [.. Enumerable.Range(0, groups).Select(g => (Curve)new SweepCurve(_last, g == groups - 1 ? null : _ratio[g]))],
        };
    }

    /// <summary>One group's learning rate during the sweep: the last group's, times the group's ratio to it.</summary>
    private sealed record SweepCurve(Func<int, double> Last, double? Ratio) : Curve
    {
        public override double At(long step) => Ratio is { } r ? Last(checked((int)step)) * r : Last(checked((int)step));

        public override Piece PieceAt(long step) => new(0, "sweep");
    }
}

/// <summary>A learning rate given as a number, or <see cref="Auto"/>: chosen by an LR range test run just before training.</summary>
public sealed record Lr
{
    private Lr(double? value, LrSuggestion suggestion, LrFindOptions? findOptions) => (Value, Suggestion, FindOptions) = (value, suggestion, findOptions);

    /// <summary>The fixed value, or null when the range test chooses.</summary>
    public double? Value { get; }

    /// <summary>The suggestion used when the range test chooses.</summary>
    public LrSuggestion Suggestion { get; }

    /// <summary>The range test's options (null: fastai v2's defaults).</summary>
    public LrFindOptions? FindOptions { get; }

    /// <summary>Whether the range test chooses.</summary>
    public bool IsAuto => Value is null;

    /// <summary>fastai's default: run <c>lr_find</c> and take the <see cref="LrSuggestion.Valley"/> suggestion.</summary>
    public static Lr Auto { get; } = new(null, LrSuggestion.Valley, null);

    /// <summary>Run the range test with <paramref name="options"/> and take <paramref name="suggestion"/>.</summary>
    public static Lr AutoWith(LrSuggestion suggestion = LrSuggestion.Valley, LrFindOptions? options = null) => new(null, suggestion, options);

    /// <summary>A fixed learning rate.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a positive finite number.</exception>
    public static Lr Of(double value) => value > 0 && double.IsFinite(value)
        ? new Lr(value, LrSuggestion.Valley, null)
        : throw new ArgumentOutOfRangeException(nameof(value), value, "must be a positive finite number");

    /// <summary>A fixed learning rate.</summary>
    public static implicit operator Lr(double value) => Of(value);
}
