using System.Diagnostics;
using Cadence.Data;
using Cadence.Models;
using Cadence.Schedules;
using Cadence.Training;
using static TorchSharp.torch;

namespace Cadence.Bench.Training;

/// <summary>
/// Cadence's side of the throughput benchmark: the Learner exactly as a user builds it (ModelZoo model with its layer
/// groups, SGD momentum 0.9, the built-in Recorder, PyTorch's OneCycleLR from Cadence.Schedules, max lr 0.1), timed
/// by a callback from BeforeEpoch to BeforeValidate, so data loading and validation are outside the train time.
/// </summary>
internal static class LearnerRunner
{
    public static Dictionary<string, object> Run(BenchArgs o)
    {
        using var data = Load(o);
        var spec = ModelZoo.Create(o.Model, data.SampleShape, data.Classes);
        Warmup(o, spec, data);

        var timer = new EpochTimer();
        var callbacks = new List<Callback> { timer };
        PhaseMarks? marks = null;
        if (o.Profile)
        {
            marks = new PhaseMarks();
            callbacks.Add(marks.First);
            callbacks.Add(marks.Last);
        }
        using var learn = new Learner(spec.Model, data, optimizer: OptimizerFactory.Sgd(0.9), layerGroups: spec.LayerGroups, callbacks: callbacks);
        long batches = data.Train.BatchCount;
        var fit = learn.Fit(Torch.OneCycle([o.MaxLr], o.Epochs * batches), o.Epochs);
        long images = data.Train.Dataset.Count;
        var result = new Dictionary<string, object>
        {
            ["contender"] = "learner",
            ["model"] = o.Model,
            ["epochs"] = fit.Epochs,
            ["batches_per_epoch"] = batches,
            ["images_per_epoch"] = images,
            ["epoch_train_seconds"] = timer.Train.Select(s => Math.Round(s, 4)).ToArray(),
            ["train_cpu_seconds"] = Math.Round(timer.TrainCpu, 3),
            ["images_per_second"] = Math.Round(images * fit.Epochs / timer.Train.Sum(), 1),
            ["eval_images"] = data.Valid.Dataset.Count,
            ["eval_seconds"] = Math.Round(timer.Valid.Last(), 3),
            ["accuracy"] = Math.Round(fit.Metrics["accuracy"], 5),
            ["train_loss"] = fit.TrainLoss,
            ["valid_loss"] = fit.ValidLoss,
            ["threads"] = get_num_threads(),
            ["mkl_override"] = Cadence.TorchRuntime.MklStatus?.Applied ?? false,
            ["mkl"] = Cadence.TorchRuntime.MklStatus?.Note ?? "",
        };
        if (marks is not null) result["profile"] = marks.Summary(DataMillisecondsPerBatch(data.Train));
        return result;
    }

    /// <summary>Resident set size (VmRSS) and its peak (VmHWM) after every epoch of a full-data fit.</summary>
    public static Dictionary<string, object> Memory(BenchArgs o)
    {
        using var data = Load(o);
        var spec = ModelZoo.Create(o.Model, data.SampleShape, data.Classes);
        var probe = new RssProbe();
        using var learn = new Learner(spec.Model, data, optimizer: OptimizerFactory.Sgd(0.9), layerGroups: spec.LayerGroups, callbacks: [probe]);
        var fit = learn.Fit(Torch.OneCycle([o.MaxLr], o.Epochs * data.Train.BatchCount), o.Epochs);
        var rss = probe.Rss.Select(v => Math.Round(v, 1)).ToArray();
        var result = new Dictionary<string, object>
        {
            ["model"] = o.Model,
            ["epochs"] = fit.Epochs,
            ["rss_mb"] = rss,
            ["hwm_mb"] = probe.Hwm.Select(v => Math.Round(v, 1)).ToArray(),
            ["accuracy"] = Math.Round(fit.Metrics["accuracy"], 5),
        };
        // Growth from the end of epoch 2 to the end of the last epoch (the first epoch is warm-up: allocator pools fill).
        if (rss.Length >= 3) result["growth_pct"] = Math.Round(100 * (rss[^1] - rss[1]) / rss[1], 2);
        return result;
    }

