using System.Text;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;
using Xunit;

namespace Cadence.Tests.Checkpoints;

/// <summary>
/// Checkpoints across devices, with CPU tensors: a checkpoint records its device and (on a GPU) the CUDA generator,
/// and what a GPU writes is what the CPU reads, since tensors are stored as CPU data.
/// </summary>
public sealed class CrossDeviceTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-xdev");

    public void Dispose() => _dir.Dispose();

    private static Learner Make(params Callback[] callbacks) => Synth.Learner(seed: 9, batchSize: 48, callbacks: [new NanGuard(), .. callbacks]);

    private static Schedule Clr(long batches) => FastAi07.Fit([1e-3, 5e-3, 2e-2], batches, cycleLen: 2, useClr: new UseClr(10, 3, 0.95, 0.85));

    [Fact]
    public void A_checkpoint_says_which_device_wrote_it()
    {
        using var learn = Make();
        learn.Fit(Clr(learn.Data.Train.BatchCount), 2);
        var info = Checkpoint.ReadInfo(Checkpoint.Save(learn, _dir.Path, "manual"));
        Assert.Equal("cpu", info.Device);
        Assert.False(File.Exists(Path.Combine(info.Path, "rng_cuda.bin")));   // the CPU has no CUDA generator to save
    }

    [Fact]
    public void The_cuda_generator_state_is_restored_on_a_gpu_only()
    {
        byte[] state = [1, 2, 3];
        Assert.Same(state, Checkpoint.CudaRngToRestore(state, ComputeDevice.Cuda(0)));
        Assert.Same(state, Checkpoint.CudaRngToRestore(state, ComputeDevice.Cuda(1)));   // the state is a seed and an offset: any GPU
        Assert.Null(Checkpoint.CudaRngToRestore(state, ComputeDevice.Cpu));
        Assert.Null(Checkpoint.CudaRngToRestore(null, ComputeDevice.Cuda(0)));           // written on the CPU: the GPU keeps its seeded state
    }

    /// <summary>A copy of <paramref name="checkpoint"/> in <paramref name="into"/>, with its state.json edited and files added.</summary>
    private static string Rewrite(string checkpoint, string into, Func<string, string> editState, params (string Name, byte[] Bytes)[] extra)
    {
        var files = CheckpointStore.ReadVerified(checkpoint);
        string state = editState(Encoding.UTF8.GetString(files["state.json"]));
        var rewritten = files.Where(f => f.Key is not ("state.json" or CheckpointStore.ManifestName)).Select(f => (f.Key, f.Value))
            .Concat(extra).Append(("state.json", Encoding.UTF8.GetBytes(state)))
            .Select(f => (f.Item1, (Action<Stream>)(s => s.Write(f.Item2)))).ToList();
        return CheckpointStore.Write(into, Path.GetFileName(checkpoint), rewritten);
    }

    /// <summary>
    /// A CPU checkpoint as a GPU run would have written it: the same tensor files (TorchSharp stores every tensor as CPU
    /// data, whatever its device), "device": "cuda:0" and the CUDA generator's state (Philox: seed and offset).
    /// </summary>
    private string AsIfFromGpu(string checkpoint) => Rewrite(checkpoint, _dir["gpu"],
        state => state.Replace("\"device\": \"cpu\"", "\"device\": \"cuda:0\"", StringComparison.Ordinal), ("rng_cuda.bin", new byte[16]));

    [Fact]
    public void A_gpu_checkpoint_resumes_on_the_cpu_and_finishes_the_run_bit_for_bit()
    {
        using var reference = Make();
        var schedule = Clr(reference.Data.Train.BatchCount);
        reference.Fit(schedule, 2);

        var options = new CheckpointOptions { Directory = _dir["cpu"], EveryIterations = 4 };
        using (var first = Make(new CheckpointCallback(options), new StopAt(7)))
            first.Fit(schedule, 2);
        string fromGpu = AsIfFromGpu(Checkpoint.Locate(_dir["cpu"]));
        var info = Checkpoint.ReadInfo(fromGpu);
        Assert.Equal(("cuda:0", 7L), (info.Device, info.Position.Iteration));

        using var resumed = Make();
        var result = Checkpoint.Resume(resumed, fromGpu, schedule, 2);
        Assert.Equal(reference.Recorder.Steps.Select(s => (s.Step, s.Loss, s.SmoothLoss)), resumed.Recorder.Steps.Select(s => (s.Step, s.Loss, s.SmoothLoss)));
        Assert.Equal(reference.ValidLoss, result.ValidLoss);
        var (a, b) = (reference.Model.state_dict(), resumed.Model.state_dict());
        foreach (var (name, t) in a) Assert.Equal(t.data<float>().ToArray(), b[name].data<float>().ToArray());
    }

    [Fact]
    public void A_checkpoint_from_before_devices_still_loads()
    {
        using var learn = Make();
        learn.Fit(Clr(learn.Data.Train.BatchCount), 2);
        string old = Rewrite(Checkpoint.Save(learn, _dir["new"], "manual"), _dir["old"],
            state => state.Replace("\"device\": \"cpu\",", "", StringComparison.Ordinal));
        Assert.Null(Checkpoint.ReadInfo(old).Device);
        using var other = Make();
        Checkpoint.LoadWeights(other, old);
    }

    [Fact]
    public void Losses_read_in_chunks_are_all_in_the_checkpoint_and_the_resume_is_exact()
    {
        using var reference = Make();
        var schedule = Clr(reference.Data.Train.BatchCount);
        reference.Fit(schedule, 2);

        var options = new CheckpointOptions { Directory = _dir["chunked"], EveryIterations = 5 };
        using (var first = Make(new CheckpointCallback(options), new StopAt(9)))
        {
            first.LossReadInterval = 3;   // what a GPU does: checkpoints at 5 fall between two reads
            first.Fit(schedule, 2);
        }
        var latest = Checkpoint.Locate(_dir["chunked"]);
        using var second = Make();
        second.LossReadInterval = 4;
        Checkpoint.Resume(second, latest, schedule, 2);
        Assert.Equal(reference.Recorder.Steps.Select(s => (s.Step, s.Loss, s.SmoothLoss)), second.Recorder.Steps.Select(s => (s.Step, s.Loss, s.SmoothLoss)));
        Assert.Equal(reference.Recorder.Epochs.Select(e => (e.TrainLoss, e.ValidLoss)), second.Recorder.Epochs.Select(e => (e.TrainLoss, e.ValidLoss)));
    }
}
