using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>An image that was left out (only with <c>SkipBad</c>), and why.</summary>
/// <param name="File">The file, relative to the data folder.</param>
/// <param name="Reason">What was wrong with it.</param>
public sealed record SkippedImage(string File, string Reason);

/// <summary>
/// Decoded images as they come from an image folder or CIFAR-10: uint8 tensors of shape [N, C, H, W] and int64 labels,
/// the class names, where each image came from and what was skipped. Owns its tensors (kept out of every dispose
/// scope). <see cref="ToDatasets"/> makes the normalized float32 datasets a <see cref="Training.Learner"/> trains on.
/// </summary>
public sealed class ImageData : IDisposable
{
    /// <summary>Creates the data; the tensors are detached from any dispose scope and owned by it.</summary>
    /// <exception cref="ArgumentException">Shapes or types that do not fit together.</exception>
    public ImageData(Tensor trainImages, Tensor trainLabels, Tensor validImages, Tensor validLabels, IReadOnlyList<string> classNames,
        IReadOnlyList<string>? trainSources = null, IReadOnlyList<string>? validSources = null, IReadOnlyList<SkippedImage>? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(trainImages);
        ArgumentNullException.ThrowIfNull(trainLabels);
        ArgumentNullException.ThrowIfNull(validImages);
        ArgumentNullException.ThrowIfNull(validLabels);
        ArgumentNullException.ThrowIfNull(classNames);
        foreach (var (images, labels, name) in new[] { (trainImages, trainLabels, "train"), (validImages, validLabels, "valid") })
        {
            if (images.dtype != ScalarType.Byte || images.ndim != 4)
                throw new ArgumentException($"{name} images must be uint8 [N, C, H, W], got {images.dtype} [{string.Join(", ", images.shape)}]");
            if (labels.ndim != 1 || labels.shape[0] != images.shape[0])
                throw new ArgumentException($"{name}: {images.shape[0]} images but labels of shape [{string.Join(", ", labels.shape)}]");
        }
        if (!trainImages.shape[1..].SequenceEqual(validImages.shape[1..]))
            throw new ArgumentException($"train images are [{string.Join(", ", trainImages.shape[1..])}] but valid images [{string.Join(", ", validImages.shape[1..])}]");
        TrainImages = trainImages.DetachFromDisposeScope();
        TrainLabels = (trainLabels.dtype == ScalarType.Int64 ? trainLabels : trainLabels.to_type(ScalarType.Int64)).DetachFromDisposeScope();
        ValidImages = validImages.DetachFromDisposeScope();
        ValidLabels = (validLabels.dtype == ScalarType.Int64 ? validLabels : validLabels.to_type(ScalarType.Int64)).DetachFromDisposeScope();
        ClassNames = classNames;
        TrainSources = trainSources;
        ValidSources = validSources;
        Skipped = skipped ?? [];
    }

    /// <summary>Training images, uint8 [N, C, H, W].</summary>
    public Tensor TrainImages { get; }

    /// <summary>Training labels (class indices), int64 [N].</summary>
    public Tensor TrainLabels { get; }

    /// <summary>Validation images, uint8 [N, C, H, W].</summary>
    public Tensor ValidImages { get; }

    /// <summary>Validation labels, int64 [N].</summary>
    public Tensor ValidLabels { get; }

    /// <summary>Class names; class i is <c>ClassNames[i]</c>.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Where each training image came from (file relative to the data folder), when known.</summary>
    public IReadOnlyList<string>? TrainSources { get; }

    /// <summary>Where each validation image came from, when known.</summary>
    public IReadOnlyList<string>? ValidSources { get; }

    /// <summary>Images left out because they could not be read (only with <c>SkipBad</c>; otherwise loading fails).</summary>
    public IReadOnlyList<SkippedImage> Skipped { get; }

    /// <summary>Channels per image (1 or 3).</summary>
    public int Channels => (int)TrainImages.shape[1];

    /// <summary>Image height in pixels.</summary>
    public int Height => (int)TrainImages.shape[2];

    /// <summary>Image width in pixels.</summary>
    public int Width => (int)TrainImages.shape[3];

    /// <summary>Whether the images were read from the decode cache rather than decoded.</summary>
    public bool FromCache { get; internal set; }

    /// <summary>The cache file used or written, or null when caching was off or failed.</summary>
    public string? CacheFile { get; internal set; }

    /// <summary>Per-channel mean and std of the training images (fastai's <c>Normalize</c> without pretrained statistics).</summary>
    public ImageNormalization TrainingStatistics() => ImageNormalization.FromImages(TrainImages);

    /// <summary>Normalized float32 datasets (training and validation) with <paramref name="normalization"/>.</summary>
    /// <exception cref="ArgumentException">The normalization has another number of channels.</exception>
    public (InMemoryDataset Train, InMemoryDataset Valid) ToDatasets(ImageNormalization normalization)
    {
        ArgumentNullException.ThrowIfNull(normalization);
        using var scope = NewDisposeScope();
        var train = new InMemoryDataset(normalization.Apply(TrainImages), TrainLabels.clone(), ClassNames.Count);
        var valid = new InMemoryDataset(normalization.Apply(ValidImages), ValidLabels.clone(), ClassNames.Count);
        return (train, valid);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        TrainImages.Dispose();
        TrainLabels.Dispose();
        ValidImages.Dispose();
        ValidLabels.Dispose();
    }
}
