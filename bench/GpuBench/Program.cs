// GPU benchmark and CUDA-vs-CPU check (bench/gpu.sh, scripts/gpu-check.sh; docs/gpu.md). One JSON line per run.
//
//   GpuBench learner    [options]   Cadence's Learner, as a user builds it (--deterministic: TorchRuntime.Deterministic on)
//   GpuBench raw        [options]   a hand-written TorchSharp loop: --placement typical (batches gathered on the host and
//                                   copied each step, loss read every step) or resident (data on the GPU, no per-step sync)
//   GpuBench step-check [options]   two optimizer steps through the Learner on --device and on the CPU, from the same
//                                   initial weights and batches: the largest weight difference (must be ≤ 1e-5)
//
// The recipe is the demo's (docs/learner.md): CNN, SGD momentum 0.9, fastai 0.7 learn.fit(0.1, 1, cycle_len=3,
// use_clr=(32, 5)), Fashion-MNIST standardized; wall time from the first batch to the end of each epoch's test
// evaluation, first-epoch CUDA warm-up included. The raw loop takes only its lr schedule (pure arithmetic) and its
// model/data (same modules and tensors) from Cadence.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cadence;
using Cadence.Bench.Training;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

var o = Options.Parse(args);
var selection = TorchRuntime.SelectDevice(o.Device);
TorchRuntime.Configure(seed: o.Seed, threads: o.Threads, device: o.Device);
if (o.Deterministic) TorchRuntime.Deterministic = true;   // before the first CUDA kernel (cuBLAS reads its workspace setting then)
var device = selection.Device;
var result = o.Mode switch
{
    "learner" => Runs.Learner(o, device),
    "raw" => Runs.Raw(o, device),
    "step-check" => Runs.StepCheck(o, device),
    _ => throw new ArgumentException($"unknown mode '{o.Mode}' (learner, raw, step-check)"),
};
result["device"] = device.ToString();
result["libtorch"] = selection.LibTorch.Describe();
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

internal sealed record Options
{
    public string Mode { get; init; } = "";
    public ComputeDevice Device { get; init; } = ComputeDevice.Cuda();
    public int BatchSize { get; init; } = 64;
    public string Placement { get; init; } = "resident";
    public string Data { get; init; } = IdxImages.FashionMnistDirectory;
    public int Epochs { get; init; } = 3;
    public double Lr { get; init; } = 0.1;
    public long Seed { get; init; }
    public int? Threads { get; init; }
    public long TrainImages { get; init; } = long.MaxValue;
    public long EvalImages { get; init; } = long.MaxValue;
    public double Target { get; init; } = 0.91;
    public bool Deterministic { get; init; }

