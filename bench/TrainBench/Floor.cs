using System.Diagnostics;
using Cadence.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Cadence.Bench.Training;

/// <summary>
/// The compute floor of a training step. FLOPs are counted from the architecture by walking the model on a dummy
/// batch: a Conv2d costs out_elements·(in_channels/groups)·kh·kw multiply-adds, a Linear in·out per sample; one
/// multiply-add is 2 FLOPs. Convention: training = forward + backward, backward = 2 × forward (input gradient and
/// weight gradient), except the first layer, whose input needs no gradient (backward = 1 × forward).
/// Batch norm, ReLU, pooling and the loss are not counted (elementwise, under 2% of the FLOPs here).
/// Rates: a square float32 sgemm through TorchSharp, and every conv/linear layer of the model timed forward +
/// backward at the benchmark's batch size (the model's own shapes).
/// </summary>
internal static class Floor
{
    private sealed record Layer(string Name, Module<Tensor, Tensor> Module, long[] InputShape, long MacsPerSample, bool First);

    public static Dictionary<string, object> Run(BenchArgs o)
    {
        var spec = ModelZoo.Create(o.Model, [1, 28, 28], 10);
        var layers = new List<Layer>();
        using (no_grad())
        using (var scope = NewDisposeScope())
            Walk(spec.Model, "", zeros(2, 1, 28, 28), layers);

        double gemmGflops = Gemm(o.GemmSize, o.Repeats);
        var perLayer = new List<Dictionary<string, object>>();
        double forwardFlops = 0, trainFlops = 0, layerSecondsPerBatch = 0;
        foreach (var layer in layers)
        {
            double fwd = 2.0 * layer.MacsPerSample;
            double train = fwd * (layer.First ? 2 : 3);
            forwardFlops += fwd;
            trainFlops += train;
            double seconds = TimeLayer(layer, o.BatchSize, o.Repeats);
            layerSecondsPerBatch += seconds;
            perLayer.Add(new()
            {
                ["layer"] = layer.Name,
                ["input"] = string.Join("x", layer.InputShape[1..]),
                ["forward_mflop_per_image"] = Math.Round(fwd / 1e6, 4),
                ["train_mflop_per_image"] = Math.Round(train / 1e6, 4),
                ["fwd_bwd_ms_per_batch"] = Math.Round(seconds * 1000, 3),
                ["gflops"] = Math.Round(train * o.BatchSize / seconds / 1e9, 2),
            });
        }
        const double epochImages = 60000;
        return new Dictionary<string, object>
        {
            ["model"] = o.Model,
            ["batch_size"] = o.BatchSize,
            ["threads"] = get_num_threads(),
            ["convention"] = "FLOP = 2 x multiply-add; train = 3 x forward (first layer 2 x: no input gradient); conv and linear layers only",
            ["forward_mflop_per_image"] = Math.Round(forwardFlops / 1e6, 4),
            ["train_mflop_per_image"] = Math.Round(trainFlops / 1e6, 4),
            ["train_tflop_per_epoch"] = Math.Round(trainFlops * epochImages / 1e12, 4),
            ["sgemm_n"] = o.GemmSize,
            ["sgemm_gflops"] = Math.Round(gemmGflops, 2),
            ["floor_sgemm_seconds_per_epoch"] = Math.Round(trainFlops * epochImages / (gemmGflops * 1e9), 3),
            ["floor_layers_seconds_per_epoch"] = Math.Round(layerSecondsPerBatch * epochImages / o.BatchSize, 3),
            ["layers"] = perLayer,
        };
    }

    private static Tensor Walk(Module<Tensor, Tensor> module, string prefix, Tensor x, List<Layer> layers)
    {
        if (module is Sequential seq)
        {
            foreach (var (name, child) in seq.named_children())
                x = Walk((Module<Tensor, Tensor>)child, prefix.Length == 0 ? name : $"{prefix}.{name}", x, layers);
            return x;
        }
        var y = module.forward(x);
        long perSample = module switch
        {
            Conv2d c => y.numel() / y.shape[0] * c.weight!.shape[1] * c.weight.shape[2] * c.weight.shape[3],
            Linear l => l.weight!.shape[0] * l.weight.shape[1],
            _ => 0,
        };
        if (perSample > 0) layers.Add(new Layer(prefix, module, x.shape, perSample, layers.Count == 0));
        return y;
    }

    /// <summary>Median seconds of one forward + backward of <paramref name="layer"/> on a batch of its input shape.</summary>
    private static double TimeLayer(Layer layer, int batch, int repeats)
    {
        var shape = layer.InputShape.ToArray();
        shape[0] = batch;
        var times = new List<double>();
        for (int r = 0; r <= repeats; r++)
        {
            using var scope = NewDisposeScope();
            var x = randn(shape);
            if (!layer.First) x.requires_grad_(true);
            layer.Module.zero_grad();
            var clock = Stopwatch.StartNew();
            var y = layer.Module.forward(x);
            y.backward([ones_like(y)]);
            if (r > 0) times.Add(clock.Elapsed.TotalSeconds);   // r = 0 warms up
        }
        return Median(times);
    }

    /// <summary>GFLOP/s of an n×n float32 matrix product (median of <paramref name="repeats"/>, after one warm-up).</summary>
    private static double Gemm(int n, int repeats)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        var times = new List<double>();
        for (int r = 0; r <= repeats; r++)
        {
            using var inner = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            _ = a.matmul(b);
            if (r > 0) times.Add(clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / Median(times) / 1e9;
    }

    private static double Median(List<double> v)
    {
        v.Sort();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }
}
