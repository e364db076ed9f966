using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>
/// Per-channel normalization of images scaled to [0, 1]: <c>(x/255 − mean[c]) / std[c]</c> (fastai's
/// <c>Normalize</c>). Recorded with a trained model so that prediction prepares images exactly as training did.
/// </summary>
/// <param name="Mean">Mean of each channel (of pixels scaled to [0, 1]).</param>
/// <param name="Std">Standard deviation of each channel.</param>
public sealed record ImageNormalization(IReadOnlyList<double> Mean, IReadOnlyList<double> Std)
{
    /// <summary>ImageNet's statistics (fastai's <c>imagenet_stats</c>), used with pretrained three-channel weights.</summary>
    public static ImageNormalization ImageNet { get; } = new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <summary>
    /// fastai's choice (<c>vision_learner</c>'s <c>_add_norm</c>): ImageNet's statistics for pretrained weights on
    /// three-channel images, otherwise the training images' own (fastai adds no normalization for pretrained weights on
    /// other channel counts; Cadence uses the training statistics there too).
    /// </summary>
    public static ImageNormalization For(ImageData data, bool pretrained)
    {
        ArgumentNullException.ThrowIfNull(data);
        return pretrained && data.Channels == 3 ? ImageNet : data.TrainingStatistics();
    }

    /// <summary>Number of channels.</summary>
    public int Channels => Mean.Count;

    /// <summary>
    /// The statistics of <paramref name="images"/> (uint8, [N, C, H, W]): mean and unbiased standard deviation of each
    /// channel over every pixel of every image, computed exactly in integers and doubles. A constant channel gets std 1.
    /// </summary>
    public static ImageNormalization FromImages(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dtype != ScalarType.Byte || images.ndim != 4)
            throw new ArgumentException($"expected uint8 images of shape [N, C, H, W], got {images.dtype} [{string.Join(", ", images.shape)}]", nameof(images));
        long n = images.shape[0], c = images.shape[1];
        long count = n * images.shape[2] * images.shape[3];
        var sum = new double[c];
        var sumSq = new double[c];
        const long chunk = 2048;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            var part = images.slice(0, start, Math.Min(n, start + chunk), 1).to_type(ScalarType.Int64);
            var s = part.sum([0, 2, 3]).data<long>().ToArray();
            var q = part.mul(part).sum([0, 2, 3]).data<long>().ToArray();
            for (int k = 0; k < c; k++) { sum[k] += s[k]; sumSq[k] += q[k]; }
        }
        var mean = new double[c];
        var std = new double[c];
        for (int k = 0; k < c; k++)
        {
            mean[k] = sum[k] / count / 255.0;
            double variance = count > 1 ? (sumSq[k] - sum[k] * sum[k] / count) / (count - 1) / (255.0 * 255.0) : 0;
            std[k] = variance > 0 ? Math.Sqrt(variance) : 1;
        }
        return new ImageNormalization(mean, std);
    }

    /// <summary>Normalized float32 copies of uint8 images ([N, C, H, W]), computed in chunks to bound memory.</summary>
    /// <exception cref="ArgumentException">The images have another number of channels.</exception>
    public Tensor Apply(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.ndim != 4 || images.shape[1] != Channels)
            throw new ArgumentException($"expected images of shape [N, {Channels}, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        var result = empty(images.shape, ScalarType.Float32, device: images.device);
        using var mean = tensor(Mean.Select(v => (float)v).ToArray(), [1, Channels, 1, 1], device: images.device);
        using var std = tensor(Std.Select(v => (float)v).ToArray(), [1, Channels, 1, 1], device: images.device);
        const long chunk = 2048;
        for (long start = 0; start < images.shape[0]; start += chunk)
        {
            using var scope = NewDisposeScope();
            long end = Math.Min(images.shape[0], start + chunk);
            result.slice(0, start, end, 1).copy_(images.slice(0, start, end, 1).to_type(ScalarType.Float32).div_(255f).sub_(mean).div_(std));
        }
        return result;
    }

    /// <summary>Checks the record (one mean and one positive std per channel, 1 or 3 channels).</summary>
    public IEnumerable<Schedules.ValidationError> Validate()
    {
        if (Mean.Count is not (1 or 3)) yield return new("mean", $"needs 1 or 3 values (one per channel), got {Mean.Count}");
        if (Std.Count != Mean.Count) yield return new("std", $"needs one value per channel ({Mean.Count}), got {Std.Count}");
        foreach (var s in Std)
            if (!(s > 0 && double.IsFinite(s))) { yield return new("std", $"must be positive finite numbers, got {s.ToString("R", CultureInfo.InvariantCulture)}"); break; }
        foreach (var m in Mean)
            if (!double.IsFinite(m)) { yield return new("mean", $"must be finite numbers, got {m.ToString("R", CultureInfo.InvariantCulture)}"); break; }
    }
}
