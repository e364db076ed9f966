using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cadence.Checkpoints;
using Cadence.TestSupport;

namespace Cadence.Cli.Tests;

/// <summary>
/// <c>--device</c> and <c>--deterministic</c> on the training commands, as far as a machine without a GPU can tell
/// (issue 13): the CPU explicitly and through <c>auto</c>, the exact refusal of <c>cuda</c> and of an unknown device,
/// and a GPU run's checkpoint finished on the CPU. The GPU itself is checked by scripts/gpu-check.sh on a lent machine.
/// </summary>
public sealed class DeviceTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-device");

    public void Dispose() => _temp.Dispose();

    private string Csv() => File.Exists(_temp["three.csv"]) ? _temp["three.csv"] : TestData.ThreeClassCsv(_temp.Path);

    /// <summary>What the command needs besides the data (compare a schedule, sweep a policy).</summary>
    private static string[] Rest(string command) => command switch
    {
        "compare" => ["--epochs", "1", "constant lr=0.1"],
        "sweep" => ["constant", "--lr", "0.1", "--epochs", "1"],
        _ => [],
    };

    /// <summary>The libtorch this test process (and the cadence built beside it) carries: the CPU one, in the application's folder.</summary>
    private static string LibTorchFolder()
    {
        TorchRuntime.EnsureLibTorch();
        return TorchRuntime.LibTorch!.Folder;
    }

    [Theory]
    [InlineData("fit", "cuda")]
    [InlineData("fit", "cuda:1")]
    [InlineData("lr-find", "cuda")]
    [InlineData("compare", "cuda")]
    [InlineData("sweep", "cuda:0")]
    public void Cuda_is_refused_where_the_cpu_libtorch_is_loaded_with_one_line_and_exit_1(string command, string device)
    {
        var (code, stdout, stderr) = TestData.Run(command, ["--data", "csv", Csv(), "--target", "label", "--device", device, .. Rest(command)]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        string cpu = Path.Combine(LibTorchFolder(), "libtorch_cpu.so");
        Assert.Equal($"cadence {command}: {device} asked for, but this application carries the CPU libtorch ({cpu}), and a CUDA libtorch cannot be " +
            "loaded beside it (two libtorch copies in one process): run a build without the CPU natives, i.e. the cadence tool or the publish of " +
            "scripts/gpu-prep.sh, with CADENCE_LIBTORCH set to a CUDA libtorch; or use --device cpu" + Environment.NewLine, stderr);
    }

    [Theory]
    [InlineData("fit", "gpu")]
    [InlineData("fit", "cuda:x")]
    [InlineData("fit", "cuda:-1")]
    [InlineData("lr-find", "CUDA 0")]
    [InlineData("compare", "mps")]
    [InlineData("sweep", "gpu")]
    public void An_unknown_device_is_a_usage_error_naming_the_allowed_forms(string command, string device) =>
        TestData.AssertUsageError(TestData.Run(command, ["--device", device, .. Rest(command)]),
            $"cadence {command}: --device: expected auto, cpu, cuda or cuda:N (N = 0, 1, …), got '{device}'");

    [Fact]
    public void Cpu_auto_and_deterministic_train_the_same_numbers_on_the_cpu_and_say_which_device_and_libtorch_ran()
    {
        string[] args = ["--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05", "--cycle-len", "2",
            "--use-clr", "10,4", "--seed", "2", "--json"];
        // Child processes: in this one, other tests train in parallel and share TorchSharp's global seed.
        (JsonElement Json, string Err) Fit(params string[] extra)
        {
            using var cli = CadenceFit.Start([.. args, .. extra]);
            var (code, stdout, stderr) = cli.Wait();
            Assert.True(code == 0, stderr);
            using var json = JsonDocument.Parse(stdout.Trim());
            return (json.RootElement.Clone(), stderr);
        }
        var cpu = Fit("--device", "cpu");
        var auto = Fit();
        var deterministic = Fit("--device", "cpu", "--deterministic");
        string header = $"cadence fit: device cpu · libtorch {TorchRuntime.LibTorchVersion} (CPU) at {LibTorchFolder()}, from application";
        Assert.Contains(header + Environment.NewLine, cpu.Err);
        Assert.Contains(header + " (auto: this application carries the CPU libtorch", auto.Err);
        foreach (var run in new[] { cpu, auto, deterministic })
        {
            Assert.Equal("cpu", run.Json.GetProperty("device").GetString());
            foreach (var number in new[] { "train_loss", "valid_loss", "accuracy" })
                Assert.Equal(cpu.Json.GetProperty(number).GetDouble(), run.Json.GetProperty(number).GetDouble());
        }
    }

    [Fact]
    public void A_gpu_runs_checkpoint_is_finished_on_the_cpu_with_device_cpu_and_ends_as_the_uninterrupted_run()
    {
        string[] args = ["--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05", "--epochs", "2", "--seed", "1"];
        string reference = _temp["reference"], run = _temp["gpu-run"];
        foreach (var (dir, extra) in new[] { (reference, Array.Empty<string>()), (run, new[] { "--checkpoint-every", "5", "--keep", "100" }) })
        {
            using var cli = CadenceFit.Start([.. args, "--device", "cpu", "--out", dir, .. extra]);
            var (code, _, err) = cli.Wait();
            Assert.True(code == 0, err);
        }
        // The run as a GPU run killed at iteration 10 leaves it: its command line said --device cuda, its state "cuda:0"
        // (TorchSharp stores every tensor as CPU data, whatever its device), nothing after iteration 10, not finished.
        string checkpoints = Path.Combine(run, Checkpoint.DirectoryName);
        var keep = Checkpoint.Rolling(checkpoints).Single(c => Path.GetFileName(c) == "ckpt-i0000000010-e000000");
        foreach (var other in Directory.GetDirectories(checkpoints).Where(c => c != keep)) Directory.Delete(other, recursive: true);
        foreach (var output in new[] { RunDirectory.CompletionName, "history.json", "model.dat", "model.json" }) File.Delete(Path.Combine(run, output));
        var files = CheckpointStore.ReadVerified(keep);
        var state = JsonNode.Parse(files["state.json"])!;
        Assert.Equal("cpu", (string?)state["device"]);
        var saved = state["configuration"]!["args"]!.AsArray();   // the command line that started the run
        int device = saved.Select(a => (string?)a).ToList().IndexOf("--device");
        Assert.Equal("cpu", (string?)saved[device + 1]);
        saved[device + 1] = "cuda";
        state["device"] = "cuda:0";
        string gpuState = state.ToJsonString();
        Directory.Delete(keep, recursive: true);
        CheckpointStore.Write(checkpoints, Path.GetFileName(keep), [.. files.Where(f => f.Key is not ("state.json" or CheckpointStore.ManifestName))
            .Select(f => (f.Key, f.Value)).Append(("state.json", Encoding.UTF8.GetBytes(gpuState)))
            .Select(f => (f.Item1, (Action<Stream>)(s => s.Write(f.Item2))))]);

        // Resumed as it was started, it asks for the GPU this machine does not have.
        using (var again = CadenceFit.Start(["--resume", run]))
        {
            var (code, _, err) = again.Wait();
            Assert.Equal(1, code);
            Assert.EndsWith("cadence fit: cuda asked for, but this application carries the CPU libtorch (" + Path.Combine(LibTorchFolder(), "libtorch_cpu.so") +
                "), and a CUDA libtorch cannot be loaded beside it (two libtorch copies in one process): run a build without the CPU natives, i.e. the " +
                "cadence tool or the publish of scripts/gpu-prep.sh, with CADENCE_LIBTORCH set to a CUDA libtorch; or use --device cpu" + Environment.NewLine, err);
        }
        using var onCpu = CadenceFit.Start(["--resume", run, "--device", "cpu", "--json"]);
        var (finished, stdout, stderr) = onCpu.Wait();
        Assert.True(finished == 0, stderr);
        Assert.Contains($"cadence fit: resuming {keep} at iteration 10 (epoch 1, 10 batches done)", stderr);
        using var json = JsonDocument.Parse(stdout.Trim());
        Assert.Equal("cpu", json.RootElement.GetProperty("device").GetString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "model.dat")), File.ReadAllBytes(Path.Combine(run, "model.dat")));
    }
}
