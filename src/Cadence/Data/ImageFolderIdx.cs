using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>MNIST-style image classification data from IDX files (Fashion-MNIST's four files).</summary>
public static class IdxImages
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> installs Fashion-MNIST.</summary>
    public const string FashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Fashion-MNIST's class names.</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// Loads <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>, <c>t10k-images-idx3-ubyte</c> and
    /// <c>t10k-labels-idx1-ubyte</c> (each raw or <c>.gz</c>) from <paramref name="directory"/>; the test set is the
    /// validation set. Pixels are scaled to [0, 1] and standardized with the training set's mean and std. Samples have shape [1, H, W].
    /// </summary>
    /// <exception cref="DataFormatException">A file is missing, corrupt, or the files do not match each other.</exception>
    public static (InMemoryDataset Train, InMemoryDataset Valid) Load(string directory)
    {
        var (train, valid, _) = LoadNormalized(directory);
        return (train, valid);
    }

    /// <summary>
    /// <see cref="Load"/>, and the normalization it applied as an <see cref="ImageNormalization"/> (one channel: the
    /// training set's float32 mean and std), which prepares new images exactly as the training images were (a model card).
    /// </summary>
    /// <exception cref="DataFormatException">A file is missing, corrupt, or the files do not match each other.</exception>
    public static (InMemoryDataset Train, InMemoryDataset Valid, ImageNormalization Normalization) LoadNormalized(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new DataFormatException(directory, "directory not found");
        var (xt, yt) = Pair(directory, "train");
        var (xv, yv) = Pair(directory, "t10k");
        if (xt.Dimensions[1] != xv.Dimensions[1] || xt.Dimensions[2] != xv.Dimensions[2])
            throw new DataFormatException(directory, $"train images are {xt.Dimensions[1]}×{xt.Dimensions[2]} but test images are {xv.Dimensions[1]}×{xv.Dimensions[2]}");
        int classes = Math.Max(yt.Data.Max(), yv.Data.Max()) + 1;
        using var scope = NewDisposeScope();
        var train = Images(xt);
        var mean = train.mean().item<float>();
        var std = train.std().item<float>();
        var valid = Images(xv);
        train.sub_(mean).div_(std);
        valid.sub_(mean).div_(std);
        return (new InMemoryDataset(train, Labels(yt), classes), new InMemoryDataset(valid, Labels(yv), classes), new ImageNormalization([mean], [std]));
    }

    private static (IdxArray Images, IdxArray Labels) Pair(string dir, string prefix)
    {
        var images = IdxReader.Read(Find(dir, $"{prefix}-images-idx3-ubyte"));
        var labels = IdxReader.Read(Find(dir, $"{prefix}-labels-idx1-ubyte"));
        if (images.Dimensions.Length != 3)
            throw new DataFormatException(Find(dir, $"{prefix}-images-idx3-ubyte"), $"expected 3 dimensions (N, H, W), found {images.Dimensions.Length}");
        if (labels.Dimensions.Length != 1)
            throw new DataFormatException(Find(dir, $"{prefix}-labels-idx1-ubyte"), $"expected 1 dimension (N), found {labels.Dimensions.Length}");
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new DataFormatException(Find(dir, $"{prefix}-labels-idx1-ubyte"), $"expected {images.Dimensions[0]} labels (one per image), found {labels.Dimensions[0]}");
        return (images, labels);
    }

    private static string Find(string dir, string name)
    {
        foreach (var candidate in new[] { name + ".gz", name })
        {
            var p = Path.Combine(dir, candidate);
            if (File.Exists(p)) return p;
        }
        throw new DataFormatException(Path.Combine(dir, name + ".gz"), $"file not found (expected {name}.gz or {name} in {dir})");
    }

    private static Tensor Images(IdxArray a) =>
        tensor(a.Data, ScalarType.Byte).reshape(a.Dimensions[0], 1, a.Dimensions[1], a.Dimensions[2]).to_type(ScalarType.Float32).div_(255f);

    private static Tensor Labels(IdxArray a) => tensor(a.Data, ScalarType.Byte).to_type(ScalarType.Int64);
}
