using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cadence.Cli.Training;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.TestSupport;

namespace Cadence.Cli.Tests;

/// <summary>
/// Images through the command line (issue 14): <c>--data folder</c> and its options, CIFAR-10, IDX and CSV runs
/// whose <c>--out</c> folder <c>cadence predict</c> reads, <c>--export</c>/<c>--weights</c>, <c>--fine-tune</c>,
/// and what the model got wrong in <c>--plots</c>/<c>--report</c>. Every run is small: 8×8 grey images of three classes.
/// </summary>
[Collection(TrainingCollection.Name)]
public sealed class ImageCommandTests : IDisposable
{
    private static readonly string[] Classes = ["circle", "square", "triangle"];
    private readonly TempDirectory _temp = new("cadence-images");

    public ImageCommandTests()
    {
        Folder = GeneratedData.ImageFolder(Path.Combine(_temp.Path, "shapes"), Classes, train: 16, valid: 4);
        Cache = Path.Combine(_temp.Path, "cache");
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>3 classes × 16 training images (6 batches of 8) and × 4 validation images, 8×8 grey.</summary>
    private string Folder { get; }

    private string Cache { get; }

    private string Dir => _temp.Path;

    /// <summary>The options of a small, fast folder run: 8 per batch, one thread, the test's own cache.</summary>
    private string[] FolderData(string? folder = null) => ["--data", "folder", folder ?? Folder, "--bs", "8", "--threads", "1", "--cache-dir", Cache];

    private static (int Code, string Out, string Err) Fit(params string[] args) => TestData.Run("fit", args);

    private static (int Code, string Out, string Err) Predict(params string[] args) => TestData.Run("predict", args);

    [Theory]
    [InlineData("cadence fit: --size: must be a whole number in [1, 4096], got 0", "--size", "0")]
    [InlineData("cadence fit: --channels: expected 1, 3, got '2'", "--channels", "2")]
    [InlineData("cadence fit: --resize: needs --size N (without it the images keep their own size)", "--resize", "squish")]
    [InlineData("cadence fit: --aug: expected fastai, cifar, got 'flip'", "--aug", "flip")]
    [InlineData("cadence fit: --valid-pct: {folder} has a validation folder (valid/ or test/): the split is the folders'", "--valid-pct", "0.3")]
    [InlineData("cadence fit: --valid: only applies to --data csv (an image folder's validation images are its valid/ folder)", "--valid", "v.csv")]
    [InlineData("cadence fit: --cache-dir: give --no-cache or --cache-dir, not both", "--no-cache")]
    [InlineData("cadence fit: --fine-tune: must be a whole number in [1, 100000], got 0", "--fine-tune", "0")]
    [InlineData("cadence fit: --schedule: give --fine-tune EPOCHS or --schedule POLICY, not both (fine-tune has its own schedule)", "--fine-tune", "2", "--schedule", "one-cycle")]
    [InlineData("cadence fit: --epochs: give the epochs as --fine-tune EPOCHS (the unfrozen phase; --freeze-epochs the frozen one)", "--fine-tune", "2", "--epochs", "3")]
    [InlineData("cadence fit: --lr: not with --fine-tune (fine-tune's options: --base-lr, --freeze-epochs, --lr-mult, --pct-start, --div, --moms, --div-final)", "--fine-tune", "2", "--lr", "0.1")]
    [InlineData("cadence fit: --groups: comes from the model and the data with --fine-tune (--fine-tune EPOCHS gives the epochs)", "--fine-tune", "2", "--groups", "3")]
    [InlineData("cadence fit: --checkpoint-every: not with --fine-tune: its two fits write no checkpoints (a fine-tune cannot be resumed)", "--fine-tune", "2", "--out", "o", "--checkpoint-every", "5")]
    [InlineData("cadence fit: --base-lr: expects a number or a comma-separated list of numbers, got 'big'", "--fine-tune", "2", "--base-lr", "big")]
    [InlineData("cadence fit: --export: expected a .pt or .pth or .safetensors file, got 'w.bin'", "--export", "w.bin")]
    [InlineData("cadence fit: --model: expected one of mlp, cnn, resnet, resnet18, resnet34, got 'resnet50' (did you mean resnet?)", "--model", "resnet50")]
    public void Image_options_are_checked_before_any_image_is_read(string message, params string[] args)
    {
        var (code, stdout, stderr) = Fit([.. FolderData(), .. args]);
        TestData.AssertUsageError((code, stdout, stderr), message.Replace("{folder}", Folder, StringComparison.Ordinal));
        Assert.False(Directory.Exists(Cache));   // refused before decoding: nothing cached
    }

    [Theory]
    [InlineData("cadence fit: --size: only applies to --data folder DIR, not to --data csv; --skip-bad: only applies to --data folder DIR, not to --data csv", "--size", "8", "--skip-bad")]
    [InlineData("cadence fit: --aug: augments images; --data csv is a table", "--aug")]
    [InlineData("cadence fit: --model: resnet18 needs images; --data csv is a table (use mlp)", "--model", "resnet18")]
    [InlineData("cadence fit: --valid-pct: give --valid FILE or --valid-pct, not both", "--valid", "v.csv", "--valid-pct", "0.1")]
    public void Image_options_with_a_table_are_usage_errors(string message, params string[] args) =>
        TestData.AssertUsageError(Fit(["--data", "csv", "t.csv", "--target", "label", .. args]), message);

    [Fact]
    public void Valid_pct_of_a_dataset_with_a_test_set_is_a_usage_error() =>
        TestData.AssertUsageError(Fit("--data", "cifar10", Dir, "--valid-pct", "0.1"), "cadence fit: --valid-pct: only applies to --data csv or folder (--data cifar10 has its own test set)");

    [Fact]
    public void An_unreadable_image_exits_1_naming_the_file()
    {
        string bad = Path.Combine(Folder, "train", "square", "007.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..40]);   // cut inside the image data
        var (code, stdout, stderr) = Fit([.. FolderData(), "--epochs", "1"]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith($"cadence fit: --data: {bad}: ", stderr, StringComparison.Ordinal);
        Assert.EndsWith("(--skip-bad leaves unreadable images out and lists them)" + Environment.NewLine, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Skip_bad_lists_every_image_it_leaves_out_and_trains_on_the_rest()
    {
        string cut = Path.Combine(Folder, "train", "square", "007.png");
        string junk = Path.Combine(Folder, "valid", "circle", "junk.png");
        File.WriteAllBytes(cut, File.ReadAllBytes(cut)[..40]);
        File.WriteAllText(junk, "not an image");
        var (code, stdout, stderr) = Fit([.. FolderData(), "--skip-bad", "--epochs", "1", "--json"]);
        Assert.True(code == 0, stderr);
        var lines = stderr.Split(Environment.NewLine);
        Assert.Single(lines, l => l.StartsWith($"cadence fit: --skip-bad: skipped {cut}: ", StringComparison.Ordinal));
        Assert.Single(lines, l => l.StartsWith($"cadence fit: --skip-bad: skipped {junk}: ", StringComparison.Ordinal));
        Assert.Contains("cadence fit: --skip-bad: 2 unreadable images left out", lines);
        Assert.Contains($"cadence fit: --data folder {Folder}: 47 training and 12 validation images, 8×8, 1 channel; 3 classes: circle, square, triangle", lines);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(6, json.RootElement.GetProperty("iterations").GetInt64());   // 47 images at 8 a batch
    }

    [Fact]
    public void The_decode_cache_is_written_once_and_read_by_the_next_run()
    {
        var first = Fit([.. FolderData(), "--epochs", "1", "--json"]);
        Assert.True(first.Code == 0, first.Err);
        var cacheFile = Assert.Single(Directory.GetFiles(Cache));
        Assert.Contains($"cadence fit: decoded images cached in {cacheFile}", first.Err);
        var second = Fit([.. FolderData(), "--epochs", "1", "--json"]);
        Assert.Contains($"cadence fit: decoded images read from the cache {cacheFile}", second.Err);
        double Loss(string json) => JsonDocument.Parse(json).RootElement.GetProperty("valid_loss").GetDouble();
        Assert.Equal(Loss(first.Out), Loss(second.Out));   // the same pixels, the same run
        var uncached = Fit("--data", "folder", Folder, "--bs", "8", "--threads", "1", "--no-cache", "--epochs", "1", "--json");
        Assert.True(uncached.Code == 0, uncached.Err);
        Assert.DoesNotContain("decoded images", uncached.Err);
        Assert.Equal(Loss(first.Out), Loss(uncached.Out));
        Assert.Single(Directory.GetFiles(Cache));
    }

    /// <summary>Trains the shapes folder for 4 epochs into <paramref name="outDir"/>; returns the JSON line.</summary>
    private JsonElement TrainShapes(string outDir, params string[] more)
    {
        var (code, stdout, stderr) = Fit([.. FolderData(), "--epochs", "4", "--schedule", "fit-one-cycle", "--lr-max", "0.02", "--out", outDir, "--json", .. more]);
        Assert.True(code == 0, stderr);
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    /// <summary>
    /// What the run measured on its validation set, recomputed from <c>cadence predict --json</c>'s probabilities of
    /// every class: the accuracy, and the mean cross-entropy (the valid loss).
    /// </summary>
    private static (double Accuracy, double Loss, JsonElement[] Rows) Measure(string run, string input, Func<string, string> actual)
    {
        var (code, stdout, stderr) = Predict("--model-dir", run, "--top-k", "3", "--json", input);
        Assert.True(code == 0, stderr);
        var rows = JsonDocument.Parse(stdout).RootElement.GetProperty("predictions").EnumerateArray().Select(r => r.Clone()).ToArray();
        double hits = 0, loss = 0;
        foreach (var r in rows)
        {
            var top = r.GetProperty("top").EnumerateArray().ToArray();
            Assert.Equal(r.GetProperty("class").GetString(), top[0].GetProperty("class").GetString());
            Assert.Equal(r.GetProperty("probability").GetDouble(), top[0].GetProperty("probability").GetDouble());
            var p = top.Select(t => t.GetProperty("probability").GetDouble()).ToArray();
            Assert.True(p.Zip(p.Skip(1)).All(x => x.First >= x.Second), "top-k is most probable first");
            Assert.Equal(1, p.Sum(), 9);   // every class listed: the probabilities add up to 1
            string truth = actual(r.GetProperty("input").GetString()!);
            if (r.GetProperty("class").GetString() == truth) hits++;
            loss -= Math.Log(top.Single(t => t.GetProperty("class").GetString() == truth).GetProperty("probability").GetDouble());
        }
        return (hits / rows.Length, loss / rows.Length, rows);
    }

    private static string ClassFolder(string file) => Path.GetFileName(Path.GetDirectoryName(file))!;

    [Fact]
    public void Predict_on_the_validation_folder_gives_the_runs_own_accuracy_and_loss()
    {
        string run = Path.Combine(Dir, "run");
        var fit = TrainShapes(run);
        Assert.True(fit.GetProperty("accuracy").GetDouble() >= 0.75, fit.ToString());
        Assert.Equal(1 - fit.GetProperty("accuracy").GetDouble(), fit.GetProperty("error_rate").GetDouble(), 12);

        var card = ModelCard.Read(run);
        Assert.Equal("cnn", card.Model);
        Assert.Equal(Classes, card.Classes);
        Assert.Equal([1L, 8, 8], card.SampleShape);
        Assert.Equal(ResizeMethod.Crop, card.Resize);

        var (accuracy, loss, rows) = Measure(run, Path.Combine(Folder, "valid"), ClassFolder);
        Assert.Equal(12, rows.Length);
        Assert.Equal(fit.GetProperty("accuracy").GetDouble(), accuracy, 12);
        Assert.Equal(fit.GetProperty("valid_loss").GetDouble(), loss, 5);   // float32 logits, float64 softmax here

        // The table for people: one line per input, the class and its probability with 6 significant digits.
        string one = Path.Combine(Folder, "valid", "square", "000.png");
        var (code, table, _) = Predict("--model-dir", run, one);
        Assert.Equal(0, code);
        var lines = table.TrimEnd().Split(Environment.NewLine);
        Assert.Matches(@"^input\s+class\s+probability$", lines[0]);
        var row = rows.Single(r => r.GetProperty("input").GetString() == one);
        Assert.Equal($"{one}  {row.GetProperty("class").GetString()}  {NumberFormat.Human(row.GetProperty("probability").GetDouble())}", lines[1]);
    }

    [Fact]
    public void An_idx_run_predicts_png_copies_of_its_test_images_exactly()
    {
        // IDX files and PNG copies of the same pixels: predict must prepare the PNGs as IdxImages prepared the test set.
        string idx = Path.Combine(Dir, "idx"), pngs = Path.Combine(Dir, "pngs");
        var rng = new Random(3);
        var labels = new Dictionary<string, string>();
        foreach (var (split, count) in new[] { ("train", 48), ("t10k", 12) })
        {
            var pixels = new List<byte>();
            var y = new byte[count];
            for (int i = 0; i < count; i++)
            {
                y[i] = (byte)(i % 3);
                var image = GeneratedData.Band(8, y[i] * 2 + 1, 2, rng);
                pixels.AddRange(image);
                if (split == "t10k") labels[GeneratedData.Png(Path.Combine(pngs, $"{i:D2}.png"), 8, 8, 1, image)] = y[i].ToString(CultureInfo.InvariantCulture);
            }
            WriteIdx(Path.Combine(idx, $"{split}-images-idx3-ubyte"), [count, 8, 8], [.. pixels]);
            WriteIdx(Path.Combine(idx, $"{split}-labels-idx1-ubyte"), [count], y);
        }
        string run = Path.Combine(Dir, "idx-run");
        var (code, stdout, stderr) = Fit("--data", "idx", idx, "--bs", "8", "--threads", "1", "--epochs", "3", "--schedule", "fit-one-cycle", "--lr-max", "0.02", "--out", run, "--json");
        Assert.True(code == 0, stderr);
        var fit = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(["0", "1", "2"], ModelCard.Read(run).Classes);
        var (accuracy, loss, _) = Measure(run, pngs, f => labels[f]);
        Assert.Equal(fit.GetProperty("accuracy").GetDouble(), accuracy, 12);
        Assert.Equal(fit.GetProperty("valid_loss").GetDouble(), loss, 5);
    }

    private static void WriteIdx(string path, int[] dims, byte[] data)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var header = new List<byte> { 0, 0, 8, (byte)dims.Length };
        foreach (var d in dims) header.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        File.WriteAllBytes(path, [.. header, .. data]);
    }

    [Fact]
    public void A_csv_run_with_a_validation_file_predicts_its_rows()
    {
        var all = File.ReadAllLines(TestData.ThreeClassCsv(Dir));
        string train = Path.Combine(Dir, "train.csv"), valid = Path.Combine(Dir, "valid.csv");
        File.WriteAllLines(train, all.Take(241));
        File.WriteAllLines(valid, all.Take(1).Concat(all.Skip(241)));
        string run = Path.Combine(Dir, "csv-run");
        var (code, stdout, stderr) = Fit("--data", "csv", train, "--target", "label", "--valid", valid, "--bs", "16", "--threads", "1",
            "--epochs", "2", "--schedule", "fit-one-cycle", "--lr-max", "0.05", "--out", run, "--json");
        Assert.True(code == 0, stderr);
        var fit = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2 * 15, fit.GetProperty("iterations").GetInt64());   // all 240 rows of train.csv train
        var labels = all.Skip(241).Select(l => l.Split(',')[^1]).ToArray();
        var (accuracy, loss, rows) = Measure(run, valid, input => labels[int.Parse(input.Split('#')[1], CultureInfo.InvariantCulture) - 1]);
        Assert.Equal(60, rows.Length);
        Assert.Equal($"{valid}#1", rows[0].GetProperty("input").GetString());
        Assert.Equal(fit.GetProperty("accuracy").GetDouble(), accuracy, 12);
        Assert.Equal(fit.GetProperty("valid_loss").GetDouble(), loss, 5);

        // An image model refuses the table; a table model refuses images.
        TestData.AssertUsageError(Predict("--model-dir", run, Path.Combine(Folder, "valid")), $"cadence predict: INPUT: {Path.Combine(Folder, "valid")}: mlp was trained on a table, not on images: give it a CSV file");
    }

    [Fact]
    public void A_bad_validation_file_exits_1_naming_valid()
    {
        string train = TestData.ThreeClassCsv(Dir), valid = Path.Combine(Dir, "valid.csv");
        File.WriteAllText(valid, "a,b\n1,2\n");
        var (code, _, stderr) = Fit("--data", "csv", train, "--target", "label", "--valid", valid, "--epochs", "1");
        Assert.Equal(1, code);
        Assert.StartsWith($"cadence fit: --valid: {valid}: expected a column 'label'", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "x.png" }, "cadence predict: --model-dir: required: the folder of a finished run (cadence fit --out RUN)")]
    [InlineData(new[] { "--model-dir", "{dir}", "--top-k", "0", "x.png" }, "cadence predict: --top-k: must be a whole number in [1, 1000], got 0")]
    [InlineData(new[] { "--model-dir", "{dir}", "{dir}/none.png" }, "cadence predict: INPUT: {dir}/none.png: no such file or folder")]
    [InlineData(new[] { "--model-dir", "{dir}/none", "{dir}" }, "cadence predict: --model-dir: {dir}/none is not a folder")]
    [InlineData(new[] { "--model-dir", "{dir}" }, "cadence predict: INPUT: required (see cadence predict --help)")]
    public void Predict_usage_errors_exit_2(string[] args, string message) =>
        TestData.AssertUsageError(Predict([.. args.Select(a => a.Replace("{dir}", Dir, StringComparison.Ordinal))]), message.Replace("{dir}", Dir, StringComparison.Ordinal));

    [Fact]
    public void Predict_on_a_folder_that_is_not_a_run_exits_1_naming_model_dir()
    {
        var (code, stdout, stderr) = Predict("--model-dir", Dir, Path.Combine(Folder, "valid"));
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"cadence predict: --model-dir: {Path.Combine(Dir, "model.json")}: file not found", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_writes_the_trained_weights_as_a_state_dict_that_loads_back()
    {
        string run = Path.Combine(Dir, "run"), pt = Path.Combine(Dir, "w", "model.pt"), st = Path.Combine(Dir, "model.safetensors");
        TrainShapes(run, "--export", pt);
        var (code, _, stderr) = Fit([.. FolderData(), "--epochs", "1", "--export", st]);
        Assert.True(code == 0, stderr);
        using var model = ModelCard.Read(run).LoadModel(run);
        var mine = model.state_dict();
        var theirs = PyTorchWeights.Read(pt);
        Assert.Equal(mine.Keys.Order(), theirs.Keys.Order());
        foreach (var (name, t) in mine) Assert.True(t.shape.SequenceEqual(theirs[name].shape) && t.equal(theirs[name]).all().item<bool>(), name);
        Assert.Equal(mine.Keys.Order(), PyTorchWeights.Read(st).Keys.Order());

        // --weights: the exported file starts a run on data with another number of classes: a new head, said in one line.
        string four = GeneratedData.ImageFolder(Path.Combine(Dir, "four"), ["a", "b", "c", "d"], train: 8, valid: 2);
        var again = Fit([.. FolderData(four), "--epochs", "1", "--weights", pt]);
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains("cadence fit: --weights: new head: the weights classify 3 classes, the data has 4: 'head.fc2' starts from random weights (fastai's cnn_learner cut)", again.Err);

        // Weights of another architecture: exit 1 naming --weights and the first tensor that differs.
        var wrong = Fit([.. FolderData(), "--epochs", "1", "--model", "resnet", "--weights", pt]);
        Assert.Equal(1, wrong.Code);
        var last = wrong.Err.TrimEnd().Split(Environment.NewLine)[^1];   // after the data's lines
        Assert.StartsWith($"cadence fit: --weights: {pt}: does not fit ", last, StringComparison.Ordinal);
        Assert.Contains(": tensor 'stem.conv.weight' [32, 1, 3, 3] is missing from the file", last);
    }

    [SkippableFact]
    public void PyTorch_reads_an_exported_state_dict()
    {
        string python = Requires.PythonWithTorch();
        string run = Path.Combine(Dir, "run"), pt = Path.Combine(Dir, "model.pt");
        TrainShapes(run, "--export", pt);
        var psi = new System.Diagnostics.ProcessStartInfo(python, ["-c",
            "import sys, torch; sd = torch.load(sys.argv[1]); print(len(sd), float(sd['head.fc2.weight'].double().sum()))", pt])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd(), error = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000) && p.ExitCode == 0, error);
        using var model = ModelCard.Read(run).LoadModel(run);
        var sd = model.state_dict();
        var parts = output.Trim().Split(' ');
        Assert.Equal(sd.Count, int.Parse(parts[0], CultureInfo.InvariantCulture));
        Assert.Equal(sd["head.fc2.weight"].to_type(TorchSharp.torch.ScalarType.Float64).sum().item<double>(), double.Parse(parts[1], CultureInfo.InvariantCulture), 9);
    }

    [Fact]
    public void Fine_tune_trains_both_phases_with_fastais_schedule_as_one_run()
    {
        string run = Path.Combine(Dir, "ft");
        var (code, stdout, stderr) = Fit([.. FolderData(), "--fine-tune", "2", "--base-lr", "0.01", "--out", run, "--json"]);
        Assert.True(code == 0, stderr);
        var fit = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(3, fit.GetProperty("epochs").GetInt32());            // 1 frozen + 2 unfrozen
        Assert.Equal(3 * 6, fit.GetProperty("iterations").GetInt64());
        // The epoch table numbers the epochs on across the phases and names each epoch's phase, as metrics.csv and
        // history.json do.
        string[] expected = ["1 frozen", "2 unfrozen", "3 unfrozen"];
        var table = stderr.Split(Environment.NewLine);
        Assert.Contains(table, l => Regex.IsMatch(l, @"^epoch\s+phase\s+train_loss\s+valid_loss\s+accuracy"));
        Assert.Equal(expected, table.Where(l => Regex.IsMatch(l, @"^\d+\s+[a-z]+\s+\d")).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..2])));
        var csv = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
        Assert.StartsWith("epoch,phase,train_loss,valid_loss,", csv[0], StringComparison.Ordinal);
        Assert.Equal(expected, csv.Skip(1).Select(l => string.Join(' ', l.Split(',')[..2])));
        // Every step's lr in every group (the CNN's body and head) is fastai's fine_tune(2, base_lr=0.01).
        var plan = Cadence.Schedules.FineTune.Plan(groups: 2, epochs: 2, batchesPerEpoch: 6, baseLr: 0.01);
        var (lr, momentum) = plan.Trace();
        using var history = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "history.json")));
        Assert.Equal(expected, history.RootElement.GetProperty("epochs").EnumerateArray()
            .Select(e => $"{e.GetProperty("epoch").GetInt32()} {e.GetProperty("phase").GetString()}"));
        var steps = history.RootElement.GetProperty("steps").EnumerateArray().ToArray();
        Assert.Equal(18, steps.Length);
        for (int t = 0; t < 18; t++)
        {
            Assert.Equal(t, steps[t].GetProperty("step").GetInt64());
            Assert.Equal([lr[0][t], lr[1][t]], steps[t].GetProperty("lr").EnumerateArray().Select(v => v.GetDouble()));
            Assert.Equal([momentum[0][t], momentum[1][t]], steps[t].GetProperty("momentum").EnumerateArray().Select(v => v.GetDouble()));
        }
        Assert.True(File.Exists(Path.Combine(run, ModelCard.FileName)));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoints")));
    }

    [Fact]
    public void Fine_tune_values_out_of_range_are_named_before_any_data_is_loaded() =>
        TestData.AssertUsageError(Fit("--data", "csv", Path.Combine(Dir, "none.csv"), "--target", "label", "--fine-tune", "1", "--freeze-epochs", "-1", "--pct-start", "2"),
            "cadence fit: --freeze-epochs: must be an integer ≥ 0, got -1; --pct-start: must be in [0, 1], got 2");

    [Fact]
    public void Plots_and_the_report_show_the_confusion_matrix_and_the_top_losses()
    {
        string charts = Path.Combine(Dir, "charts"), report = Path.Combine(Dir, "report.html");
        TrainShapes(Path.Combine(Dir, "run"), "--plots", charts, "--report", report);
        foreach (var name in new[] { "lr", "loss", "metrics", "confusion-matrix", "top-losses" })
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(charts, name + ".png"))[..4]);
        string html = File.ReadAllText(report);
        Assert.Contains("<h2>Confusion matrix: 12 validation images, error rate ", html);
        Assert.Contains("<h2>Top losses: prediction/actual, loss / probability</h2>", html);

        // A table has no images: the confusion matrix only.
        string tableCharts = Path.Combine(Dir, "table-charts");
        var (code, _, stderr) = Fit("--data", "csv", TestData.ThreeClassCsv(Dir), "--target", "label", "--bs", "16", "--threads", "1", "--epochs", "1", "--plots", tableCharts);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(tableCharts, "confusion-matrix.png")));
        Assert.False(File.Exists(Path.Combine(tableCharts, "top-losses.png")));
    }

    [Fact]
    public void The_top_losses_pixels_are_the_decoded_images()
    {
        TorchRuntime.Configure(threads: 1);
        using var images = ImageFolder.Load(Folder, new ImageFolderOptions { Cache = false });
        foreach (var normalization in new[] { images.TrainingStatistics(), ImageNormalization.For(images, pretrained: true), new ImageNormalization([0.5], [0.01]) })
        {
            var (train, valid) = images.ToDatasets(normalization);
            using (train)
            using (valid)
            using (var pixels = ImageLoading.Pixels(valid, normalization))
                Assert.True(pixels.shape.SequenceEqual(images.ValidImages.shape) && pixels.equal(images.ValidImages).all().item<bool>(), $"mean {normalization.Mean[0]}, std {normalization.Std[0]}");
        }
    }

    [Fact]
    public void Augmentation_is_named_in_the_header_and_seeded()
    {
        var a = Fit([.. FolderData(), "--epochs", "1", "--aug", "--json"]);
        var b = Fit([.. FolderData(), "--epochs", "1", "--aug", "--json"]);
        var plain = Fit([.. FolderData(), "--epochs", "1", "--json"]);
        Assert.True(a.Code == 0, a.Err);
        Assert.Contains("cadence fit: --aug fastai: every training batch flipped left–right with p 0.5, rotated up to 10° and zoomed 1–1.1 with p 0.75 each (seeded; validation batches are not augmented)", a.Err);
        Assert.DoesNotContain("--aug", plain.Err);
        double Loss((int, string Out, string) r) => JsonDocument.Parse(r.Out).RootElement.GetProperty("train_loss").GetDouble();
        Assert.Equal(Loss(a), Loss(b));
        Assert.NotEqual(Loss(a), Loss(plain));
        var cifar = Fit([.. FolderData(), "--epochs", "1", "--aug", "cifar"]);
        Assert.Contains("cadence fit: --aug cifar: every training batch flipped left–right with p 0.5, randomly cropped after 4 pixels of reflect padding (seeded; validation batches are not augmented)", cifar.Err);
    }

    [Fact]
    public void An_interrupted_augmented_run_resumes_to_the_uninterrupted_numbers()
    {
        string[] args = [.. FolderData(), "--aug", "--epochs", "2", "--schedule", "fit-one-cycle", "--lr-max", "0.02", "--json"];
        var whole = Fit([.. args, "--out", Path.Combine(Dir, "whole")]);
        Assert.True(whole.Code == 0, whole.Err);
        // Ctrl+C in the second epoch (the plain progress line of its second batch), then --resume in a new run.
        string run = Path.Combine(Dir, "cut");
        using var cts = new CancellationTokenSource();
        using var stderr = new ExperimentTestData.CancelOnLine(cts, "epoch 2/2  batch 2/6");
        int cut = TestData.Run(["fit", .. args, "--out", run], new StringWriter(), stderr, cts.Token);
        Assert.True(cut == 130, stderr.ToString());
        var resumed = Fit("--resume", run, "--json");
        Assert.True(resumed.Code == 0, resumed.Err);
        var a = JsonDocument.Parse(whole.Out).RootElement;
        var b = JsonDocument.Parse(resumed.Out).RootElement;
        foreach (var key in new[] { "train_loss", "valid_loss", "accuracy" }) Assert.Equal(a.GetProperty(key).GetDouble(), b.GetProperty(key).GetDouble());
    }

    [Fact]
    public void Cifar10_trains_on_its_own_files_with_three_channels()
    {
        string dir = Path.Combine(Dir, "cifar");
        Directory.CreateDirectory(dir);
        string[] names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
        File.WriteAllText(Path.Combine(dir, Cifar10.MetaFile), string.Join("\n", names) + "\n\n");
        var rng = new Random(1);
        foreach (var file in Cifar10.TrainFiles.Append(Cifar10.TestFile))
        {
            var bytes = new byte[4 * Cifar10.RecordBytes];
            rng.NextBytes(bytes);
            for (int r = 0; r < 4; r++) bytes[r * Cifar10.RecordBytes] = (byte)(r % 10);
            File.WriteAllBytes(Path.Combine(dir, file), bytes);
        }
        string run = Path.Combine(Dir, "cifar-run");
        var (code, _, stderr) = Fit("--data", "cifar10", dir, "--bs", "4", "--threads", "1", "--epochs", "1", "--aug", "cifar", "--out", run);
        Assert.True(code == 0, stderr);
        Assert.Contains($"cadence fit: --data cifar10 {dir}: 20 training and 4 validation images, 32×32, 3 channels; 10 classes: {string.Join(", ", names)}", stderr);
        var card = ModelCard.Read(run);
        Assert.Equal([3L, 32, 32], card.SampleShape);
        Assert.Equal(names, card.Classes);
    }

    [Fact]
    public void Compare_on_a_folder_without_valid_splits_by_seed_as_fit_does()
    {
        string flat = GeneratedData.ImageFolder(Path.Combine(Dir, "flat"), Classes, train: 20, valid: 0);
        var (code, stdout, stderr) = TestData.Run("compare", [.. FolderData(flat), "--valid-pct", "0.25", "--epochs", "1", "--seed-list", "1", "--json", "constant lr=0.02"]);
        Assert.True(code == 0, stderr);
        Assert.Contains($"cadence compare: --data folder {flat}: 45 training and 15 validation images", stderr);
        var fit = Fit([.. FolderData(flat), "--valid-pct", "0.25", "--epochs", "1", "--seed", "1", "--schedule", "constant", "--lr", "0.02", "--json"]);
        Assert.True(fit.Code == 0, fit.Err);
        double compared = JsonDocument.Parse(stdout).RootElement.GetProperty("schedules")[0].GetProperty("accuracy").GetProperty("mean").GetDouble();
        Assert.Equal(JsonDocument.Parse(fit.Out).RootElement.GetProperty("accuracy").GetDouble(), compared);
    }
}
