using Cadence.Data;
using static TorchSharp.torch;

namespace Cadence.Bench.Training;

/// <summary>Dataset helpers shared by the benchmark runners (TrainBench, GpuBench).</summary>
internal static class Datasets
{
    /// <summary>The first <paramref name="count"/> samples of <paramref name="all"/> (which is disposed), or all of it.</summary>
    public static InMemoryDataset Head(InMemoryDataset all, long count)
    {
        if (count >= all.Count) return all;
        using var scope = NewDisposeScope();
        var part = new InMemoryDataset(all.Features.slice(0, 0, count, 1).clone(), all.Labels.slice(0, 0, count, 1).clone(), all.Classes);
        all.Dispose();
        return part;
    }
}
