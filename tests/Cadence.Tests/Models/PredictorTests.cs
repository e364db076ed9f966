using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.Tests.Data;
using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Tests.Models;

public sealed class PredictorTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-predict");

    public PredictorTests() => TorchRuntime.Configure(seed: 0, threads: 1);

    public void Dispose() => _dir.Dispose();

    /// <summary>4×4 grey images: "bright ☀" ones around 215, "dark" ones around 30, with per-image texture.</summary>
    private static byte[] Grey(bool bright, int k) =>
        [.. Enumerable.Range(0, 16).Select(i => (byte)((bright ? 200 : 20) + (i * 7 + k * 3) % 30))];

    private string MakeFolder()
    {
        string root = _dir["images"];
        foreach (var (split, count) in new[] { ("train", 24), ("valid", 6) })
            for (int k = 0; k < count; k++)
            {
                TestImages.Png(Path.Combine(root, split, "bright ☀", $"b{k}.png"), 4, 4, 1, Grey(true, k));
                TestImages.Png(Path.Combine(root, split, "dark", $"d{k}.png"), 4, 4, 1, Grey(false, k));
            }
        return root;
    }

    /// <summary>Trains an MLP on the folder, saves the run directory, returns the learner and the folder.</summary>
    private (Learner Learner, ImageData Images, string Run, ImageNormalization Norm) TrainTiny()
    {
        var images = ImageFolder.Load(MakeFolder(), new ImageFolderOptions { Cache = false });
        var norm = images.TrainingStatistics();
        var (train, valid) = images.ToDatasets(norm);
        var data = DataLoaders.From(train, valid, batchSize: 8, classNames: images.ClassNames);
        var spec = ModelZoo.Create("mlp", [1, 4, 4], 2);
        var learn = new Learner(spec.Model, data, layerGroups: spec.LayerGroups, metrics: [new Accuracy(), new ErrorRate()]);
        var fit = learn.FitOneCycle(3, [0.05]);
        Assert.Equal(1.0, fit.Metrics["accuracy"]);
        Assert.Equal(0.0, fit.Metrics["error_rate"]);
        string run = _dir["run"];
        ModelCard.ForImages("mlp", images.ClassNames, 1, 4, 4, ResizeMethod.Crop, norm).Save(run, learn.Model);
        return (learn, images, run, norm);
    }

    [Fact]
    public void A_saved_run_predicts_image_files_as_the_trained_model_does()
    {
        var (learn, images, run, norm) = TrainTiny();
        using var _ = learn;
        using var __ = images;
        using var predictor = Predictor.Load(run);
        Assert.Equal(["bright ☀", "dark"], predictor.Card.Classes);
        Assert.Equal(norm.Mean, predictor.Card.Normalization!.Mean);

        var files = images.ValidSources!.Select(s => Path.Combine(_dir["images"], s)).ToArray();
        var predictions = predictor.PredictImages(files, topK: 2, batchSize: 5);
        for (int i = 0; i < files.Length; i++)
        {
            string expected = images.ClassNames[(int)images.ValidLabels[i].item<long>()];
            Assert.Equal(expected, predictions[i].Class);
            Assert.True(predictions[i].Probability > 0.5);
            Assert.Equal(2, predictions[i].Top.Count);
            Assert.Equal(1.0, predictions[i].Top.Sum(t => t.Probability), 12);
            Assert.True(predictions[i].Top[0].Probability >= predictions[i].Top[1].Probability);
        }

        // The learner's own prediction on the same (normalized) images gives the same probabilities.
        using var batch = predictor.PrepareImages(files);
        using var expectedBatch = norm.Apply(images.ValidImages);
        Assert.True(batch.allclose(expectedBatch, rtol: 0, atol: 1e-6));
        var fromLearner = learn.Predict(expectedBatch, topK: 2);
        for (int i = 0; i < files.Length; i++) Assert.Equal(fromLearner[i].Probability, predictions[i].Probability, 6);

        // A colour file for a grey model goes through PIL's luma; a larger file is resized.
        string colour = TestImages.Png(_dir["colour.png"], 4, 4, 3, [.. Enumerable.Range(0, 16).SelectMany(_ => new byte[] { 230, 210, 190 })]);
        string big = TestImages.Png(_dir["big.png"], 12, 8, 1, [.. Enumerable.Range(0, 96).Select(i => (byte)(25 + i % 10))]);
        var other = predictor.PredictImages([colour, big]);
        Assert.Equal(["bright ☀", "dark"], other.Select(p => p.Class));
        using var prepared = predictor.PrepareImages([colour]);
        // L = (230·19595 + 210·38470 + 190·7471 + 32768) >> 16 = 14037808 >> 16 = 214.
        Assert.Equal((float)((214 / 255.0 - norm.Mean[0]) / norm.Std[0]), prepared[0, 0, 0, 0].item<float>(), 5);
    }

    [Fact]
    public void Probabilities_and_top_k_come_from_the_softmax()
    {
        using var logits = tensor(new float[] { 0, (float)Math.Log(3), 0, 5, 5, 1 }, [2, 3]);
        var p = Predictions.FromLogits(logits, ["a", "b", "c"], topK: 3);
        Assert.Equal("b", p[0].Class);
        Assert.Equal(3 / 5.0, p[0].Probability, 6);
        Assert.Equal(["b", "a", "c"], p[0].Top.Select(t => t.Class));      // a and c tie: lower index first
        Assert.Equal(1 / 5.0, p[0].Top[1].Probability, 6);
        Assert.Equal(["a", "b", "c"], p[1].Top.Select(t => t.Class));
        Assert.Throws<ArgumentOutOfRangeException>(() => Predictions.FromLogits(logits, ["a", "b", "c"], topK: 4));
        Assert.Throws<ArgumentException>(() => Predictions.FromLogits(logits, ["a", "b"]));
    }

    [Fact]
    public void A_folder_that_is_not_a_finished_run_is_an_error_naming_what_is_missing()
    {
        string run = _dir["empty-run"];
        Directory.CreateDirectory(run);
        var e = Assert.Throws<DataFormatException>(() => Predictor.Load(run));
        Assert.Equal(Path.Combine(run, ModelCard.FileName), e.File);
        Assert.Contains("not the output folder of a finished training run", e.Message);

        File.WriteAllText(Path.Combine(run, ModelCard.FileName), "{ not json");
        Assert.Contains("cannot read it", Assert.Throws<DataFormatException>(() => Predictor.Load(run)).Message);

        var card = ModelCard.ForImages("cnn", ["a", "b"], 1, 8, 8, ResizeMethod.Squish, new ImageNormalization([0.5], [0.25]));
        using (var other = ModelZoo.Create("mlp", [1, 8, 8], 2).Model) card.Save(run, other);   // weights of another model
        var mismatch = Assert.Throws<DataFormatException>(() => Predictor.Load(run));
        Assert.Equal(Path.Combine(run, ModelCard.WeightsFile), mismatch.File);
        Assert.Contains("does not fit cnn with 2 classes and inputs [1, 8, 8]", mismatch.Message);

        // The card round-trips through JSON.
        var back = ModelCard.Read(run);
        Assert.Equal(ResizeMethod.Squish, back.Resize);
        Assert.Equal([1L, 8, 8], back.SampleShape);
        Assert.Equal([0.25], back.Normalization!.Std);
    }

    [Fact]
    public void A_tabular_run_predicts_csv_rows_standardized_as_in_training()
    {
        string train = _dir.Write("train.csv", "x,y,label\n" + string.Join("\n", Enumerable.Range(0, 40).Select(i => $"{i % 2 * 10 + i * 0.01},{i},{(i % 2 == 0 ? "even" : "odd")}")));
        string valid = _dir.Write("valid.csv", "x,y,label\n0.5,3,even\n10.2,4,odd\n");
        var data = CsvTabular.Load(train, "label", validPath: valid);
        Assert.Equal(2, data.FeatureMean.Count);
        Assert.Equal(Enumerable.Range(0, 40).Average(i => (double)i), data.FeatureMean[1], 12);
        using var loaders = DataLoaders.From(data.Train, data.Valid, 8, classNames: data.ClassNames);
        var spec = ModelZoo.Create("mlp", [2], 2);
        using var learn = new Learner(spec.Model, loaders, layerGroups: spec.LayerGroups);
        learn.FitOneCycle(4, [0.05]);
        string run = _dir["tab-run"];
        ModelCard.ForTable("mlp", data).Save(run, learn.Model);

        string query = _dir.Write("query.csv", "y,x\n7,0.3\n8,10.1\n");   // columns in another order, no label
        using var predictor = Predictor.Load(run);
        var p = predictor.PredictCsv(query);
        Assert.Equal(["even", "odd"], p.Select(x => x.Class));
        using var standardized = tensor(new float[]
        {
            (float)((0.3 - data.FeatureMean[0]) / data.FeatureStd[0]), (float)((7 - data.FeatureMean[1]) / data.FeatureStd[1]),
            (float)((10.1 - data.FeatureMean[0]) / data.FeatureStd[0]), (float)((8 - data.FeatureMean[1]) / data.FeatureStd[1]),
        }, [2, 2]);
        var direct = learn.Predict(standardized);
        Assert.Equal(direct[1].Probability, p[1].Probability, 6);
        var e = Assert.Throws<DataFormatException>(() => predictor.PredictCsv(_dir.Write("bad.csv", "x\n1\n")));
        Assert.Contains("expected the model's feature column 'y'", e.Message);
        Assert.Throws<InvalidOperationException>(() => predictor.PredictImages(["a.png"]));
    }
}
