using System.Diagnostics;
using Cadence.Data;
using Cadence.Models;
using Cadence.Tests.Data;
using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Cadence.Tests;

/// <summary>The library path <c>cadence fit --data folder DIR --model resnet18 --weights FILE --fine-tune 1</c> and <c>cadence predict</c> will take.</summary>
public sealed class EndToEndImageTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-e2e");

    public EndToEndImageTests() => TorchRuntime.Configure(seed: 0, threads: 2);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Fine_tunes_a_torchvision_resnet18_on_an_image_folder_then_interprets_saves_and_predicts()
    {
        // Colour 32×32 images: "red" ones and "blue" ones, with per-image noise.
        var rng = new Random(1);
        foreach (var (split, n) in new[] { ("train", 16), ("valid", 8) })
            foreach (var (cls, channel) in new[] { ("red", 0), ("blue", 2) })
                for (int k = 0; k < n / 2; k++)
                    TestImages.Png(Path.Combine(_dir["data"], split, cls, $"{k}.png"), 32, 32, 3,
                        [.. Enumerable.Range(0, 32 * 32 * 3).Select(i => (byte)(i % 3 == channel ? 150 + rng.Next(100) : rng.Next(80)))]);
        string weights = _dir["imagenet-like.safetensors"];
        using (var pretrained = new TorchVisionResNet("resnet18")) pretrained.save_safetensors(weights);

        using var images = ImageFolder.Load(_dir["data"], new ImageFolderOptions { CacheDirectory = _dir["cache"] });
        var norm = ImageNormalization.For(images, pretrained: true);
        Assert.Same(ImageNormalization.ImageNet, norm);
        var (train, valid) = images.ToDatasets(norm);
        using var data = DataLoaders.From(train, valid, batchSize: 8, classNames: images.ClassNames);
        var spec = ModelZoo.Create("resnet18", data.SampleShape, data.Classes);
        var said = PyTorchWeights.Load(spec.Model, weights, head: "fc", firstConv: "conv1.weight");
        Assert.Single(said, s => s.StartsWith("new head: the weights classify 1000 classes, the data has 2", StringComparison.Ordinal));
        using var learn = new Learner(spec.Model, data, layerGroups: spec.LayerGroups, metrics: [new Accuracy(), new ErrorRate()]);
        var result = learn.FineTune(epochs: 1, freezeEpochs: 1);
        Assert.Equal(2, result.Frozen!.Iterations);
        Assert.Equal(2, result.Unfrozen!.Iterations);
        Assert.True(double.IsFinite(result.Unfrozen.ValidLoss));

        var interp = ClassificationInterpretation.FromLearner(learn);
        Assert.Equal(8, interp.Actual.Count);
        Assert.Equal(result.Unfrozen.Metrics["error_rate"], interp.ErrorRate, 12);
        Assert.Equal(8, interp.ConfusionMatrix.Cast<long>().Sum());

        string run = _dir["run"];
        ModelCard.ForImages("resnet18", images.ClassNames, images.Channels, images.Height, images.Width, ResizeMethod.Crop, norm).Save(run, learn.Model);
        using var predictor = Predictor.Load(run);
        var files = images.ValidSources!.Select(s => Path.Combine(_dir["data"], s)).ToArray();
        var predictions = predictor.PredictImages(files);
        Assert.Equal(interp.Predicted.Select(p => images.ClassNames[p]), predictions.Select(p => p.Class));
    }

    [SkippableFact]
    public void The_fashion_mnist_script_writes_the_idx_pixels_as_a_folder_the_loader_reads_back()
    {
        Requires.PythonWithTorch();   // the script needs only python3's standard library; this finds a python3
        string source = _dir["idx"];
        Directory.CreateDirectory(source);
        byte[] Idx(int[] dims, byte[] data) =>
            [0, 0, 8, (byte)dims.Length, .. dims.SelectMany(d => new[] { (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d }), .. data];
        var trainPixels = Enumerable.Range(0, 5 * 28 * 28).Select(i => (byte)(i * 7 % 256)).ToArray();
        var validPixels = Enumerable.Range(0, 2 * 28 * 28).Select(i => (byte)(i * 3 % 256)).ToArray();
        File.WriteAllBytes(Path.Combine(source, "train-images-idx3-ubyte"), Idx([5, 28, 28], trainPixels));
        File.WriteAllBytes(Path.Combine(source, "train-labels-idx1-ubyte"), Idx([5], [0, 9, 0, 3, 9]));
        File.WriteAllBytes(Path.Combine(source, "t10k-images-idx3-ubyte"), Idx([2, 28, 28], validPixels));
        File.WriteAllBytes(Path.Combine(source, "t10k-labels-idx1-ubyte"), Idx([2], [3, 0]));
        string out_ = _dir["png"];
        var psi = new ProcessStartInfo("python3", [Repo.File("scripts", "fashion_mnist_to_png.py"), out_, "--source", source]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using (var p = Process.Start(psi)!)
        {
            string err = p.StandardError.ReadToEnd();
            Assert.Contains("wrote 7 PNG images", p.StandardOutput.ReadToEnd());
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, err);
        }
        using var data = ImageFolder.Load(out_, new ImageFolderOptions { Cache = false });
        // Only classes with images get a folder; '/' in "T-shirt/top" is written as '-'.
        Assert.Equal(["Ankle boot", "Dress", "T-shirt-top"], data.ClassNames);
        Assert.Equal((1, 28, 28), (data.Channels, data.Height, data.Width));
        // Train image 1 (label 9, "Ankle boot") is the first of its class folder.
        Assert.Equal(trainPixels[(1 * 784)..(2 * 784)], data.TrainImages[0].contiguous().data<byte>().ToArray());
        Assert.Equal(validPixels[..784], data.ValidImages[0].contiguous().data<byte>().ToArray());
    }
}
