using System.Diagnostics;
using Cadence.Callbacks;
using Cadence.Data;
using Cadence.Models;
using Cadence.Training;
using static TorchSharp.torch;

namespace Cadence.Bench.Fast;

internal static class Runs
{
    /// <summary>A recipe (<c>--recipe</c>, default fast) with any setting overridden by an option of the same meaning.</summary>
    public static TrainingRecipe RecipeFrom(Options o)
    {
        var r = Recipes.Get(o.String("recipe", "fast"));
        var f = r.FastNet;
        f = f with
        {
            Widths = o.Ints("widths", string.Join(",", f.Widths)),
            ConvsPerGroup = (int)o.Long("convs", f.ConvsPerGroup),
            WhiteningPatch = o.String("whiten", f.WhiteningPatch?.ToString() ?? "none") is var k && k == "none" ? null : int.Parse(k),
            WhiteningTrainable = o.Bool("whiten-trainable", f.WhiteningTrainable),
            Dirac = o.Bool("dirac", f.Dirac),
            Activation = o.String("act", f.Activation),
            BatchNormMomentum = o.Double("bn-mom", f.BatchNormMomentum),
            Head = o.String("head", f.Head),
            LogitScale = o.Double("logit-scale", f.LogitScale),
        };
        string? ema = o.String("ema", r.AveragingDecay?.ToString("R") ?? "none");
        return r with
        {
            Model = o.String("model", r.Model),
            FastNet = f,
            BatchSize = (int)o.Long("bs", r.BatchSize),
            Epochs = (int)o.Long("epochs", r.Epochs),
            Schedule = o.String("schedule", r.Schedule),
            Lr = o.Double("lr", r.Lr),
            PctStart = o.Double("pct", r.PctStart),
            StartDiv = o.Double("start-div", r.StartDiv),
            FinalDiv = o.Double("final-div", r.FinalDiv),
            Momentum = o.Double("momentum", r.Momentum),
            CycleMomentum = o.Bool("cycle-mom", r.CycleMomentum),
            Nesterov = o.Bool("nesterov", r.Nesterov),
            WeightDecay = o.Double("wd", r.WeightDecay),
            LabelSmoothing = o.Double("ls", r.LabelSmoothing),
            BatchNormBiasLr = o.Double("bn-bias-lr", r.BatchNormBiasLr),
            AveragingDecay = ema == "none" ? null : double.Parse(ema, System.Globalization.CultureInfo.InvariantCulture),
            AveragingEvery = (int)o.Long("ema-every", r.AveragingEvery),
            AveragingMode = o.Bool("lookahead", r.AveragingMode == AveragingMode.Lookahead) ? AveragingMode.Lookahead : AveragingMode.Ema,
            TtaFlip = o.Bool("tta-flip", r.TtaFlip),
            TtaShift = (int)o.Long("tta-shift", r.TtaShift),
            AugmentFlip = o.Bool("aug-flip", r.AugmentFlip),
            AugmentShift = (int)o.Long("aug-shift", r.AugmentShift),
            ValidBatchSize = (int)o.Long("valid-bs", r.ValidBatchSize),
        };
    }