    public static Options Parse(string[] args)
    {
        if (args.Length == 0) throw new ArgumentException("usage: GpuBench learner|raw|step-check [--device D] [--bs N] [--placement typical|resident] [--data DIR] [--epochs N] [--lr X] [--seed N] [--threads N] [--train-images N] [--eval-images N] [--target X] [--deterministic]");
        var o = new Options { Mode = args[0] };
        for (int i = 1; i < args.Length; i++)
        {
            string name = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name}: missing value");
            long Int() => long.Parse(Next(), CultureInfo.InvariantCulture);
            o = name switch
            {
                "--device" => o with { Device = ComputeDevice.Parse(Next()) },
                "--bs" => o with { BatchSize = (int)Int() },
                "--placement" => o with { Placement = Next() is var p && p is "typical" or "resident" ? p : throw new ArgumentException("--placement: typical or resident") },
                "--data" => o with { Data = Next() },
                "--epochs" => o with { Epochs = (int)Int() },
                "--lr" => o with { Lr = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => o with { Seed = Int() },
                "--threads" => o with { Threads = (int)Int() },
                "--train-images" => o with { TrainImages = Int() },
                "--eval-images" => o with { EvalImages = Int() },
                "--target" => o with { Target = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--deterministic" => o with { Deterministic = true },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }
        return o;
    }
}

internal static class Runs
{
    /// <summary>Fashion-MNIST (the first --train-images / --eval-images of it).</summary>
    private static (InMemoryDataset Train, InMemoryDataset Valid) Load(Options o)
    {
        var (train, valid) = IdxImages.Load(o.Data);
        return (Datasets.Head(train, o.TrainImages), Datasets.Head(valid, o.EvalImages));
    }

    private static Schedule Recipe(Options o, long batches) => FastAi07.Fit([o.Lr], batches, cycleLen: o.Epochs, useClr: new UseClr(32, 5));

    private static Dictionary<string, object?> Report(string contender, Options o, List<double> ends, List<double> accuracy, string? placement)
    {
        int reached = accuracy.FindIndex(a => a >= o.Target);
        return new Dictionary<string, object?>
        {
            ["contender"] = contender,
            ["bs"] = o.BatchSize,
            ["epochs"] = ends.Count,
            ["epoch_end_seconds"] = ends.Select(s => Math.Round(s, 3)).ToArray(),
            ["accuracy"] = accuracy.Select(a => Math.Round(a, 5)).ToArray(),
            ["total_seconds"] = Math.Round(ends.LastOrDefault(), 3),
            ["seconds_per_epoch"] = Math.Round(ends.LastOrDefault() / Math.Max(1, ends.Count), 3),
            ["target"] = o.Target,
            ["time_to_target"] = reached < 0 ? null : Math.Round(ends[reached], 3),
            ["placement"] = placement,
        };
    }

    public static Dictionary<string, object?> Learner(Options o, ComputeDevice device)
    {
        var (train, valid) = Load(o);
        using var data = DataLoaders.From(train, valid, o.BatchSize, o.Seed);
        var spec = ModelZoo.Create("cnn", data.SampleShape, data.Classes);
        var clock = new EpochClock();
        using var learn = new Learner(spec.Model, data, optimizer: OptimizerFactory.Sgd(0.9), layerGroups: spec.LayerGroups, callbacks: [clock], device: device);
        learn.Fit(Recipe(o, data.Train.BatchCount), o.Epochs);
        var report = Report(o.Deterministic ? "cadence-learner-deterministic" : "cadence-learner", o, clock.Ends, clock.Accuracy, data.Train.PlacementReason);
        report["loss_read_interval"] = learn.LossReadInterval;
        return report;
    }

    /// <summary>Wall time from the first batch to the end of each epoch's validation, and the accuracy then.</summary>
    private sealed class EpochClock : Callback
    {
        private Stopwatch? _clock;
        public List<double> Ends { get; } = [];
        public List<double> Accuracy { get; } = [];
        public override void BeforeBatch(Learner learner) => _clock ??= Stopwatch.StartNew();
        public override void AfterValidate(Learner learner)
        {
            Ends.Add(_clock!.Elapsed.TotalSeconds);   // the metrics were read from the device: the GPU is done
            Accuracy.Add(learner.MetricValues[0]);
        }
    }

    public static Dictionary<string, object?> Raw(Options o, ComputeDevice device)
    {
        var dev = device.ToTorch();
        bool resident = o.Placement == "resident";
        var (train, valid) = Load(o);
        using var _ = train;
        using var __ = valid;
        // Where batches are gathered from: the GPU (resident) or the host (typical: copied every step).
        using var xTrain = resident ? train.Features.to(dev, copy: true) : train.Features.alias();
        using var yTrain = resident ? train.Labels.to(dev, copy: true) : train.Labels.alias();
        using var xValid = valid.Features.to(dev, copy: true);
        using var yValid = valid.Labels.to(dev, copy: true);
        long n = train.Count, batches = (n + o.BatchSize - 1) / o.BatchSize;
        var model = ModelZoo.Create("cnn", train.SampleShape, 10).Model;
        model.to(dev);
        using var opt = optim.SGD(model.parameters(), o.Lr / 32, momentum: 0.9);
        var options = opt.ParamGroups.Cast<ParamGroup>().Single().Options;
        double[] lrs = Recipe(o, batches).Trace(o.Epochs * batches).Lr[0];
        using var generator = new Generator((ulong)o.Seed);
        var ends = new List<double>();
        var accuracy = new List<double>();
        var clock = Stopwatch.StartNew();
        long step = 0;
        for (int epoch = 0; epoch < o.Epochs; epoch++)
        {
            model.train();
            using var hostOrder = randperm(n, generator: generator);
            using var order = resident ? hostOrder.to(dev, copy: true) : hostOrder.alias();
            using var lossSum = zeros(1, device: dev);
            double hostLossSum = 0;
            for (long b = 0; b < batches; b++)
            {
                using var scope = NewDisposeScope();
                var idx = order.slice(0, b * o.BatchSize, Math.Min((b + 1) * o.BatchSize, n), 1);
                var x = xTrain.index_select(0, idx);
                var y = yTrain.index_select(0, idx);
                if (!resident) (x, y) = (x.to(dev), y.to(dev));
                var loss = nn.functional.cross_entropy(model.forward(x), y);
                if (resident) lossSum.add_(loss.detach());
                else hostLossSum += loss.item<float>();   // what a typical loop does: read the loss every step
                opt.zero_grad();
                loss.backward();
                options.LearningRate = lrs[step];
                opt.step();
                step++;
            }
            double epochLoss = resident ? lossSum.item<float>() : hostLossSum;
            if (!double.IsFinite(epochLoss)) throw new InvalidOperationException($"training diverged in epoch {epoch + 1}");
            accuracy.Add(Evaluate(model, xValid, yValid));
            ends.Add(clock.Elapsed.TotalSeconds);
        }
        return Report(resident ? "raw-resident" : "raw-typical", o, ends, accuracy, resident ? "resident" : "typical");
    }

    private static double Evaluate(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y)
    {
        model.eval();
        using var correct = zeros(1, ScalarType.Int64, device: x.device);
        using (no_grad())
        {
            for (long start = 0; start < x.shape[0]; start += 1024)
            {
                using var scope = NewDisposeScope();
                long end = Math.Min(start + 1024, x.shape[0]);
                correct.add_(model.forward(x.slice(0, start, end, 1)).argmax(1).eq(y.slice(0, start, end, 1)).sum());
            }
        }
        model.train();
        return (double)correct.item<long>() / x.shape[0];
    }

    public static Dictionary<string, object?> StepCheck(Options o, ComputeDevice device)
    {
        // Full-precision kernels on the GPU: TF32 convolutions (cuDNN's default) differ from the CPU by ~1e-3.
        if (device.IsCuda) torch.backends.cudnn.allow_tf32 = false;
        var (allTrain, allValid) = Load(o with { TrainImages = 2 * o.BatchSize, EvalImages = o.BatchSize });
        Tensor[] Weights(ComputeDevice on, out double[] losses)
        {
            using var train = new InMemoryDataset(allTrain.Features.clone(), allTrain.Labels.clone(), allTrain.Classes);
            using var valid = new InMemoryDataset(allValid.Features.clone(), allValid.Labels.clone(), allValid.Classes);
            var data = DataLoaders.From(train, valid, o.BatchSize, o.Seed);
            torch.manual_seed(o.Seed);
            var spec = ModelZoo.Create("cnn", train.SampleShape, 10);   // drawn on the CPU: the same weights for both
            using var learn = new Learner(spec.Model, data, optimizer: OptimizerFactory.Sgd(0.9), layerGroups: spec.LayerGroups, device: on);
            learn.Fit(o.Lr);   // one epoch of two batches: two SGD-momentum steps
            losses = learn.Recorder.Steps.Select(s => s.Loss).ToArray();
            return learn.Model.parameters().Select(p => p.detach().cpu().clone()).ToArray();
        }
        var onDevice = Weights(device, out var deviceLosses);
        var onCpu = Weights(ComputeDevice.Cpu, out var cpuLosses);
        double maxDiff = onDevice.Zip(onCpu).Max(p => (p.First - p.Second).abs().max().item<float>());
        const double Tolerance = 1e-5;
        return new Dictionary<string, object?>
        {
            ["check"] = "optimizer steps on the device vs the CPU",
            ["steps"] = cpuLosses.Length,
            ["loss_device"] = deviceLosses,
            ["loss_cpu"] = cpuLosses,
            ["max_abs_weight_diff"] = maxDiff,
            ["tolerance"] = Tolerance,
            ["ok"] = maxDiff <= Tolerance && cpuLosses.Length == 2,
        };
    }
}
