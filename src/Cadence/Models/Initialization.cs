using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Models;

/// <summary>Initialisations of convolutions used by fast-training recipes (airbench's dirac and patch-whitening layers).</summary>
public static class Initialization
{
    /// <summary>
    /// Dirac (identity) initialisation of the first min(out, in) filters of <paramref name="conv"/>: filter i passes
    /// input channel i through unchanged (a 1 at the kernel's centre), so at the start the convolution forwards its
    /// input and training begins from a shallower effective network. The other filters keep their initialisation
    /// (airbench: <c>dirac_(w[:w.size(1)])</c>). Needs an odd kernel and an ungrouped convolution.
    /// </summary>
    /// <exception cref="ArgumentException">The kernel has an even side.</exception>
    public static void Dirac(Conv2d conv)
    {
        ArgumentNullException.ThrowIfNull(conv);
        var w = conv.weight ?? throw new ArgumentException("the convolution has no weight", nameof(conv));
        long outC = w.shape[0], inC = w.shape[1], kh = w.shape[2], kw = w.shape[3];
        if (kh % 2 == 0 || kw % 2 == 0) throw new ArgumentException($"dirac initialisation needs an odd kernel, got {kh}×{kw}", nameof(conv));
        using var noGrad = no_grad();
        using var head = w.narrow(0, 0, Math.Min(outC, inC));
        nn.init.dirac_(head);
    }

    /// <summary>
    /// Patch-whitening initialisation (airbench): the filters of <paramref name="conv"/> become the eigenvectors of the
    /// covariance of the k×k input patches of <paramref name="images"/>, each scaled by 1/√(λ + ε), followed by their
    /// negatives, so the layer's outputs are decorrelated, unit-variance patch coordinates (both signs, so an activation
    /// keeps them). The convolution must have 2·C·k·k output channels for C input channels and a k×k kernel; its bias,
    /// if any, is zeroed. Set <c>requires_grad = false</c> on the weight to freeze it.
    /// </summary>
    /// <param name="conv">The first convolution.</param>
    /// <param name="images">Training images, [N, C, H, W] (a few thousand are plenty).</param>
    /// <param name="eps">ε added to the eigenvalues (airbench: 5e-4).</param>
    /// <exception cref="ArgumentException">Shapes do not fit, or ε is not positive.</exception>
    public static void PatchWhitening(Conv2d conv, Tensor images, double eps = 5e-4)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(images);
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must be > 0");
        var w = conv.weight ?? throw new ArgumentException("the convolution has no weight", nameof(conv));
        long c = w.shape[1], kh = w.shape[2], kw = w.shape[3], d = c * kh * kw;
        if (images.ndim != 4 || images.shape[1] != c)
            throw new ArgumentException($"images must be [N, {c}, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        if (w.shape[0] != 2 * d)
            throw new ArgumentException($"a whitening layer for {c}×{kh}×{kw} patches has {2 * d} filters, this one {w.shape[0]}", nameof(conv));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // [N, C, H', W', kh, kw] → one row per patch, channels then rows then columns (the weight's layout).
        var patches = images.to_type(ScalarType.Float64).unfold(2, kh, 1).unfold(3, kw, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, d);
        var covariance = patches.t().matmul(patches).div(patches.shape[0]);
        var (eigenvalues, eigenvectors) = linalg.eigh(covariance);
        // Largest eigenvalue first, as airbench orders them.
        var order = arange(d - 1, -1, -1, dtype: ScalarType.Int64);
        var filters = eigenvectors.index_select(1, order).t().div(eigenvalues.index_select(0, order).add(eps).sqrt().unsqueeze(1));
        var weight = cat([filters, filters.neg()], 0).reshape(2 * d, c, kh, kw).to_type(w.dtype);
        w.copy_(weight);
        conv.bias?.zero_();
    }
}
