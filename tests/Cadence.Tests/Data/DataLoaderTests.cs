using Cadence.Data;
using TorchSharp;
using Xunit;

namespace Cadence.Tests.Data;

public class DataLoaderTests
{
    private static InMemoryDataset Range(int n)
    {
        TorchRuntime.Configure(threads: 1);
        return new InMemoryDataset(torch.arange(n, torch.float32).unsqueeze(1), torch.arange(n, torch.int64) % 3, 3);
    }

    [Fact]
    public void Keeps_or_drops_the_last_partial_batch()
    {
        using var ds = Range(10);
        using var keep = new DataLoader(ds, 4);
        using var drop = new DataLoader(ds, 4, dropLast: true);
        Assert.Equal(3, keep.BatchCount);
        Assert.Equal(2, drop.BatchCount);
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], keep.Indices());
        var (x, y) = keep.GetBatch(2);
        Assert.Equal([2L, 1L], x.shape);
        Assert.Equal([8f, 9f], x.data<float>().ToArray());
        Assert.Equal([2L, 0L], y.data<long>().ToArray());
    }

    [Fact]
    public void Reshuffles_every_epoch_from_its_own_seeded_generator()
    {
        using var ds = Range(50);
        using var a = new DataLoader(ds, 8, shuffle: true, seed: 3);
        using var b = new DataLoader(ds, 8, shuffle: true, seed: 3);
        a.StartEpoch(); b.StartEpoch();
        var e1 = a.Indices();
        Assert.Equal(e1, b.Indices());
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), e1.SelectMany(i => i).Order());
        Assert.NotEqual(Enumerable.Range(0, 50).Select(i => (long)i), e1.SelectMany(i => i));
        torch.manual_seed(123);   // the global generator does not matter
        a.StartEpoch();
        var e2 = a.Indices();
        Assert.NotEqual(e1, e2);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), e2.SelectMany(i => i).Order());
        var (x, y) = a.GetBatch(0);
        Assert.Equal(e2[0].Select(i => (float)i), x.data<float>().ToArray());
        Assert.Equal(e2[0].Select(i => i % 3), y.data<long>().ToArray());
    }
}
