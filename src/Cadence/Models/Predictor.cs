using Cadence.Data;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Models;

/// <summary>
/// A trained model ready to classify new inputs, prepared exactly as in training (what <c>cadence predict</c> uses):
/// image files are decoded, brought to the model's channels and size, and normalized with the recorded statistics;
/// CSV rows are standardized with the training set's feature means and standard deviations.
/// </summary>
public sealed class Predictor : IDisposable
{
    /// <summary>Wraps a model and its card.</summary>
    public Predictor(nn.Module<Tensor, Tensor> model, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(card);
        (Model, Card) = (model, card);
    }

    /// <summary>Loads a run directory (<see cref="ModelCard.Read"/>, then its weights).</summary>
    /// <exception cref="DataFormatException">The directory has no usable card or weights.</exception>
    public static Predictor Load(string runDirectory)
    {
        var card = ModelCard.Read(runDirectory);
        return new Predictor(card.LoadModel(runDirectory), card);
    }

    /// <summary>The model.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>How inputs are prepared, and the class names.</summary>
    public ModelCard Card { get; }

    /// <summary>Predictions for inputs already prepared as the model expects ([N, …], normalized).</summary>
    public IReadOnlyList<Prediction> Predict(Tensor inputs, int topK = 1) => Predictions.Run(Model, inputs, Card.Classes, topK);

    /// <summary>Predictions for image files, in order, <paramref name="batchSize"/> at a time.</summary>
    /// <exception cref="DataFormatException">A file cannot be read (named).</exception>
    /// <exception cref="InvalidOperationException">The model was not trained on images.</exception>
    public IReadOnlyList<Prediction> PredictImages(IReadOnlyList<string> files, int topK = 1, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (!Card.IsImage) throw new InvalidOperationException($"{Card.Model} was trained on a table, not on images: give it a CSV file");
        var results = new List<Prediction>(files.Count);
        for (int start = 0; start < files.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = files.Skip(start).Take(batchSize).ToArray();
            results.AddRange(Predict(PrepareImages(batch), topK));
        }
        return results;
    }

    /// <summary>Predictions for every row of a CSV file with the model's feature columns (other columns, such as the target, are ignored).</summary>
    /// <exception cref="DataFormatException">A column is missing or a value is not a number (row and column named).</exception>
    /// <exception cref="InvalidOperationException">The model was trained on images.</exception>
    public IReadOnlyList<Prediction> PredictCsv(string path, int topK = 1)
    {
        if (Card.IsImage) throw new InvalidOperationException($"{Card.Model} was trained on images, not on a table: give it image files");
        var rows = CsvTabular.ReadColumns(path, Card.Features!);
        int d = Card.Features!.Count;
        var flat = new float[rows.Length * d];
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < d; j++) flat[i * d + j] = (float)((rows[i][j] - Card.FeatureMean![j]) / Card.FeatureStd![j]);
        using var scope = NewDisposeScope();
        return Predict(tensor(flat, [rows.Length, d]), topK);
    }

    /// <summary>
    /// Decodes image files into a normalized batch [N, C, H, W]: colour files given to a one-channel model are converted
    /// with PIL's luma (<c>L = R·299/1000 + G·587/1000 + B·114/1000</c>), grey files given to a three-channel model are
    /// replicated, and a file of another size is resized with the card's method.
    /// </summary>
    public Tensor PrepareImages(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (!Card.IsImage) throw new InvalidOperationException($"{Card.Model} was not trained on images");
        int c = (int)Card.SampleShape[0], h = (int)Card.SampleShape[1], w = (int)Card.SampleShape[2];
        var buffer = new byte[files.Count * c * h * w];
        Parallel.For(0, files.Count, i =>
        {
            var image = ImageDecoder.Decode(files[i]);
            var (pixels, ph, pw) = (image.Pixels, image.Height, image.Width);
            pixels = c == 1 && !image.Grey ? Luma(pixels, ph * pw) : ImageDecoder.ToChannels(pixels, image.Channels, c);
            if (ph != h || pw != w) pixels = ImageDecoder.Resize(pixels, c, ph, pw, h, w, Card.Resize ?? ResizeMethod.Crop);
            Buffer.BlockCopy(pixels, 0, buffer, i * c * h * w, c * h * w);
        });
        using var scope = NewDisposeScope();
        var images = tensor(buffer, [files.Count, c, h, w]);
        return Card.Normalization!.Apply(images).MoveToOuterDisposeScope();
    }

    /// <summary>PIL's <c>convert('L')</c>: <c>(R·19595 + G·38470 + B·7471 + 0x8000) >> 16</c>.</summary>
    private static byte[] Luma(byte[] rgb, int plane)
    {
        var grey = new byte[plane];
        for (int i = 0; i < plane; i++)
            grey[i] = (byte)((rgb[i] * 19595 + rgb[plane + i] * 38470 + rgb[2 * plane + i] * 7471 + 0x8000) >> 16);
        return grey;
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
