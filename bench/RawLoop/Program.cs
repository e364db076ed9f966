// The raw loop: Fashion-MNIST training written by hand on TorchSharp (RawTrainer.cs), the baseline of the Learner
// benchmark. Cadence.Core supplies only ModelZoo (same modules as the Learner's), IdxImages (same tensors) and
// TorchRuntime.Configure (same process settings). Prints one JSON line; see bench/README.md.
//
// --interleave N: the anchor check in one process. The raw loop and the Learner train identical copies of the model
// on the same data tensors, one epoch each in turn for N rounds (alternating who goes first), so both see the same
// machine; reports wall time and process CPU time of every epoch. Separate processes minutes apart on a busy machine
// measure the machine: see docs/benchmarks.md, "The raw-loop anchor".
using System.Diagnostics;
using System.Text.Json;
using Cadence.Bench.Training;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

var o = BenchArgs.Parse(args);
// Same process settings as the Learner runner and `cadence fit` (OMP_WAIT_POLICY=PASSIVE unless set, threads, seed):
// process configuration, not training code.
Cadence.TorchRuntime.Configure(seed: o.Seed, threads: o.Threads);

var (train, valid) = IdxImages.Load(o.Data);
if (o.TrainImages < train.Count)
{
    var part = new InMemoryDataset(train.Features.narrow(0, 0, o.TrainImages).clone(), train.Labels.narrow(0, 0, o.TrainImages).clone(), train.Classes);
    train.Dispose();
    train = part;
}
using var trainSet = train;
using var validSet = valid;
var result = o.Interleave > 0 ? Interleaved() : Single();
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

Dictionary<string, object> Single()
{
    var model = ModelZoo.Create(o.Model, [1, 28, 28], 10).Model;
    using var raw = new RawTrainer(model, trainSet.Features, trainSet.Labels, o.BatchSize, o.MaxLr, (ulong)o.Seed);
    // Warm-up (untimed): tiered JIT and the native allocator settle; constant lr.
    raw.Train(o.WarmupBatches, 1, timed: false);
    var epochSeconds = raw.Train(raw.Batches, o.Epochs, timed: true);
    double cpuSeconds = raw.CpuSeconds;
    var clock = Stopwatch.StartNew();
    double accuracy = raw.Evaluate(validSet.Features, validSet.Labels, o.EvalImages);
    return new Dictionary<string, object>
    {
        ["contender"] = "raw",
        ["model"] = o.Model,
        ["epochs"] = o.Epochs,
        ["batches_per_epoch"] = raw.Batches,
        ["images_per_epoch"] = raw.Images,
        ["epoch_train_seconds"] = epochSeconds,
        ["train_cpu_seconds"] = Math.Round(cpuSeconds, 3),
        ["images_per_second"] = Math.Round(raw.Images * o.Epochs / epochSeconds.Sum(), 1),
        ["eval_images"] = Math.Min(o.EvalImages, validSet.Count),
        ["eval_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
        ["accuracy"] = Math.Round(accuracy, 5),
        ["threads"] = get_num_threads(),
    };
}

Dictionary<string, object> Interleaved()
{
    manual_seed(o.Seed);
    var rawModel = ModelZoo.Create(o.Model, [1, 28, 28], 10).Model;
    manual_seed(o.Seed);
    var spec = ModelZoo.Create(o.Model, [1, 28, 28], 10);
    using var raw = new RawTrainer(rawModel, trainSet.Features, trainSet.Labels, o.BatchSize, o.MaxLr, (ulong)o.Seed);
    // The Learner's loaders read the same tensors (DataLoaders would dispose them: not disposed here).
    var data = new DataLoaders(new Cadence.Data.DataLoader(trainSet, o.BatchSize, shuffle: true, seed: o.Seed),
        new Cadence.Data.DataLoader(validSet, o.BatchSize));
    var timer = new EpochClock();
    using var learn = new Learner(spec.Model, data, optimizer: OptimizerFactory.Sgd(0.9), layerGroups: spec.LayerGroups, callbacks: [timer]);
    raw.Train(o.WarmupBatches, 1, timed: false);
    learn.Fit(Torch.Constant([o.MaxLr / 25]), 1);   // warm-up: one epoch, then the rounds
    var seconds = new Dictionary<string, List<double>> { ["raw"] = [], ["learner"] = [] };
    var cpu = new Dictionary<string, List<double>> { ["raw"] = [], ["learner"] = [] };
    for (int round = 0; round < o.Interleave; round++)
    {
        foreach (var who in round % 2 == 0 ? new[] { "raw", "learner" } : ["learner", "raw"])
        {
            if (who == "raw")
            {
                seconds["raw"].Add(raw.Train(raw.Batches, 1, timed: true)[0]);
                cpu["raw"].Add(Math.Round(raw.CpuSeconds, 3));
            }
            else
            {
                learn.Fit(Torch.OneCycle([o.MaxLr], learn.Data.Train.BatchCount), 1);
                seconds["learner"].Add(Math.Round(timer.Wall, 4));
                cpu["learner"].Add(Math.Round(timer.Cpu, 3));
            }
        }
    }
    static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2) / 2 + v.Order().ElementAt((v.Count - 1) / 2) / 2;
    return new Dictionary<string, object>
    {
        ["contender"] = "interleaved",
        ["model"] = o.Model,
        ["rounds"] = o.Interleave,
        ["images_per_epoch"] = raw.Images,
        ["epoch_seconds"] = seconds,
        ["epoch_cpu_seconds"] = cpu,
        ["raw_images_per_second"] = Math.Round(raw.Images / Median(seconds["raw"]), 1),
        ["learner_images_per_second"] = Math.Round(raw.Images / Median(seconds["learner"]), 1),
        ["learner_over_raw_cpu"] = Math.Round(Median(cpu["learner"]) / Median(cpu["raw"]), 3),
        ["threads"] = get_num_threads(),
    };
}

/// <summary>Wall and process CPU time of the Learner's training phase (BeforeEpoch → BeforeValidate).</summary>
internal sealed class EpochClock : Callback
{
    private readonly Stopwatch _clock = new();
    private TimeSpan _cpu;
    public double Wall { get; private set; }
    public double Cpu { get; private set; }
    public override void BeforeEpoch(Learner learner) { _cpu = Process.GetCurrentProcess().TotalProcessorTime; _clock.Restart(); }
    public override void BeforeValidate(Learner learner) =>
        (Wall, Cpu) = (_clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalSeconds);
}