    public static Dictionary<string, object> Train(Options o, long started)
    {
        var recipe = RecipeFrom(o);
        long seed = o.Long("seed", 0);
        o.Long("threads", 2);
        long trainImages = o.Long("train-images", 60000);
        string data = o.String("data", IdxImages.FashionMnistDirectory);
        bool probe = o.Bool("probe", false);
        o.String("out", "");
        o.String("label", "");
        o.CheckAllUsed();
        recipe.Validate();

        var loadClock = Stopwatch.StartNew();
        var (train, valid) = IdxImages.Load(data);
        if (trainImages < train.Count)
        {
            var part = new InMemoryDataset(train.Features.narrow(0, 0, trainImages).clone(), train.Labels.narrow(0, 0, trainImages).clone(), train.Classes);
            train.Dispose();
            train = part;
        }
        double loadSeconds = loadClock.Elapsed.TotalSeconds;
        var timer = new EpochLog(recipe.AveragingDecay is not null, probe);
        manual_seed(seed);
        var (learner, schedule, epochs) = recipe.CreateLearner(train, valid, seed, [timer]);
        using var _ = learner;
        using var __ = learner.Data;
        var fit = learner.Fit(schedule, epochs);
        double total = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double sinceProcessStart = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds;
        int? to91 = timer.Accuracy.FindIndex(a => a >= 0.91) is var i && i >= 0 ? i + 1 : null;
        return new Dictionary<string, object>
        {
            ["label"] = o.String("label", ""),
            ["options"] = o.All,
            ["recipe"] = recipe.Describe(),
            ["seed"] = seed,
            ["threads"] = get_num_threads(),
            ["epochs"] = fit.Epochs,
            ["batches_per_epoch"] = learner.Data.Train.BatchCount,
            ["accuracy"] = timer.Accuracy.Select(a => Math.Round(a, 5)).ToArray(),
            ["valid_loss"] = timer.ValidLoss.Select(a => Math.Round(a, 5)).ToArray(),
            ["train_seconds"] = timer.Train.Select(s => Math.Round(s, 2)).ToArray(),
            ["valid_seconds"] = timer.Valid.Select(s => Math.Round(s, 2)).ToArray(),
            ["final_accuracy"] = Math.Round(fit.Metrics["accuracy"], 5),
            ["extra_accuracy"] = timer.Extra,
            ["epochs_to_91"] = (object?)to91 ?? "not reached",
            ["images_seen"] = fit.Iterations * recipe.BatchSize,
            ["load_seconds"] = Math.Round(loadSeconds, 2),
            ["fit_seconds"] = Math.Round(fit.Seconds, 2),
            ["main_seconds"] = Math.Round(total, 2),
            ["process_seconds"] = Math.Round(sinceProcessStart, 2),
            ["load_average"] = File.ReadAllText("/proc/loadavg").Split(' ')[0],
        };
    }

    /// <summary>
    /// ms per training step (forward, loss, backward, SGD step) of several models at one batch size, interleaved:
    /// every round times each model for <c>--batches</c> steps, rotating which goes first; medians over rounds.
    /// Models: <c>--models cnn,fast:24-48-96,fast:16-32-64@w2</c> (widths, @wK whitening, +2 two convs per group, /max head).
    /// </summary>
    public static Dictionary<string, object> Speed(Options o)
    {
        var names = o.String("models", "cnn,fast:24-48-96").Split(',');
        int bs = (int)o.Long("bs", 256), batches = (int)o.Long("batches", 20), rounds = (int)o.Long("rounds", 3);
        o.Long("seed", 0);
        o.Long("threads", 2);
        o.String("out", "");
        o.CheckAllUsed();
        var (train, valid) = IdxImages.Load(IdxImages.FashionMnistDirectory);
        valid.Dispose();
        var x = train.Features.narrow(0, 0, bs * batches).clone();
        var y = train.Labels.narrow(0, 0, bs * batches).clone();
        var models = names.Select(n => (Name: n, Model: Build(n, x))).ToArray();
        var times = models.ToDictionary(m => m.Name, _ => new List<double>());
        foreach (var m in models) Steps(m.Model, x, y, bs, 3);   // warm-up
        for (int r = 0; r < rounds; r++)
            for (int j = 0; j < models.Length; j++)
            {
                var m = models[(j + r) % models.Length];
                var clock = Stopwatch.StartNew();
                Steps(m.Model, x, y, bs, batches);
                times[m.Name].Add(clock.Elapsed.TotalMilliseconds / batches);
            }
        return new Dictionary<string, object>
        {
            ["bs"] = bs,
            ["threads"] = get_num_threads(),
            ["ms_per_step_median"] = times.ToDictionary(t => t.Key, t => Math.Round(Median(t.Value), 3)),
            ["ms_per_step_all"] = times.ToDictionary(t => t.Key, t => t.Value.Select(v => Math.Round(v, 2)).ToArray()),
            ["load_average"] = File.ReadAllText("/proc/loadavg").Split(' ')[0],
        };
    }

