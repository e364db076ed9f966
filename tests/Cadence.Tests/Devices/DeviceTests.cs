using Cadence.TestSupport;
using Cadence.Training;
using TorchSharp;
using Xunit;

namespace Cadence.Tests.Devices;

public class ComputeDeviceTests
{
    [Theory]
    [InlineData("auto", "auto")]
    [InlineData("cpu", "cpu")]
    [InlineData("cuda", "cuda")]
    [InlineData("cuda:0", "cuda:0")]
    [InlineData(" CUDA:12 ", "cuda:12")]
    [InlineData("Cpu", "cpu")]
    public void Parses_the_four_forms(string text, string expected)
    {
        var device = ComputeDevice.Parse(text);
        Assert.Equal(expected, device.ToString());
        Assert.Equal(device, ComputeDevice.Parse(device.ToString()));   // round trip
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    [InlineData("cpu:0")]
    [InlineData("")]
    [InlineData("cuda:99999999999")]
    public void Unknown_names_are_refused_naming_the_value_and_the_allowed_forms(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Parse(text));
        Assert.Equal($"unknown device '{text}': expected auto, cpu, cuda or cuda:N (N = 0, 1, …)", e.Message);
        Assert.False(ComputeDevice.TryParse(text, out _));
    }

    [Fact]
    public void Only_cpu_and_indexed_cuda_name_one_device()
    {
        Assert.True(ComputeDevice.Cpu.IsResolved);
        Assert.True(ComputeDevice.Cuda(1).IsResolved);
        Assert.False(ComputeDevice.Cuda().IsResolved);
        Assert.False(ComputeDevice.Auto.IsResolved);
        Assert.Equal(DeviceType.CUDA, ComputeDevice.Cuda(1).ToTorch().type);
        Assert.Equal(1, ComputeDevice.Cuda(1).ToTorch().index);
        Assert.Throws<InvalidOperationException>(() => ComputeDevice.Auto.ToTorch());
        Assert.Equal(ComputeDevice.Cuda(0), ComputeDevice.Of(new torch.Device(DeviceType.CUDA)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ComputeDevice.Cuda(-1));
    }
}

public class DeviceSelectionTests
{
    static DeviceSelectionTests() => TorchRuntime.Configure(threads: 1);

    private static bool HasGpu => torch.cuda.is_available();

