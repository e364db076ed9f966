using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Bench.Training;

/// <summary>
/// The raw loop: Fashion-MNIST training written by hand on TorchSharp. Nothing of Cadence's training code: the loop,
/// the SGD set-up and the one-cycle arithmetic (PyTorch's OneCycleLR with its defaults: cosine phases, pct_start 0.3,
/// div 25, final_div 1e4, momentum 0.95 → 0.85 → 0.95) are here. The inputs are set up as the Learner runner's are:
/// the data tensors are used as loaded (no copy), the parameters are a materialised array (the Learner's layer
/// groups are arrays; a lazy <c>model.parameters()</c> would be re-enumerated at every zero_grad and step).
/// </summary>
internal sealed class RawTrainer(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, int batchSize, double maxLr, ulong seed) : IDisposable
{
    private readonly Parameter[] _parameters = model.parameters().ToArray();
    private readonly Generator _generator = new(seed);
    private readonly long _n = y.shape[0];

    public long Batches => (_n + batchSize - 1) / batchSize;

    public long Images => _n;

    /// <summary>Process CPU seconds (all threads) of the last <see cref="Train"/> call.</summary>
    public double CpuSeconds { get; private set; }

    /// <summary>Trains <paramref name="epochs"/> epochs of <paramref name="batchesPerEpoch"/> batches; timed: under the one-cycle, else at a constant lr (warm-up).</summary>
    public double[] Train(long batchesPerEpoch, int epochs, bool timed)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        // One SGD group with all parameters, momentum 0.9 (the one-cycle below overwrites lr and momentum every step).
        using var opt = optim.SGD(_parameters, maxLr / 25, momentum: 0.9);
        var options = (SGD.Options)opt.ParamGroups.Cast<ParamGroup>().Single().Options;
        long total = batchesPerEpoch * epochs, step = 0;
        var seconds = new double[epochs];
        model.train();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            using var order = randperm(_n, generator: _generator);
            double lossSum = 0;
            for (long b = 0; b < batchesPerEpoch; b++)
            {
                using var scope = NewDisposeScope();
                long start = b * batchSize % _n, end = Math.Min(start + batchSize, _n);
                var idx = order.slice(0, start, end, 1);
                var xb = x.index_select(0, idx);
                var yb = y.index_select(0, idx);
                var loss = nn.functional.cross_entropy(model.forward(xb), yb);
                lossSum += loss.item<float>();
                opt.zero_grad();
                loss.backward();
                if (timed) (options.LearningRate, options.momentum) = OneCycle(step, total, maxLr);
                else (options.LearningRate, options.momentum) = (maxLr / 25, 0.95);
                opt.step();
                step++;
            }
            seconds[epoch] = Math.Round(clock.Elapsed.TotalSeconds, 4);
            if (!double.IsFinite(lossSum)) throw new InvalidOperationException($"training diverged in epoch {epoch + 1}");
        }
        CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        return seconds;
    }

    /// <summary>Test accuracy on the first <paramref name="limit"/> images.</summary>
    public double Evaluate(Tensor features, Tensor labels, long limit)
    {
        model.eval();
        long count = Math.Min(limit, labels.shape[0]), correct = 0;
        using (no_grad())
        {
            for (long start = 0; start < count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                long end = Math.Min(start + batchSize, count);
                var output = model.forward(features.slice(0, start, end, 1));
                correct += output.argmax(1).eq(labels.slice(0, start, end, 1)).sum().item<long>();
            }
        }
        model.train();
        return (double)correct / count;
    }

    /// <summary>PyTorch's OneCycleLR (two cosine phases) at step t of T: (lr, momentum).</summary>
    public static (double Lr, double Momentum) OneCycle(long t, long total, double maxLr)
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

    public void Dispose() => _generator.Dispose();
}
