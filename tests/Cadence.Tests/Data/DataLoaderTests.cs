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
    public void Subset_is_a_seeded_fraction_in_original_order_keeping_the_classes()
    {
        using var ds = Range(100);
        using var a = ds.Subset(0.2, seed: 3);
        using var b = ds.Subset(0.2, seed: 3);
        using var c = ds.Subset(0.2, seed: 4);
        var picked = a.Features.squeeze(1).data<float>().ToArray();
        Assert.Equal(20, picked.Length);
        Assert.Equal(picked.Order().ToArray(), picked);
        Assert.Equal(picked, b.Features.squeeze(1).data<float>().ToArray());
        Assert.NotEqual(picked, c.Features.squeeze(1).data<float>().ToArray());
        Assert.Equal(picked.Select(v => (long)v % 3), a.Labels.data<long>().ToArray());
        Assert.Equal(3, a.Classes);
        using var one = ds.Subset(1e-9, seed: 0);
        Assert.Equal(1, one.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Subset(0, seed: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Subset(1.5, seed: 0));
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

    [Fact]
    public void Ranges_of_any_size_follow_the_epochs_order()
    {
        using var ds = Range(20);
        using var loader = new DataLoader(ds, 4, shuffle: true, seed: 1);
        loader.StartEpoch();
        var order = loader.Indices().SelectMany(i => i).ToArray();
        var (x, y) = loader.GetRange(3, 14);
        Assert.Equal(order[3..14].Select(i => (float)i), x.squeeze(1).data<float>().ToArray());
        Assert.Equal(order[3..14].Select(i => i % 3), y.data<long>().ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.GetRange(5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.GetRange(0, 21));
    }

    [Fact]
    public void On_the_cpu_there_is_nothing_to_place()
    {
        using var ds = Range(10);
        using var loader = new DataLoader(ds, 4);
        loader.To(new torch.Device(DeviceType.CPU), DataPlacement.Device);
        Assert.Equal((DeviceType.CPU, DataPlacement.Host, "the CPU"), (loader.Device.type, loader.Placement, loader.PlacementReason));
        var (x, _) = loader.GetBatch(0);
        Assert.Equal(DeviceType.CPU, x.device_type);
    }

    [Theory]
    [InlineData(DataPlacement.Auto, 200L << 20, 1L << 30, false, DataPlacement.Device, "on the GPU: 200 MiB fits the budget of 1024 MiB")]
    [InlineData(DataPlacement.Auto, 2L << 30, 1L << 30, true, DataPlacement.Host, "in pinned host memory: 2048 MiB exceeds the budget of 1024 MiB (free GPU memory unknown)")]
    [InlineData(DataPlacement.Host, 1L << 20, 1L << 30, false, DataPlacement.Host, "in pinned host memory (1 MiB), as asked")]
    [InlineData(DataPlacement.Device, 2L << 30, 1L << 30, false, DataPlacement.Device, "on the GPU (2048 MiB), as asked")]
    public void A_dataset_lives_on_the_gpu_when_it_fits_the_budget(DataPlacement asked, long bytes, long budget, bool guessed, DataPlacement chosen, string why)
    {
        Assert.Equal((chosen, why), DataLoader.ChoosePlacement(asked, bytes, budget, guessed));
    }

    [SkippableFact]
    public void On_a_gpu_the_shuffled_order_is_the_cpus_and_batches_are_gathered_there()
    {
        Skip.IfNot(torch.cuda.is_available(), "needs a GPU");
        using var ds = Range(50);
        using var cpu = new DataLoader(ds, 8, shuffle: true, seed: 3);
        using var gpu = new DataLoader(ds, 8, shuffle: true, seed: 3);
        foreach (var placement in new[] { DataPlacement.Device, DataPlacement.Host })
        {
            gpu.To(torch.CUDA, placement);
            Assert.Equal(placement, gpu.Placement);
            cpu.StartEpoch();
            gpu.StartEpoch();
            for (long b = 0; b < cpu.BatchCount; b++)
            {
                var (xc, yc) = cpu.GetBatch(b);
                var (xg, yg) = gpu.GetBatch(b);
                Assert.Equal(DeviceType.CUDA, xg.device_type);
                Assert.Equal(xc.data<float>().ToArray(), xg.cpu().data<float>().ToArray());
                Assert.Equal(yc.data<long>().ToArray(), yg.cpu().data<long>().ToArray());
            }
        }
    }
}