    /// <summary>Fashion-MNIST, the first <c>--train-images</c> training images (shuffled per epoch) and <c>--eval-images</c> test images.</summary>
    private static DataLoaders Load(BenchArgs o)
    {
        var (train, valid) = IdxImages.Load(o.Data);
        train = Datasets.Head(train, o.TrainImages);
        valid = Datasets.Head(valid, o.EvalImages);
        return DataLoaders.From(train, valid, o.BatchSize, o.Seed);
    }

    /// <summary>Untimed: a short fit on the same model (tiered JIT, native allocator), on its own small loaders.</summary>
    private static void Warmup(BenchArgs o, ModelSpec spec, DataLoaders data)
    {
        if (o.WarmupBatches == 0) return;
        using var scope = NewDisposeScope();
        long count = Math.Min(data.Train.Dataset.Count, (long)o.WarmupBatches * o.BatchSize);
        var train = new InMemoryDataset(data.Train.Dataset.Features.slice(0, 0, count, 1).clone(), data.Train.Dataset.Labels.slice(0, 0, count, 1).clone(), data.Classes);
        var valid = new InMemoryDataset(data.Valid.Dataset.Features.slice(0, 0, o.BatchSize, 1).clone(), data.Valid.Dataset.Labels.slice(0, 0, o.BatchSize, 1).clone(), data.Classes);
        using var loaders = DataLoaders.From(train, valid, o.BatchSize, o.Seed + 1);
        using var learn = new Learner(spec.Model, loaders, optimizer: OptimizerFactory.Sgd(0.9), layerGroups: spec.LayerGroups);
        learn.Fit(o.MaxLr / 25);
    }

    /// <summary>What a training epoch spends in <see cref="DataLoader.GetBatch"/> (index_select of a shuffled batch), replayed.</summary>
    private static double DataMillisecondsPerBatch(DataLoader train)
    {
        train.StartEpoch();
        var clock = Stopwatch.StartNew();
        for (long b = 0; b < train.BatchCount; b++)
        {
            using var scope = NewDisposeScope();
            _ = train.GetBatch(b);
        }
        return clock.Elapsed.TotalMilliseconds / train.BatchCount;
    }

    private sealed class EpochTimer : Callback
    {
        private readonly Stopwatch _clock = new();
        private TimeSpan _cpu;
        public List<double> Train { get; } = [];
        public List<double> Valid { get; } = [];
        /// <summary>Process CPU time (all threads) of the training phases: unlike wall time, it hardly moves with other load.</summary>
        public double TrainCpu { get; private set; }
        public override void BeforeEpoch(Learner learner) { _cpu = Process.GetCurrentProcess().TotalProcessorTime; _clock.Restart(); }
        public override void BeforeValidate(Learner learner)
        {
            Train.Add(_clock.Elapsed.TotalSeconds);
            TrainCpu += (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalSeconds;
            _clock.Restart();
        }
        public override void AfterValidate(Learner learner) => Valid.Add(_clock.Elapsed.TotalSeconds);
    }

    private sealed class RssProbe : Callback
    {
        public List<double> Rss { get; } = [];
        public List<double> Hwm { get; } = [];
        public override void AfterEpoch(Learner learner)
        {
            var (rss, hwm) = ProcStatus();
            Rss.Add(rss);
            Hwm.Add(hwm);
        }
    }

    /// <summary>VmRSS and VmHWM of this process, in MB (from /proc/self/status, in kB).</summary>
    public static (double RssMb, double HwmMb) ProcStatus()
    {
        double rss = double.NaN, hwm = double.NaN;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line) / 1024;
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line) / 1024;
        }
        return (rss, hwm);
        static double Kb(string line) => double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
