using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>Loss functions for <see cref="Learner"/> beyond the default cross-entropy.</summary>
public static class Losses
{
    /// <summary>
    /// Cross-entropy with label smoothing, PyTorch's <c>F.cross_entropy(output, target, label_smoothing=ε)</c>: the
    /// target distribution puts 1 − ε on the true class and ε/C on every class, so the loss is
    /// (1 − ε)·NLL + ε·mean over classes of −log p. ε = 0 is the plain cross-entropy.
    /// </summary>
    /// <param name="labelSmoothing">ε, in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="labelSmoothing"/> is outside [0, 1).</exception>
    public static LossFunction CrossEntropy(double labelSmoothing = 0)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing < 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "label smoothing must be in [0, 1)");
        if (labelSmoothing == 0) return static (output, target) => nn.functional.cross_entropy(output, target);
        return (output, target) => nn.functional.cross_entropy(output, target, label_smoothing: labelSmoothing);
    }
}