    [Fact]
    public void Cpu_is_always_the_cpu_and_reports_the_libtorch()
    {
        var selection = TorchRuntime.SelectDevice(ComputeDevice.Cpu);
        Assert.Equal(ComputeDevice.Cpu, selection.Device);
        Assert.Null(selection.Note);
        Assert.Same(TorchRuntime.LibTorch, selection.LibTorch);
        Assert.True(File.Exists(Path.Combine(selection.LibTorch.Folder, "libtorch_cpu.so")), selection.LibTorch.Folder);
        Assert.StartsWith("cpu · libtorch ", selection.Describe(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Auto_without_a_gpu_is_the_cpu_and_says_why()
    {
        Skip.If(HasGpu, "a GPU is visible here: auto picks it");
        var selection = TorchRuntime.SelectDevice(ComputeDevice.Auto);
        Assert.Equal(ComputeDevice.Cpu, selection.Device);
        Assert.StartsWith("auto: ", selection.Note, StringComparison.Ordinal);
        Assert.Equal(ComputeDevice.Cpu, TorchRuntime.Resolve(ComputeDevice.Auto));
    }

    [SkippableTheory]
    [InlineData("cuda")]
    [InlineData("cuda:1")]
    public void Cuda_without_one_is_refused_in_one_line_saying_what_was_tried_and_what_to_do(string device)
    {
        Skip.If(HasGpu, "a GPU is visible here");
        var e = Assert.Throws<CudaUnavailableException>(() => TorchRuntime.SelectDevice(ComputeDevice.Parse(device)));
        Assert.StartsWith($"{device} asked for, but ", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("; or use --device cpu", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        // The test host carries the CPU libtorch beside itself (as every build from source does): CUDA cannot join it.
        Assert.Contains("carries the CPU libtorch", e.Message, StringComparison.Ordinal);
        Assert.Contains("two libtorch copies in one process", e.Message, StringComparison.Ordinal);
        Assert.Throws<CudaUnavailableException>(() => new Learner(Synth.Model().Model, Synth.Data(), device: ComputeDevice.Parse(device)));
    }

    [Fact]
    public void A_learner_trains_on_the_device_it_is_given_or_the_auto_rule()
    {
        using var explicitCpu = new Learner(Synth.Model().Model, Synth.Data(), device: ComputeDevice.Cpu);
        Assert.Equal(ComputeDevice.Cpu, explicitCpu.Device);
        Assert.Equal(1, explicitCpu.LossReadInterval);        // the CPU reads every loss
        Assert.Null(explicitCpu.ValidationBatchSize);
        using var auto = Synth.Learner();
        Assert.Equal(HasGpu ? ComputeDevice.Cuda(0) : ComputeDevice.Cpu, auto.Device);
    }

    [Fact]
    public void One_libtorch_is_loaded_in_the_process()
    {
        using var t = torch.ones(2);
        var copies = TorchRuntime.MappedLibraries("libtorch_cpu.so");
        Assert.Single(copies);
        Assert.Equal(TorchRuntime.LibTorch!.Folder, Path.GetDirectoryName(copies[0]));
    }
}

public class LibTorchDiscoveryTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-libtorch");

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Cuda = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];

    // A fake libtorch folder: empty files with the libraries' names, and the version file of its layout.
    private string Libs(string relative, IEnumerable<string> names, string? versionPy = null)
    {
        foreach (var n in names) _dir.Write(Path.Combine(relative, n), "");
        if (versionPy is not null) _dir.Write(Path.Combine(Path.GetDirectoryName(relative)!, "version.py"), versionPy);
        return _dir[relative];
    }

    [Fact]
    public void Looks_in_CADENCE_LIBTORCH_then_python3_then_the_NuGet_cache_and_says_why_each_is_used_or_not()
    {
        string env = Libs("env/lib", ["libc10.so", "libtorch_cpu.so", "libtorch.so"]);
        string torchPackage = Path.GetDirectoryName(Libs("site/torch/lib", Cuda, "__version__ = '2.11.0+cu130'\ncuda = '13.0'\n"))!;
        Libs("nuget/libtorch-cuda-12.8-linux-x64/2.10.0/runtimes/linux-x64/native", Cuda);
        var found = TorchRuntime.FindCudaLibTorch(new LibTorchSearch
        {
            EnvironmentFolder = env,
            Python = () => (torchPackage, "torch found"),
            NuGetRoots = [_dir["nuget"], _dir["no-such-root"]],
        });
        Assert.Equal(["CADENCE_LIBTORCH", "python3", "NuGet cache"], found.Select(c => c.Source));
        Assert.Equal((false, "a CPU-only libtorch (no libtorch_cuda.so)"), (found[0].Usable, found[0].Reason));
        Assert.Equal((true, "2.11.0+cu130", "CUDA libtorch 2.11.0+cu130"), (found[1].Usable, found[1].Version, found[1].Reason));
        Assert.Equal(Path.Combine(torchPackage, "lib"), found[1].Folder);
        Assert.Equal((true, "2.10.0"), (found[2].Usable, found[2].Version));
        Assert.Same(found[1], found.First(c => c.Usable));   // python3's wins over the NuGet cache
    }

    [Fact]
    public void Refuses_missing_incomplete_and_too_old_libtorch()
    {
        string incomplete = Libs("partial/lib", ["libc10.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"]);
        string old = Path.GetDirectoryName(Libs("old/torch/lib", Cuda, "__version__ = '1.13.1+cu117'\n"))!;
        var found = TorchRuntime.FindCudaLibTorch(new LibTorchSearch { EnvironmentFolder = incomplete, Python = () => (old, "torch found") });
        Assert.Equal("incomplete: libc10_cuda.so missing", found[0].Reason);
        Assert.Equal("libtorch 1.13.1+cu117 is older than 2.10.0, which TorchSharp 0.107 is built for", found[1].Reason);
        Assert.Equal("no libtorch-cuda-* package with libtorch_cuda.so in (no NuGet folder)", found[2].Reason);
        Assert.All(found, c => Assert.False(c.Usable));

        found = TorchRuntime.FindCudaLibTorch(new LibTorchSearch { EnvironmentFolder = _dir["nowhere"], Python = () => (null, "python3 has no torch package") });
        Assert.Equal("no such folder", found[0].Reason);
        Assert.Equal("python3: python3 has no torch package", found[1].ToString());
        found = TorchRuntime.FindCudaLibTorch(new LibTorchSearch());
        Assert.Equal("CADENCE_LIBTORCH: not set", found[0].ToString());
        Assert.Equal(2, found.Count);   // no Python step asked for
    }

    [SkippableFact]
    public void A_cpu_only_pytorch_such_as_debians_is_not_taken_for_a_cuda_one()
    {
        string python = Requires.PythonWithTorch();
        var (package, note) = TorchRuntime.FindPythonTorch(python);
        Assert.True(package is not null, note);
        var found = TorchRuntime.FindCudaLibTorch(new LibTorchSearch { Python = () => (package, note) });
        Skip.If(File.Exists(Path.Combine(package!, "lib", "libtorch_cuda.so")), $"{python}'s torch is a CUDA build");
        Assert.False(found[1].Usable);
        Assert.Equal("a CPU-only libtorch (no libtorch_cuda.so)", found[1].Reason);
        Assert.NotNull(found[1].Version);
    }

    [Fact]
    public void A_missing_python_is_a_reason_not_an_error()
    {
        var (package, note) = TorchRuntime.FindPythonTorch("/nonexistent/python3");
        Assert.Null(package);
        Assert.StartsWith("/nonexistent/python3 not found", note, StringComparison.Ordinal);
    }
}

public class NativeSwitchTests
{
    static NativeSwitchTests() => TorchRuntime.Configure(threads: 1);

    [Fact]
    public void Deterministic_mode_switches_libtorchs_global_flags_on_and_off()
    {
        Assert.False(TorchRuntime.Deterministic);
        try
        {
            TorchRuntime.Deterministic = true;
            Assert.True(TorchRuntime.Deterministic);
            Assert.True(TorchRuntime.DeterministicCuDnn);
            Assert.Equal(":4096:8", Environment.GetEnvironmentVariable("CUBLAS_WORKSPACE_CONFIG"));
            using var learn = Synth.Learner();
            learn.Fit(0.05);   // every CPU kernel the learner uses has a deterministic implementation
        }
        finally
        {
            TorchRuntime.Deterministic = false;
        }
        Assert.False(TorchRuntime.Deterministic);
        Assert.False(TorchRuntime.DeterministicCuDnn);
    }

    [Fact]
    public void Libtorchs_own_generator_accessor_reaches_the_generator_torchsharp_uses()
    {
        // What GetCudaRngState does for a GPU, done with the CPU's default generator where there is no GPU.
        torch.manual_seed(11);
        using var borrowed = TorchRuntime.BorrowDefaultCpuGenerator();
        using var state = borrowed.get_state();
        using var expected = torch.random.get_rng_state();
        Assert.Equal(expected.data<byte>().ToArray(), state.data<byte>().ToArray());
        var first = torch.randn(5).data<float>().ToArray();
        borrowed.set_state(state);
        Assert.Equal(first, torch.randn(5).data<float>().ToArray());   // set_state rewound TorchSharp's global generator
    }

    [SkippableFact]
    public void Cuda_generator_state_round_trips()
    {
        Skip.IfNot(torch.cuda.is_available(), "needs a GPU");
        torch.manual_seed(5);
        byte[] state = TorchRuntime.GetCudaRngState(0);
        var a = torch.randn(4, device: torch.CUDA).cpu().data<float>().ToArray();
        TorchRuntime.SetCudaRngState(0, state);
        Assert.Equal(a, torch.randn(4, device: torch.CUDA).cpu().data<float>().ToArray());
    }

    [SkippableFact]
    public void Without_a_cuda_libtorch_there_is_no_cuda_generator()
    {
        Skip.If(torch.cuda.is_available(), "a GPU is visible here");
        Assert.Throws<InvalidOperationException>(() => TorchRuntime.GetCudaRngState(0));
        Assert.Null(TorchRuntime.GpuMemory(0));
    }
}
