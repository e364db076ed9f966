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
/// The sweep drives the model, loss function and optimizer directly rather than through <see cref="Learner.Fit(Schedule, int, CancellationToken)"/>:
/// the learner's recorder, counters and callbacks are left alone, so a range test neither replaces the last fit's
/// history nor triggers callbacks that write files or stop training (fastai runs them under <c>no_logging</c> and
/// cancels validation for the same reason). Frozen layer groups stay frozen. The data loader's shuffling and
/// TorchSharp's global generator advance, as in fastai.
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
        var optimizer = learner.Optimizer;
        var writer = learner.HyperParams;
        var frozen = Enumerable.Range(0, groups).Select(learner.IsFrozen).ToArray();
        var clock = Stopwatch.StartNew();
        var lrs = new List<double>();
        var losses = new List<double>();
        var smoothed = new List<double>();
        var lr = new double[groups];
        string? reason = null;
        bool early = false;
        int trained = 0;

        using var keep = NewDisposeScope();
        using var snapshot = TrainingSnapshot.Take(learner.Model, learner.LayerGroups.SelectMany(g => g), optimizer);
        try
        {
            learner.Model.train();
            double average = 0, best = options.Mode == LrFindMode.FastAi07 ? 1e9 : double.PositiveInfinity;
            int t = 0;
            for (long epoch = 0; reason is null; epoch++)
            {
                learner.Data.Train.StartEpoch();
                for (long b = 0; b < batchesPerEpoch && reason is null; b++, t++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    sweep.At(t, lr);
                    writer.Write(lr, ReadOnlySpan<double>.Empty, frozen);
                    double loss = Step(learner, optimizer, b);
                    trained++;
                    average = Beta * average + (1 - Beta) * loss;
                    double smooth = average / (1 - Math.Pow(Beta, t + 1));
                    double lastLr = lr[groups - 1];
                    progress?.Report(new LrFindProgress(t + 1, sweep.Batches, lastLr, loss, smooth));
                    if (options.Mode == LrFindMode.FastAi07)
                    {
                        // 0.7 tests before recording, and only from batch 12 on does the best move (iteration > 10).
                        if (options.StopDiv && (double.IsNaN(smooth) || smooth > 4 * best))
                        {
                            (early, reason) = (true, double.IsNaN(smooth)
                                ? Say($"the loss became NaN at batch {t + 1} (lr {lastLr:G4}); that batch is not recorded")
                                : Say($"the smoothed loss {smooth:G4} at batch {t + 1} (lr {lastLr:G4}) exceeded 4 × the best {best:G4}; that batch is not recorded"));
                            break;
                        }
                        if (smooth < best && t > 10) best = smooth;
                        Record(lastLr, loss, smooth);
                        if (t + 1 >= sweep.Batches) reason = Say($"swept one epoch ({sweep.Batches} batches)");
                    }
                    else
                    {
                        Record(lastLr, loss, smooth);
                        if (smooth < best) best = smooth;
                        if (options.StopDiv && smooth > 4 * best)
                            (early, reason) = (true, Say($"the smoothed loss {smooth:G4} at batch {t + 1} (lr {lastLr:G4}) exceeded 4 × the best {best:G4}"));
                        else if (t + 1 >= sweep.Batches) reason = Say($"ran all {sweep.Batches} batches");
                    }
                }
            }
        }
        finally
        {
            optimizer.zero_grad();
            snapshot.Restore();
        }

        int skipStart = options.Mode == LrFindMode.FastAi07 ? 10 : options.NumIt / 10;
        int skipEnd = options.Mode == LrFindMode.FastAi07 ? 6 : 5;
        var (wl, ws) = LrSuggestions.Window(lrs, smoothed, skipStart, skipEnd);
        int firstNaN = smoothed.FindIndex(double.IsNaN);
        if (firstNaN >= 0 && options.Mode == LrFindMode.FastAi2)
            reason += Say($"; the loss became NaN at batch {firstNaN + 1} (lr {lrs[firstNaN]:G4}), so the suggestions read only the points before it");
        return new LrFindResult(options.Mode, lrs, losses, smoothed, LrSuggestions.All(wl, ws), skipStart, wl.Length, early, reason!, trained,
            clock.Elapsed.TotalSeconds);

        void Record(double l, double raw, double s)
        {
            lrs.Add(l);
            losses.Add(raw);
            smoothed.Add(s);
        }
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

    private static double Step(Learner learner, optim.Optimizer optimizer, long batch)
    {
        using var scope = NewDisposeScope();
        var (x, y) = learner.Data.Train.GetBatch(batch);
        var output = learner.Model.forward(x);
        var loss = learner.LossFunction(output, y);
        double value = loss.item<float>();
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        return value;
    }

    private static string Say(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>The learning rate of every group at each batch of the sweep.</summary>
    private sealed class Sweep
    {
        private readonly Func<int, double> _last;
        private readonly double[] _ratio;

        private Sweep(Func<int, double> last, double[] ratio, int batches) => (_last, _ratio, Batches) = (last, ratio, batches);

        /// <summary>Batches the sweep runs at most.</summary>
        public int Batches { get; }

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

        public void At(int t, double[] lr)
        {
            double last = _last(t);
            for (int g = 0; g < lr.Length; g++) lr[g] = g == lr.Length - 1 ? last : last * _ratio[g];
        }
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
