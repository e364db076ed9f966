#:project ../src/Cadence/Cadence.csproj
#:package libtorch-cpu-linux-x64
#:property PublishAot=false
// Training speed from an image folder vs IDX (issue 14's ±5% target), in one process so that both see the same
// machine: Fashion-MNIST's IDX files and its PNG folder (scripts/bench-decode.sh makes it), the same random subset of
// STEPS batches of 64 from each, the CNN, fastai 0.7's fit(0.1, 1, cycle_len=1, use_clr=(32, 5)) through the Learner,
// three rounds with the order alternating. Usage (a quiet machine):
//   dotnet run -c Release scripts/bench_learner_folder_vs_idx.cs -- FOLDER [STEPS=300]
using System.Diagnostics;
using System.Globalization;
using Cadence; using Cadence.Data; using Cadence.Models; using Cadence.Training; using Cadence.Schedules;
using TorchSharp; using static TorchSharp.torch;
TorchRuntime.Configure(seed: 0, threads: 2);
var (it, iv) = IdxImages.Load(IdxImages.FashionMnistDirectory);
using var img = ImageFolder.Load(args[0], new ImageFolderOptions { Parallelism = 2 });
var (ft, fv) = img.ToDatasets(ImageNormalization.For(img, false));
int steps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 300;
var seconds = new Dictionary<string, List<double>> { ["idx"] = [], ["folder"] = [] };
// The same number of training images from each: a random subset of STEPS·64 (the loader shuffles them).
var pick = randperm(60000).narrow(0, 0, steps * 64);
InMemoryDataset Part(InMemoryDataset d) => new(d.Features.index_select(0, pick).contiguous(), d.Labels.index_select(0, pick).contiguous(), d.Classes);
var sets = new[] { ("idx", Part(it), iv), ("folder", Part(ft), fv) };
for (int r = 0; r < 3; r++)
    foreach (var (name, train, valid) in r % 2 == 0 ? sets : new[] { sets[1], sets[0] })
    {
        manual_seed(0);
        var spec = ModelZoo.Create("cnn", [1, 28, 28], 10);
        var data = new DataLoaders(new DataLoader(train, 64, shuffle: true, seed: 0), new DataLoader(valid, 256));
        var learn = new Learner(spec.Model, data, layerGroups: spec.LayerGroups);
        var sw = Stopwatch.StartNew();
        var result = learn.Fit(0.1, 1, cycleLen: 1, useClr: new UseClr(32, 5));
        seconds[name].Add(sw.Elapsed.TotalSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"round {r} {name,-6}: {sw.Elapsed.TotalSeconds:F1} s, {steps * 64 / sw.Elapsed.TotalSeconds:F0} images/s (training images over training + validation time), accuracy {result.Metrics["accuracy"]:F4}"));
    }
double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"median: idx {steps * 64 / Median(seconds["idx"]):F0} images/s, folder {steps * 64 / Median(seconds["folder"]):F0} images/s: folder/idx = {Median(seconds["idx"]) / Median(seconds["folder"]):F3}"));
