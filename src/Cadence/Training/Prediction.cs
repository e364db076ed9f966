using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>One class and its probability.</summary>
/// <param name="Class">The class name.</param>
/// <param name="Index">The class index (model output).</param>
/// <param name="Probability">Softmax probability.</param>
public readonly record struct ClassProbability(string Class, int Index, double Probability);

/// <summary>A prediction for one input (fastai's <c>learn.predict</c>: decoded class, its index, the probabilities).</summary>
/// <param name="Class">The most probable class.</param>
/// <param name="Index">Its index.</param>
/// <param name="Probability">Its probability.</param>
/// <param name="Top">The k most probable classes, most probable first (ties: lower index first).</param>
public sealed record Prediction(string Class, int Index, double Probability, IReadOnlyList<ClassProbability> Top);

/// <summary>Predictions from a model's outputs, and <see cref="Learner"/>'s <c>Predict</c>.</summary>
public static class Predictions
{
    /// <summary>
    /// Softmax of <paramref name="logits"/> ([N, classes]) and the top <paramref name="topK"/> classes of each row.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> is not in [1, classes].</exception>
    public static IReadOnlyList<Prediction> FromLogits(Tensor logits, IReadOnlyList<string> classNames, int topK = 1)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(classNames);
        if (logits.ndim != 2 || logits.shape[1] != classNames.Count)
            throw new ArgumentException($"expected outputs [N, {classNames.Count}] (one per class), got [{string.Join(", ", logits.shape)}]", nameof(logits));
        if (topK < 1 || topK > classNames.Count) throw new ArgumentOutOfRangeException(nameof(topK), topK, $"must be in [1, {classNames.Count}]");
        using var scope = NewDisposeScope();
        var probs = nn.functional.softmax(logits.detach().to(float64).cpu(), 1);
        int n = (int)probs.shape[0], c = classNames.Count;
        var p = probs.data<double>().ToArray();
        var result = new Prediction[n];
        for (int i = 0; i < n; i++)
        {
            var top = Enumerable.Range(0, c).OrderByDescending(k => p[i * c + k]).ThenBy(k => k).Take(topK)
                .Select(k => new ClassProbability(classNames[k], k, p[i * c + k])).ToArray();
            result[i] = new Prediction(top[0].Class, top[0].Index, top[0].Probability, top);
        }
        return result;
    }

    /// <summary>
    /// Runs the learner's model in evaluation mode on prepared inputs (normalized as the training data) and returns
    /// one prediction per row (fastai <c>learn.predict</c>, batched). Class names come from the data, or are the indices.
    /// </summary>
    public static IReadOnlyList<Prediction> Predict(this Learner learner, Tensor inputs, int topK = 1)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(inputs);
        var names = learner.Data.ClassNames ?? [.. Enumerable.Range(0, learner.Data.Classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        return Run(learner.Model, inputs, names, topK);
    }

    internal static IReadOnlyList<Prediction> Run(nn.Module<Tensor, Tensor> model, Tensor inputs, IReadOnlyList<string> names, int topK)
    {
        bool training = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return FromLogits(model.forward(inputs), names, topK);
        }
        finally
        {
            if (training) model.train();
        }
    }
}
