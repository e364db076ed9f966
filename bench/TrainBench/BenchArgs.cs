using System.Globalization;
using Cadence.Data;

namespace Cadence.Bench.Training;

/// <summary>The options every runner takes, with the names and defaults of RawLoop and pytorch_train.py.</summary>
internal sealed record BenchArgs
{
    public string Model { get; private set; } = "mlp";
    public string Data { get; private set; } = IdxImages.FashionMnistDirectory;
    public int BatchSize { get; private set; } = 256;
    public int Threads { get; private set; } = 2;
    public int Epochs { get; private set; } = 1;
    public long TrainImages { get; private set; } = long.MaxValue;
    public long EvalImages { get; private set; } = long.MaxValue;
    public int WarmupBatches { get; private set; } = 10;
    public double MaxLr { get; private set; } = 0.1;
    public long Seed { get; private set; }
    public bool Profile { get; private set; }
    /// <summary>RawLoop: rounds of the in-process raw/Learner alternation (0: the plain raw loop).</summary>
    public int Interleave { get; private set; }
    /// <summary>floor: size of the square sgemm and repetitions of every timing.</summary>
    public int GemmSize { get; private set; } = 2048;
    public int Repeats { get; private set; } = 5;

    public static BenchArgs Parse(string[] args)
    {
        var o = new BenchArgs();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name}: missing value");
            long Int(long min)
            {
                string s = Next();
                if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min)
                    throw new ArgumentException($"{name}: expected an integer ≥ {min}, got '{s}'");
                return v;
            }
            switch (name)
            {
                case "--model":
                    o.Model = Next();
                    if (o.Model is not ("mlp" or "cnn")) throw new ArgumentException($"--model: expected mlp or cnn, got '{o.Model}'");
                    break;
                case "--data": o.Data = Next(); break;
                case "--bs": o.BatchSize = (int)Int(1); break;
                case "--threads": o.Threads = (int)Int(1); break;
                case "--epochs": o.Epochs = (int)Int(1); break;
                case "--train-images": o.TrainImages = Int(1); break;
                case "--eval-images": o.EvalImages = Int(1); break;
                case "--warmup-batches": o.WarmupBatches = (int)Int(0); break;
                case "--max-lr": o.MaxLr = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": o.Seed = Int(0); break;
                case "--profile": o.Profile = true; break;
                case "--interleave": o.Interleave = (int)Int(0); break;
                case "--gemm": o.GemmSize = (int)Int(16); break;
                case "--repeats": o.Repeats = (int)Int(1); break;
                default: throw new ArgumentException($"unknown option '{name}'");
            }
        }
        return o;
    }
}
