using Cadence.Training;

namespace Cadence.Plots.Tests;

/// <summary>A small made-up training history: known values to check the charts against, no TorchSharp.</summary>
internal static class Synthetic
{
    public const int Epochs = 3, BatchesPerEpoch = 20;

    /// <summary>Two parameter groups (lr 1e-3 and 1e-2 × a triangle), momentum cycling 0.95 → 0.85 → 0.95, noisy decaying loss.</summary>
    public static TrainingHistory History(int groups = 2, bool momentum = true)
    {
        var rng = new Random(7);
        var steps = new List<StepRecord>();
        double avg = 0;
        int n = Epochs * BatchesPerEpoch;
        for (int t = 0; t < n; t++)
        {
            double pct = (double)t / (n - 1), tri = pct < 0.5 ? 2 * pct : 2 - 2 * pct;
            double loss = 2.0 * Math.Exp(-3 * pct) + 0.1 + 0.2 * rng.NextDouble();
            avg = 0.98 * avg + 0.02 * loss;
            var lr = Enumerable.Range(0, groups).Select(g => Math.Pow(10, g - groups + 1) * (0.1 + 0.9 * tri) * 1e-2).ToArray();
            var mom = Enumerable.Range(0, groups).Select(_ => momentum ? 0.95 - 0.1 * tri : double.NaN).ToArray();
            steps.Add(new StepRecord(t, t / BatchesPerEpoch, loss, avg / (1 - Math.Pow(0.98, t + 1)), lr, mom));
        }
        var epochs = Enumerable.Range(0, Epochs)
            .Select(e => new EpochRecord(e, steps[(e + 1) * BatchesPerEpoch - 1].SmoothLoss, 1.2 - 0.3 * e, [0.6 + 0.1 * e, 0.4 - 0.1 * e], 1.5 + e))
            .ToArray();
        return new TrainingHistory(steps, epochs, ["accuracy", "error_rate"]);
    }
}
