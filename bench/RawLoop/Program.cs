// The raw loop: Fashion-MNIST training written by hand on TorchSharp, the baseline of the Learner benchmark.
// Nothing of Cadence's training code is used: the loop, the SGD set-up and the one-cycle arithmetic (PyTorch's
// OneCycleLR with its defaults: cosine phases, pct_start 0.3, div 25, final_div 1e4, momentum 0.95 → 0.85 → 0.95)
// are below. Cadence.Core supplies only ModelZoo (same modules as the Learner's) and IdxImages (same tensors).
// Prints one JSON line; see bench/README.md.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cadence.Bench.Training;
using Cadence.Data;
using Cadence.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

var o = BenchArgs.Parse(args);
// Same process settings as the Learner runner and `cadence fit` (OMP_WAIT_POLICY=PASSIVE unless set, threads, seed):
// process configuration, not training code.
Cadence.TorchRuntime.Configure(seed: o.Seed, threads: o.Threads);

var (trainAll, valid) = IdxImages.Load(o.Data);
using var validSet = valid;
var xTrain = trainAll.Features.slice(0, 0, Math.Min(trainAll.Count, o.TrainImages), 1).clone().DetachFromDisposeScope();
var yTrain = trainAll.Labels.slice(0, 0, Math.Min(trainAll.Count, o.TrainImages), 1).clone().DetachFromDisposeScope();
trainAll.Dispose();
long n = yTrain.shape[0];
long batches = (n + o.BatchSize - 1) / o.BatchSize;

var model = ModelZoo.Create(o.Model, [1, 28, 28], 10).Model;
using var gen = new Generator((ulong)o.Seed);

// Warm-up (untimed): tiered JIT and the native allocator settle; constant lr.
Train(o.WarmupBatches, 1, timed: false);

var epochSeconds = Train(batches, o.Epochs, timed: true);
var clock = Stopwatch.StartNew();
double accuracy = Evaluate(o.EvalImages);
double evalSeconds = clock.Elapsed.TotalSeconds;
double trainSeconds = epochSeconds.Sum();
var result = new Dictionary<string, object>
{
    ["contender"] = "raw",
    ["model"] = o.Model,
    ["epochs"] = o.Epochs,
    ["batches_per_epoch"] = batches,
    ["images_per_epoch"] = n,
    ["epoch_train_seconds"] = epochSeconds,
    ["images_per_second"] = Math.Round(n * o.Epochs / trainSeconds, 1),
    ["eval_images"] = Math.Min(o.EvalImages, validSet.Count),
    ["eval_seconds"] = Math.Round(evalSeconds, 3),
    ["accuracy"] = Math.Round(accuracy, 5),
    ["threads"] = torch.get_num_threads(),
};
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

double[] Train(long batchesPerEpoch, int epochs, bool timed)
{
    // One SGD group with all parameters, momentum 0.9 (the one-cycle below overwrites lr and momentum every step).
    using var opt = optim.SGD(model.parameters(), o.MaxLr / 25, momentum: 0.9);
    var options = (SGD.Options)opt.ParamGroups.Cast<ParamGroup>().Single().Options;
    long total = batchesPerEpoch * epochs, step = 0;
    var seconds = new double[epochs];
    model.train();
    for (int epoch = 0; epoch < epochs; epoch++)
    {
        var clock = Stopwatch.StartNew();
        using var order = randperm(n, generator: gen);
        double lossSum = 0;
        for (long b = 0; b < batchesPerEpoch; b++)
        {
            using var scope = NewDisposeScope();
            long start = b * o.BatchSize % n, end = Math.Min(start + o.BatchSize, n);
            var idx = order.slice(0, start, end, 1);
            var x = xTrain.index_select(0, idx);
            var y = yTrain.index_select(0, idx);
            var loss = nn.functional.cross_entropy(model.forward(x), y);
            lossSum += loss.item<float>();
            opt.zero_grad();
            loss.backward();
            if (timed) (options.LearningRate, options.momentum) = OneCycle(step, total, o.MaxLr);
            else (options.LearningRate, options.momentum) = (o.MaxLr / 25, 0.95);
            opt.step();
            step++;
        }
        seconds[epoch] = Math.Round(clock.Elapsed.TotalSeconds, 4);
        if (!double.IsFinite(lossSum)) throw new InvalidOperationException($"training diverged in epoch {epoch + 1}");
    }
    return seconds;
}

double Evaluate(long limit)
{
    model.eval();
    long count = Math.Min(limit, validSet.Count), correct = 0;
    using (no_grad())
    {
        for (long start = 0; start < count; start += o.BatchSize)
        {
            using var scope = NewDisposeScope();
            long end = Math.Min(start + o.BatchSize, count);
            var output = model.forward(validSet.Features.slice(0, start, end, 1));
            correct += output.argmax(1).eq(validSet.Labels.slice(0, start, end, 1)).sum().item<long>();
        }
    }
    model.train();
    return (double)correct / count;
}

// PyTorch's OneCycleLR (two cosine phases) at step t of T: (lr, momentum).
static (double Lr, double Momentum) OneCycle(long t, long total, double maxLr)
{
    double initial = maxLr / 25, min = initial / 1e4;
    double peak = 0.3 * total - 1, end = total - 1;
    static double Cos(double a, double b, double pct) => b + (a - b) / 2 * (Math.Cos(Math.PI * pct) + 1);
    if (t <= peak)
    {
        double pct = peak <= 0 ? 1 : t / peak;
        return (Cos(initial, maxLr, pct), Cos(0.95, 0.85, pct));
    }
    double p2 = end - peak <= 0 ? 1 : (t - peak) / (end - peak);
    return (Cos(maxLr, min, p2), Cos(0.85, 0.95, p2));
}
