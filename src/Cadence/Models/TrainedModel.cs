using System.Text.Json;
using System.Text.Json.Serialization;
using Cadence.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Models;

/// <summary>
/// What a trained model needs to be used again, saved as <c>model.json</c> in a run directory beside its weights
/// (<c>model.dat</c>, TorchSharp format): the model's name in <see cref="ModelZoo"/>, the class names, and how inputs
/// are prepared — for images the channels, size, resize method and normalization; for tables the feature columns and
/// their standardization.
/// </summary>
public sealed record ModelCard
{
    /// <summary>File name of the card in a run directory.</summary>
    public const string FileName = "model.json";

    /// <summary>File name of the weights in a run directory.</summary>
    public const string WeightsFile = "model.dat";

    /// <summary>Format version written by this Cadence.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Format version.</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The model's name in <see cref="ModelZoo"/> (<c>resnet18</c>, <c>cnn</c>, …).</summary>
    public required string Model { get; init; }

    /// <summary>Class names; output i is class i.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>Shape of one input sample: [C, H, W] for images, [features] for tables.</summary>
    public required IReadOnlyList<long> SampleShape { get; init; }

    /// <summary>Image inputs: how files are resized to <see cref="SampleShape"/> (null for tables).</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<ResizeMethod>))]
    public ResizeMethod? Resize { get; init; }

    /// <summary>Image inputs: the per-channel normalization used in training.</summary>
    public ImageNormalization? Normalization { get; init; }

    /// <summary>Tabular inputs: the feature columns, in order.</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>Tabular inputs: mean of each feature in the training set.</summary>
    public IReadOnlyList<double>? FeatureMean { get; init; }

    /// <summary>Tabular inputs: standard deviation of each feature in the training set (1 for a constant one).</summary>
    public IReadOnlyList<double>? FeatureStd { get; init; }

    /// <summary>Whether the inputs are images (otherwise tabular features).</summary>
    [JsonIgnore]
    public bool IsImage => Normalization is not null;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The card for a model trained on images.</summary>
    public static ModelCard ForImages(string model, IReadOnlyList<string> classes, int channels, int height, int width, ResizeMethod resize,
        ImageNormalization normalization) =>
        new() { Model = model, Classes = classes, SampleShape = [channels, height, width], Resize = resize, Normalization = normalization };

    /// <summary>The card for a model trained on <see cref="CsvTabular"/> data.</summary>
    public static ModelCard ForTable(string model, CsvData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new()
        {
            Model = model,
            Classes = data.ClassNames,
            SampleShape = [data.FeatureNames.Count],
            Features = data.FeatureNames,
            FeatureMean = data.FeatureMean,
            FeatureStd = data.FeatureStd,
        };
    }

    /// <summary>Writes the card and the weights into <paramref name="directory"/> (each through a temporary file and a rename).</summary>
    public void Save(string directory, nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        AtomicStream.Write(Path.Combine(directory, WeightsFile), s =>
        {
            using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
            model.save(w);
        });
        AtomicStream.Write(Path.Combine(directory, FileName), s => JsonSerializer.Serialize(s, this, Json));
    }

    /// <summary>Reads <c>model.json</c> of a run directory.</summary>
    /// <exception cref="DataFormatException">Missing, unreadable, or from another version.</exception>
    public static ModelCard Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
            throw new DataFormatException(path, $"file not found: {directory} is not the output folder of a finished training run (it has no {FileName})");
        ModelCard? card;
        try { card = JsonSerializer.Deserialize<ModelCard>(File.ReadAllBytes(path), Json); }
        catch (JsonException e) { throw new DataFormatException(path, $"cannot read it: {e.Message}", e); }
        if (card is null) throw new DataFormatException(path, "empty");
        if (card.Version != CurrentVersion) throw new DataFormatException(path, $"format version {card.Version}, this Cadence reads {CurrentVersion}");
        if (card.Classes.Count == 0) throw new DataFormatException(path, "no class names");
        if (card.IsImage && card.SampleShape.Count != 3) throw new DataFormatException(path, $"an image model needs sample_shape [C, H, W], found [{string.Join(", ", card.SampleShape)}]");
        if (!card.IsImage && (card.Features is null || card.FeatureMean?.Count != card.Features.Count || card.FeatureStd?.Count != card.Features.Count))
            throw new DataFormatException(path, "a tabular model needs features, feature_mean and feature_std of the same length");
        return card;
    }

    /// <summary>Recreates the model from <see cref="ModelZoo"/> and loads the run directory's weights into it.</summary>
    /// <exception cref="DataFormatException">The weights are missing or do not fit the card's model.</exception>
    public nn.Module<Tensor, Tensor> LoadModel(string directory)
    {
        string weights = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weights)) throw new DataFormatException(weights, "file not found (the run saved no weights)");
        var model = ModelZoo.Create(Model, [.. SampleShape], Classes.Count).Model;
        try
        {
            model.load(weights);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException or EndOfStreamException)
        {
            model.Dispose();
            throw new DataFormatException(weights, $"does not fit {Model} with {Classes.Count} classes and inputs [{string.Join(", ", SampleShape)}]: {e.Message}", e);
        }
        model.eval();
        return model;
    }
}

/// <summary>Writes a file through a temporary file in the same folder, flushed to disk, then renamed over the target.</summary>
internal static class AtomicStream
{
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
