using System.Text.Json;
using Cadence.Checkpoints;
using Cadence.Data;
using Cadence.Models;
using Cadence.TestSupport;

namespace Cadence.Cli.Tests;

/// <summary>
/// What <c>cadence fit</c>, <c>compare</c> and <c>sweep</c> do with the folders they write (issue 18), in this process:
/// refusals that come before any data is loaded, the run directory a finished fit leaves (model card included, so that
/// <c>cadence predict</c> can use it), and a finished run shown again. Kills, two processes and corruption are in
/// <see cref="FaultInjectionTests"/>.
/// </summary>
public sealed class RunDirectoryCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-rundir");

    public void Dispose() => _temp.Dispose();

    private string Csv() => File.Exists(_temp["three.csv"]) ? _temp["three.csv"] : TestData.ThreeClassCsv(_temp.Path);

    private string[] Fit(string run) =>
        ["--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05", "--epochs", "2", "--out", run];

    [Fact]
    public void A_finished_run_is_not_overwritten_and_resuming_it_shows_it_again_without_training()
    {
        string run = _temp["run"];
        var first = TestData.Run("fit", Fit(run));
        Assert.True(first.Code == 0, first.Err);
        Assert.Equal([RunLock.FileName, RunDirectory.CompletionName, "checkpoints", "history.json", "metrics.csv", "model.dat", "model.json"],
            Directory.EnumerateFileSystemEntries(run).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var files = Directory.EnumerateFiles(run, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != RunLock.FileName)
            .ToDictionary(f => f, File.ReadAllBytes);

        // Training into it again is refused before any data is loaded, offering both ways out.
        TestData.AssertUsageError(TestData.Run("fit", Fit(run)),
            $"cadence fit: --out {run} already holds a run (complete, 2 epochs): continue it with --resume {run}, or replace it with --overwrite");

        // Resumed, it says so and prints what the run printed at its end again: the epoch table and the lr chart.
        var again = TestData.Run("fit", ["--resume", run]);
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal($"cadence fit: {run} is complete (2 epochs){Environment.NewLine}", again.Err);
        Assert.StartsWith("epoch       train_loss  valid_loss  accuracy    error_rate  time", again.Out, StringComparison.Ordinal);
        Assert.Equal(first.Out, again.Out);
        Assert.All(files, f => Assert.Equal(f.Value, File.ReadAllBytes(f.Key)));   // nothing rewritten
    }

    [Theory]
    [InlineData("cadence fit: --overwrite: needs --out DIR (the run to replace)", "--overwrite")]
    [InlineData("cadence fit: --overwrite: replaces a run and --resume continues one: give one of them", "--overwrite", "--resume", "somewhere")]
    public void Overwrite_goes_with_out_and_not_with_resume(string message, params string[] args) =>
        TestData.AssertUsageError(TestData.Run("fit", args), message);

    [Theory]
    [InlineData("fit")]
    [InlineData("compare")]
    [InlineData("sweep")]
    public void An_output_folder_another_writer_holds_is_refused_before_any_data_is_loaded(string command)
    {
        string dir = Directory.CreateDirectory(_temp[$"busy-{command}"]).FullName;
        using var held = RunLock.Acquire(dir);   // a second lock on the file conflicts even within one process
        string[] rest = command switch { "compare" => ["constant lr=0.1"], "sweep" => ["constant", "--lr", "0.1"], _ => [] };
        // Fashion-MNIST is the default data: a refusal in milliseconds shows nothing was loaded.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = TestData.Run(command, ["--out", dir, "--epochs", "1", .. rest]);
        Assert.True(clock.ElapsedMilliseconds < 5000, $"{clock.ElapsedMilliseconds} ms");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Equal($"cadence {command}: {dir} is in use by process {Environment.ProcessId} (since {held.Since:yyyy-MM-dd HH:mm:ss}Z){Environment.NewLine}", stderr);
    }

    [Fact]
    public void A_csv_run_directory_has_a_model_card_that_predicts_the_table()
    {
        string run = _temp["csv-run"];
        var (code, _, err) = TestData.Run("fit", Fit(run));
        Assert.True(code == 0, err);
        var card = ModelCard.Read(run);
        Assert.Equal("mlp", card.Model);
        Assert.Equal(13, card.Features!.Count);
        Assert.Equal(["alpha", "beta", "gamma"], card.Classes);
        using var predictor = Predictor.Load(run);
        var predictions = predictor.PredictCsv(Csv());
        var labels = File.ReadLines(Csv()).Skip(1).Select(l => l.Split(',')[^1]).ToArray();
        Assert.Equal(labels.Length, predictions.Count);
        Assert.InRange(predictions.Zip(labels).Count(p => p.First.Class == p.Second) / (double)labels.Length, 0.9, 1);
    }

    [Fact]
    public void An_idx_run_directory_records_the_image_shape_and_the_normalization_training_used()
    {
        string data = Directory.CreateDirectory(_temp["idx"]).FullName;
        var rng = new Random(5);
        byte[] Images(int n) => [.. Enumerable.Range(0, n * 64).Select(i => (byte)(i / 64 % 2 * 100 + rng.Next(0, 100)))];   // class = image index % 2
        var train = Images(64);
        WriteIdx(Path.Combine(data, "train-images-idx3-ubyte"), train, 64, 8, 8);
        WriteIdx(Path.Combine(data, "train-labels-idx1-ubyte"), [.. Enumerable.Range(0, 64).Select(i => (byte)(i % 2))], 64);
        WriteIdx(Path.Combine(data, "t10k-images-idx3-ubyte"), Images(32), 32, 8, 8);
        WriteIdx(Path.Combine(data, "t10k-labels-idx1-ubyte"), [.. Enumerable.Range(0, 32).Select(i => (byte)(i % 2))], 32);
        string run = _temp["idx-run"];
        var (code, _, err) = TestData.Run("fit", ["--data", "idx", data, "--model", "mlp", "--bs", "16", "--threads", "1", "--lr", "0.05", "--epochs", "1", "--out", run]);
        Assert.True(code == 0, err);
        var card = ModelCard.Read(run);
        Assert.Equal([1L, 8, 8], card.SampleShape);
        Assert.Equal(["0", "1"], card.Classes);
        // The training pixels' mean and (unbiased) standard deviation, of pixels scaled to [0, 1].
        var pixels = train.Select(b => b / 255.0).ToArray();
        double mean = pixels.Average(), std = Math.Sqrt(pixels.Sum(p => (p - mean) * (p - mean)) / (pixels.Length - 1));
        Assert.Equal(mean, Assert.Single(card.Normalization!.Mean), 6);
        Assert.Equal(std, Assert.Single(card.Normalization.Std), 6);
        Assert.Equal(ResizeMethod.Crop, card.Resize);
    }

    /// <summary>An IDX file of unsigned bytes (magic 0x08, then the dimensions, big-endian).</summary>
    private static void WriteIdx(string path, byte[] data, params int[] dims)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(new byte[] { 0, 0, 0x08, (byte)dims.Length });
        foreach (var d in dims) w.Write(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(d));
        w.Write(data);
    }
}