    private static nn.Module<Tensor, Tensor> Build(string name, Tensor images)
    {
        if (name == "cnn") return ModelZoo.Create("cnn", [1, 28, 28], 10).Model;
        // fast:24-48-96[@w2][+2][/max]
        string spec = name["fast:".Length..];
        var opts = new FastNetOptions();
        if (spec.Contains("/max")) { opts = opts with { Head = "max" }; spec = spec.Replace("/max", ""); }
        if (spec.Contains("+2")) { opts = opts with { ConvsPerGroup = 2 }; spec = spec.Replace("+2", ""); }
        if (spec.Split('@') is [var widths, var w]) { opts = opts with { WhiteningPatch = int.Parse(w[1..]) }; spec = widths; }
        opts = opts with { Widths = spec.Split('-').Select(int.Parse).ToArray() };
        return FastNet.Create((1, 28, 28), 10, opts, images.narrow(0, 0, 1000).reshape(-1, 1, 28, 28)).Model;
    }

    private static void Steps(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y, int bs, int batches)
    {
        using var opt = optim.SGD(model.parameters().Where(p => p.requires_grad), 0.01, momentum: 0.9);
        model.train();
        for (int b = 0; b < batches; b++)
        {
            using var scope = NewDisposeScope();
            var loss = nn.functional.cross_entropy(model.forward(x.narrow(0, (long)b * bs, bs)), y.narrow(0, (long)b * bs, bs));
            _ = loss.item<float>();
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>
    /// Per epoch: training seconds (BeforeEpoch → BeforeValidate), the learner's validation (seconds, accuracy, loss),
    /// and with --probe extra evaluations of the same weights that cost no training run: accuracy without and with flip TTA
    /// (every epoch) and with flip + 1-pixel shifts (last epoch), on the averaged weights when the recipe averages
    /// (BeforeValidate, after the swap) and on the raw weights (AfterValidate, after the swap back).
    /// </summary>
    private sealed class EpochLog(bool averaging, bool probe) : Callback
    {
        private readonly Stopwatch _clock = new();
        public List<double> Train { get; } = [];
        public List<double> Valid { get; } = [];
        public List<double> Accuracy { get; } = [];
        public List<double> ValidLoss { get; } = [];
        public Dictionary<string, List<double>> Extra { get; } = [];
        public override int Order => 100;
        public override void BeforeEpoch(Learner learner) => _clock.Restart();

        public override void BeforeValidate(Learner learner)
        {
            Train.Add(_clock.Elapsed.TotalSeconds);
            if (probe) Evaluate(learner, averaging ? "avg" : "raw");
            _clock.Restart();
        }

        public override void AfterValidate(Learner learner)
        {
            Valid.Add(_clock.Elapsed.TotalSeconds);
            Accuracy.Add(learner.MetricValues[0]);
            ValidLoss.Add(learner.ValidLoss);
            if (probe && averaging) Evaluate(learner, "raw");
        }

        private void Evaluate(Learner learner, string weights)
        {
            var net = learner.Model is TestTimeAugmentation t ? t.Model : learner.Model;
            bool last = learner.Epoch == learner.Epochs - 1;
            bool flips = learner.Model.modules().OfType<RandomFlipShift>().Any(a => a.Flip);
            // Every epoch: plain (and mirrored when training mirrors: without it, mirrored shoes are out of distribution
            // and flip TTA costs ~10 points). At the end: ±1 px shifts (and shifts + mirrors). Raw weights: plain, at the end.
            foreach (var (name, flip, shift) in new[] { ("plain", false, 0), ("flip", true, 0), ("shift1", false, 1), ("flip+shift1", true, 1) })
            {
                if ((flip && !flips) || (shift > 0 && !last) || (averaging && weights == "raw" && (flip || shift > 0 || !last))) continue;
                string key = $"{weights}/{name}";
                if (!Extra.TryGetValue(key, out var list)) Extra[key] = list = [];
                list.Add(Math.Round(AccuracyOf(new TestTimeAugmentation(net, (1, 28, 28), flip, shift), learner.Data.Valid), 5));
            }
        }

        private static double AccuracyOf(nn.Module<Tensor, Tensor> model, DataLoader valid)
        {
            model.eval();
            long correct = 0;
            using (no_grad())
                for (long b = 0; b < valid.BatchCount; b++)
                {
                    using var scope = NewDisposeScope();
                    var (x, y) = valid.GetBatch(b);
                    correct += model.forward(x).argmax(1).eq(y).sum().item<long>();
                }
            model.train();
            return (double)correct / valid.Dataset.Count;
        }
    }
}
