using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>One of the images the model got most wrong (fastai's <c>plot_top_losses</c> title: prediction/actual/loss/probability).</summary>
/// <param name="Index">Position in the validation set.</param>
/// <param name="Actual">The true class.</param>
/// <param name="Predicted">The predicted class.</param>
/// <param name="Loss">Cross-entropy loss of the sample.</param>
/// <param name="Probability">Probability of the predicted class.</param>
/// <param name="ActualProbability">Probability of the true class (what fastai v1 printed).</param>
public sealed record TopLoss(int Index, string Actual, string Predicted, double Loss, double Probability, double ActualProbability);

/// <summary>A pair of classes the model confuses: <see cref="Count"/> images of <see cref="Actual"/> predicted as <see cref="Predicted"/>.</summary>
public sealed record ConfusedPair(string Actual, string Predicted, long Count);

/// <summary>
/// What the model got wrong on the validation set (fastai's <c>ClassificationInterpretation</c>): the confusion
/// matrix, the samples with the largest losses and the most confused pairs of classes.
/// </summary>
public sealed class ClassificationInterpretation
{
    private ClassificationInterpretation(IReadOnlyList<string> classes, int[] actual, double[,] probabilities)
    {
        Classes = classes;
        Actual = actual;
        int n = actual.Length, c = classes.Count;
        var predicted = new int[n];
        var losses = new double[n];
        ConfusionMatrix = new long[c, c];
        _probabilities = probabilities;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int k = 1; k < c; k++) if (probabilities[i, k] > probabilities[i, best]) best = k;
            predicted[i] = best;
            losses[i] = -Math.Log(probabilities[i, actual[i]]);
            ConfusionMatrix[actual[i], best]++;
        }
        (Predicted, Losses) = (predicted, losses);
    }

    private readonly double[,] _probabilities;

    /// <summary>Runs the learner's model over its validation set, in order (evaluation mode, no gradients).</summary>
    public static ClassificationInterpretation FromLearner(Learner learner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var valid = learner.Data.Valid;
        var names = learner.Data.ClassNames ?? [.. Enumerable.Range(0, learner.Data.Classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var logits = new List<Tensor>();
        var targets = new List<Tensor>();
        bool training = learner.Model.training;
        learner.Model.eval();
        try
        {
            using var _ = no_grad();
            valid.StartEpoch();
            for (long b = 0; b < valid.BatchCount; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var (x, y) = valid.GetBatch(b);
                logits.Add(learner.Model.forward(x).cpu().MoveToOuterDisposeScope());
                targets.Add(y.cpu().MoveToOuterDisposeScope());
            }
        }
        finally
        {
            if (training) learner.Model.train();
        }
        using var all = cat(logits, 0);
        using var allTargets = cat(targets, 0);
        foreach (var t in logits.Concat(targets)) t.Dispose();
        return FromOutputs(all, allTargets, names);
    }

    /// <summary>From model outputs ([N, classes]) and targets ([N]).</summary>
    public static ClassificationInterpretation FromOutputs(Tensor logits, Tensor targets, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(classes);
        if (logits.ndim != 2 || logits.shape[1] != classes.Count || targets.ndim != 1 || targets.shape[0] != logits.shape[0])
            throw new ArgumentException($"expected outputs [N, {classes.Count}] and targets [N], got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", targets.shape)}]");
        using var scope = NewDisposeScope();
        var p = nn.functional.softmax(logits.detach().cpu().to(float64), 1).data<double>().ToArray();
        int n = (int)logits.shape[0], c = classes.Count;
        var probabilities = new double[n, c];
        for (int i = 0; i < n; i++) for (int k = 0; k < c; k++) probabilities[i, k] = p[i * c + k];
        var actual = targets.cpu().to(int64).data<long>().ToArray().Select(v => (int)v).ToArray();
        if (actual.FirstOrDefault(v => v < 0 || v >= c, -1) is var bad and >= 0) throw new ArgumentException($"target {bad} is not a class index in [0, {c})", nameof(targets));
        return new ClassificationInterpretation(classes, actual, probabilities);
    }

    /// <summary>Class names.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>True class of each sample.</summary>
    public IReadOnlyList<int> Actual { get; }

    /// <summary>Predicted class (argmax) of each sample.</summary>
    public IReadOnlyList<int> Predicted { get; }

    /// <summary>Cross-entropy loss of each sample.</summary>
    public IReadOnlyList<double> Losses { get; }

    /// <summary>Counts: row = actual class, column = predicted class.</summary>
    public long[,] ConfusionMatrix { get; }

    /// <summary>Probability of class <paramref name="cls"/> for sample <paramref name="index"/>.</summary>
    public double Probability(int index, int cls) => _probabilities[index, cls];

    /// <summary>Fraction of samples predicted wrongly (fastai's <c>error_rate</c>).</summary>
    public double ErrorRate => Actual.Count == 0 ? double.NaN : (double)Actual.Where((a, i) => a != Predicted[i]).Count() / Actual.Count;

    /// <summary>The <paramref name="k"/> samples with the largest loss, largest first (ties: lower index first).</summary>
    public IReadOnlyList<TopLoss> TopLosses(int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "must be ≥ 1");
        return [.. Enumerable.Range(0, Actual.Count).OrderByDescending(i => Losses[i]).ThenBy(i => i).Take(k)
            .Select(i => new TopLoss(i, Classes[Actual[i]], Classes[Predicted[i]], Losses[i], _probabilities[i, Predicted[i]], _probabilities[i, Actual[i]]))];
    }

    /// <summary>
    /// Pairs (actual, predicted) of different classes with at least <paramref name="minCount"/> samples, most frequent
    /// first (fastai's <c>most_confused(min_val=1)</c>; equal counts in row-major order of the matrix).
    /// </summary>
    public IReadOnlyList<ConfusedPair> MostConfused(int minCount = 1)
    {
        var pairs = new List<ConfusedPair>();
        for (int a = 0; a < Classes.Count; a++)
            for (int p = 0; p < Classes.Count; p++)
                if (a != p && ConfusionMatrix[a, p] >= minCount) pairs.Add(new ConfusedPair(Classes[a], Classes[p], ConfusionMatrix[a, p]));
        return [.. pairs.OrderByDescending(x => x.Count)];
    }
}

/// <summary>Classification error rate, <c>1 − accuracy</c> (fastai's <c>error_rate</c>).</summary>
public sealed class ErrorRate : Metric
{
    private readonly Accuracy _accuracy = new();

    /// <inheritdoc />
    public override string Name => "error_rate";

    /// <inheritdoc />
    public override void Reset() => _accuracy.Reset();

    /// <inheritdoc />
    public override void Accumulate(Tensor output, Tensor target) => _accuracy.Accumulate(output, target);

    /// <inheritdoc />
    public override double Value => 1 - _accuracy.Value;
}
