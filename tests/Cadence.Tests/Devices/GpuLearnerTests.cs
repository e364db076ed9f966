using Cadence.Checkpoints;
using Cadence.Data;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using Xunit;

namespace Cadence.Tests.Devices;

/// <summary>The learner on a GPU against the same run on the CPU. Reported as skipped where no GPU is visible.</summary>
public class GpuLearnerTests
{
    private static void RequireGpu()
    {
        TorchRuntime.Configure(threads: 1);
        Skip.IfNot(torch.cuda.is_available(), "needs a GPU (a CUDA libtorch and a visible GPU; see docs/gpu.md)");
        torch.backends.cudnn.allow_tf32 = false;
    }

    private static Learner On(ComputeDevice device)
    {
        var (model, groups) = Synth.Model(seed: 4);
        return new Learner(model, Synth.Data(seed: 4), layerGroups: groups, device: device);
    }

    [SkippableFact]
    public void A_fit_on_the_gpu_records_the_cpus_losses_and_reads_them_in_chunks()
    {
        RequireGpu();
        using var cpu = On(ComputeDevice.Cpu);
        using var gpu = On(ComputeDevice.Cuda(0));
        Assert.Equal(Learner.DefaultGpuLossReadInterval, gpu.LossReadInterval);
        Assert.All(gpu.LayerGroups.SelectMany(g => g), p => Assert.Equal(DeviceType.CUDA, p.device_type));
        Assert.Equal(DataPlacement.Device, gpu.Data.Train.Placement);
        var schedule = FastAi07.Fit([0.05], cpu.Data.Train.BatchCount, cycleLen: 2, useClr: new UseClr(10, 3));
        var rc = cpu.Fit(schedule, 2);
        var rg = gpu.Fit(schedule, 2);
        Assert.Equal(cpu.Recorder.Steps.Count, gpu.Recorder.Steps.Count);
        for (int t = 0; t < cpu.Recorder.Steps.Count; t++) Assert.Equal(cpu.Recorder.Steps[t].Loss, gpu.Recorder.Steps[t].Loss, 1e-4);
        Assert.Equal(rc.Metrics["accuracy"], rg.Metrics["accuracy"], 0.02);
    }

    [SkippableFact]
    public void The_range_test_on_the_gpu_restores_the_model_bit_for_bit()
    {
        RequireGpu();
        using var gpu = On(ComputeDevice.Cuda(0));
        var before = gpu.Model.parameters().Select(p => p.detach().cpu().data<float>().ToArray()).ToArray();
        var r = gpu.LrFind(numIt: 40);
        Assert.True(r.Lrs.Count > 10);
        var after = gpu.Model.parameters().Select(p => p.detach().cpu().data<float>().ToArray()).ToArray();
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
    }

    [SkippableFact]
    public void A_gpu_checkpoint_resumes_on_the_cpu()
    {
        RequireGpu();
        using var dir = new TempDirectory();
        using var gpu = On(ComputeDevice.Cuda(0));
        var schedule = FastAi07.Fit([0.05], gpu.Data.Train.BatchCount, cycleLen: 2);
        gpu.Add(new CheckpointCallback(new CheckpointOptions { Directory = dir.Path, EveryIterations = 4 }));
        gpu.Add(new Checkpoints.StopAt(6));
        gpu.Fit(schedule, 2);
        var path = Checkpoint.Locate(dir.Path);
        Assert.Equal("cuda:0", Checkpoint.ReadInfo(path).Device);
        Assert.True(File.Exists(Path.Combine(path, "rng_cuda.bin")));
        using var cpu = On(ComputeDevice.Cpu);
        var result = Checkpoint.Resume(cpu, path, schedule, 2);
        Assert.Equal(2, result.Epochs);
        Assert.Equal(2 * cpu.Data.Train.BatchCount, result.Iterations);
    }
}
