using System.Diagnostics;
using Cadence.TestSupport;
using Xunit;

namespace Cadence.Tests.Devices;

/// <summary>The CPU side of the GPU acceptance scripts: what they do where there is no GPU, and the benchmark's table.</summary>
public class GpuScriptTests
{
    private static (int Code, string Output) Run(string file, string arguments, params (string Name, string Value)[] environment)
    {
        var psi = new ProcessStartInfo(file, arguments) { WorkingDirectory = Repo.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static bool GpuListed()
    {
        try { return Run("nvidia-smi", "-L").Output.Contains("GPU ", StringComparison.Ordinal); }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    [SkippableFact]
    public void Gpu_check_without_a_gpu_says_so_and_exits_0()
    {
        Skip.If(GpuListed(), "a GPU is here: scripts/gpu-check.sh would run its checks");
        var (code, output) = Run("bash", "scripts/gpu-check.sh");
        Assert.Equal(0, code);
        Assert.Equal("gpu-check: no GPU here (nvidia-smi lists none): nothing to check\n", output);
    }

    [Fact]
    public void Gpu_env_names_what_is_missing()
    {
        using var dir = new TempDirectory();
        var (code, output) = Run("bash", "-c \"source scripts/gpu-env.sh && gpu_env\"", ("CADENCE_GPU_DIR", dir.Path), ("CADENCE_DOTNET", "/usr/bin/true"));
        Assert.Equal(1, code);
        Assert.Equal($"gpu-env: no published app in {dir.Path}: run scripts/gpu-prep.sh\n", output);

        dir.Write("app/cadence.dll", "");
        dir.Write("cpu-torch/libtorch_cpu.so", "");
        (code, output) = Run("bash", "-c \"source scripts/gpu-env.sh && gpu_env\"", ("CADENCE_GPU_DIR", dir.Path), ("CADENCE_DOTNET", "/usr/bin/true"),
            ("CADENCE_LIBTORCH", dir["cpu-torch"]));
        Assert.Equal(1, code);
        Assert.Equal($"gpu-env: no CUDA libtorch: {dir["cpu-torch"]} has no libtorch_cuda.so\n", output);

        dir.Write("cuda-torch/libtorch_cuda.so", "");
        (code, output) = Run("bash", "-c \"source scripts/gpu-env.sh && gpu_env && echo $CADENCE_APP $CADENCE_LIBTORCH ${LD_LIBRARY_PATH%%:*}\"",
            ("CADENCE_GPU_DIR", dir.Path), ("CADENCE_DOTNET", "/usr/bin/true"), ("CADENCE_LIBTORCH", dir["cuda-torch"]));
        Assert.Equal(0, code);
        Assert.Equal($"{dir["app"]} {dir["cuda-torch"]} {dir["cuda-torch"]}\n", output);
    }

    [SkippableFact]
    public void The_benchmark_table_gives_medians_per_loop_and_batch_and_the_learner_to_raw_ratio()
    {
        string python = Requires.File("/usr/bin/python3", "the benchmark's table is made by a Python script");
        using var dir = new TempDirectory();
        static string Line(string who, int bs, double perEpoch, double? reached, double acc3) =>
            $"{{\"contender\": \"{who}\", \"bs\": {bs}, \"accuracy\": [0.88, 0.905, {acc3}], \"seconds_per_epoch\": {perEpoch}, \"time_to_target\": {(reached is { } r ? r.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}, \"target\": 0.91}}";
        string file = dir.Write("runs.jsonl", string.Join('\n',
            Line("cadence-learner", 64, 2.0, 6.0, 0.92), Line("cadence-learner", 64, 2.2, 6.6, 0.918), Line("cadence-learner", 64, 9.0, null, 0.90),
            Line("raw-resident", 64, 2.0, 6.1, 0.919), Line("raw-resident", 64, 2.1, 6.3, 0.92), Line("raw-resident", 64, 1.9, 5.9, 0.921)) + "\n");
        var (code, output) = Run(python, $"bench/gpu_table.py {file}");
        Assert.Equal(0, code);
        var lines = output.Split('\n');
        Assert.Equal("| loop | batch | runs | s/epoch (median) | time to 91% (median) | test accuracy per epoch (median) |", lines[0]);
        Assert.Equal("| Cadence Learner | 64 | 3 | 2.200 | 6.30 s (1 of 3 missed) | 0.8800 / 0.9050 / 0.9180 |", lines[2]);
        Assert.Equal("| raw TorchSharp, data on the GPU, no per-step sync | 64 | 3 | 2.000 | 6.10 s | 0.8800 / 0.9050 / 0.9200 |", lines[3]);
        Assert.Contains("batch 64: Learner / raw resident loop = 1.100 (target ≤ 1.05)", output, StringComparison.Ordinal);
    }
}
