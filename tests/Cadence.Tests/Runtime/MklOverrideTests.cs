using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Cadence.TestSupport;

namespace Cadence.Tests.Runtime;

/// <summary>
/// The MKL-on-AMD override (TorchRuntime.Mkl.cs): when it is wanted, that the library it builds exports MKL's CPU
/// check returning 1, and — in a fresh native process that loads libtorch the way TorchRuntime does — that libtorch's
/// call binds to it and that sgemm's results stay within float32 rounding of the default path.
/// </summary>
public sealed class MklOverrideTests
{
    [Theory]
    [InlineData(MklOverride.Auto, null, "AuthenticAMD", true)]
    [InlineData(MklOverride.Auto, null, "HygonGenuine", true)]
    [InlineData(MklOverride.Auto, null, "GenuineIntel", false)]
    [InlineData(MklOverride.Auto, null, null, false)]
    [InlineData(MklOverride.Auto, "", "AuthenticAMD", true)]
    [InlineData(MklOverride.Auto, "auto", "AuthenticAMD", true)]
    [InlineData(MklOverride.Auto, "0", "AuthenticAMD", false)]
    [InlineData(MklOverride.Auto, "OFF", "AuthenticAMD", false)]
    [InlineData(MklOverride.Auto, "1", "GenuineIntel", true)]
    [InlineData(MklOverride.Auto, "on", "GenuineIntel", true)]
    [InlineData(MklOverride.Off, "1", "AuthenticAMD", false)]
    [InlineData(MklOverride.On, "0", "GenuineIntel", true)]
    public void The_setting_wins_then_the_variable_then_the_vendor(MklOverride setting, string? variable, string? vendor, bool wanted) =>
        Assert.Equal(wanted, TorchRuntime.MklOverrideWanted(setting, variable, vendor));

    [Fact]
    public void A_bad_variable_value_names_the_variable_and_the_values()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.MklOverrideWanted(MklOverride.Auto, "yes", "AuthenticAMD"));
        Assert.Equal("CADENCE_MKL_AMD: must be 0, 1, off, on or auto, got 'yes'", e.Message);
    }

    [SkippableFact]
    public void The_vendor_is_what_proc_cpuinfo_says()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64, "x86-64 Linux only");
        string line = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("vendor_id", StringComparison.Ordinal));
        Assert.Equal(line.Split(':')[1].Trim(), TorchRuntime.CpuVendor());
    }

    [Fact]
    public void Configure_records_what_it_did_about_mkl()
    {
        TorchRuntime.Configure(threads: 1);
        var status = TorchRuntime.MklStatus;
        Assert.NotNull(status);
        Assert.StartsWith("MKL: ", status.Note, StringComparison.Ordinal);
        Assert.Equal(TorchRuntime.CpuVendor(), status.Vendor);
        if (status.Applied) Assert.True(File.Exists(status.Library));
    }

    [SkippableFact]
    public void The_built_library_exports_the_cpu_check_returning_1_and_is_reused()
    {
        Compiler();
        using var dir = new TempDirectory();
        var (library, problem) = TorchRuntime.BuildMklOverride(dir.Path);
        Assert.True(library is not null, problem);
        var handle = NativeLibrary.Load(library);
        try
        {
            var check = Marshal.GetDelegateForFunctionPointer<CpuCheck>(NativeLibrary.GetExport(handle, TorchRuntime.MklCpuCheckSymbol));
            Assert.Equal(1, check());
        }
        finally { NativeLibrary.Free(handle); }

        var built = File.GetLastWriteTimeUtc(library);
        Assert.Equal((library, (string?)null), TorchRuntime.BuildMklOverride(dir.Path));
        Assert.Equal(built, File.GetLastWriteTimeUtc(library));

        File.WriteAllText(library, "not a library");   // a damaged cache is rebuilt, not loaded
        Assert.Equal((library, (string?)null), TorchRuntime.BuildMklOverride(dir.Path));
        Assert.NotEqual("not a library", File.ReadAllText(library)[..Math.Min(13, (int)new FileInfo(library).Length)]);
        Assert.Empty(Directory.GetFiles(dir.Path, ".build-*"));
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CpuCheck();

    [Fact]
    public void Without_a_compiler_it_says_so_and_builds_nothing()
    {
        using var dir = new TempDirectory();
        string? path = Environment.GetEnvironmentVariable("PATH");
        Environment.SetEnvironmentVariable("PATH", dir.Path);
        try
        {
            var (library, problem) = TorchRuntime.BuildMklOverride(Path.Combine(dir.Path, "cache"));
            Assert.Null(library);
            Assert.Equal("no C compiler (cc, gcc or clang) on PATH to build it", problem);
            Assert.False(Directory.Exists(Path.Combine(dir.Path, "cache")));
        }
        finally { Environment.SetEnvironmentVariable("PATH", path); }
    }

    // Loads libtorch_cpu.so as TorchRuntime does (the override first, RTLD_GLOBAL), runs a 96×96×784 sgemm through
    // MKL (which asks for the vendor on the way) and prints the result's sum of squares and its first values.
    private const string Harness = """
        #include <dlfcn.h>
        #include <stdio.h>
        #include <stdlib.h>
        typedef void sgemm_t(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                             const int*, const float*, const int*, const float*, float*, const int*);
        int main(int argc, char** argv) {
          if (argc > 2 && !dlopen(argv[2], RTLD_NOW | RTLD_GLOBAL)) { fprintf(stderr, "%s\n", dlerror()); return 2; }
          void* torch = dlopen(argv[1], RTLD_LAZY | RTLD_GLOBAL);
          if (!torch) { fprintf(stderr, "%s\n", dlerror()); return 3; }
          sgemm_t* sgemm = (sgemm_t*)dlsym(torch, "sgemm_");
          int m = 96, n = 96, k = 784; float one = 1, zero = 0;
          float* a = malloc(sizeof(float) * m * k); float* b = malloc(sizeof(float) * k * n); float* c = malloc(sizeof(float) * m * n);
          unsigned s = 12345;
          for (int i = 0; i < m * k; i++) { s = s * 1103515245u + 12345u; a[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f; }
          for (int i = 0; i < k * n; i++) { s = s * 1103515245u + 12345u; b[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f; }
          sgemm("N", "N", &m, &n, &k, &one, a, &m, b, &k, &zero, c, &m);
          for (int i = 0; i < m * n; i++) printf("%.9g\n", c[i]);
          return 0;
        }
        """;

    [SkippableFact]
    public void Libtorch_binds_mkls_cpu_check_to_the_override_and_sgemm_agrees_with_the_default_path()
    {
        string cc = Compiler();
        Skip.IfNot(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64, "x86-64 Linux only");
        string torch = Path.Combine(AppContext.BaseDirectory, "libtorch_cpu.so");
        Requires.File(torch, "the test project references libtorch-cpu-linux-x64");
        using var dir = new TempDirectory();
        var (library, problem) = TorchRuntime.BuildMklOverride(dir.Path);
        Assert.True(library is not null, problem);
        string harness = Path.Combine(dir.Path, "harness");
        File.WriteAllText(harness + ".c", Harness);
        Assert.True(Run(cc, ["-O1", "-o", harness, harness + ".c", "-ldl"], dir.Path, out _, out var ccError), ccError);

        var plain = Sgemm(harness, torch, null, dir.Path, out var plainBindings);
        var overridden = Sgemm(harness, torch, library, dir.Path, out var bindings);

        string symbol = $"normal symbol `{TorchRuntime.MklCpuCheckSymbol}'";
        Assert.Contains(bindings, l => l.Contains("libtorch_cpu.so", StringComparison.Ordinal) && l.Contains($"to {library}", StringComparison.Ordinal) && l.Contains(symbol, StringComparison.Ordinal));
        Assert.DoesNotContain(plainBindings, l => l.Contains(Path.GetFileName(library), StringComparison.Ordinal));
        // Same products; different kernels may sum in another order. Each entry is a dot product of 784 terms with
        // |a·b| ≤ 0.25: float32 summation in any order is within 784 · 2⁻²⁴ · Σ|a·b| ≤ 784 · 6e-8 · 196 ≈ 9e-3 of the
        // exact value, so two orders differ by at most twice that. On an Intel processor both runs take the same path.
        Assert.Equal(plain.Length, overridden.Length);
        Assert.Equal(96 * 96, plain.Length);
        for (int i = 0; i < plain.Length; i++) Assert.True(Math.Abs(plain[i] - overridden[i]) <= 2e-2, $"entry {i}: {plain[i]} vs {overridden[i]}");
        if (TorchRuntime.CpuVendor() == "GenuineIntel") Assert.Equal(plain, overridden);
    }

    private static double[] Sgemm(string harness, string torch, string? library, string dir, out string[] bindings)
    {
        string log = Path.Combine(dir, $"bindings-{(library is null ? "plain" : "override")}");
        var env = new Dictionary<string, string> { ["LD_DEBUG"] = "bindings", ["LD_DEBUG_OUTPUT"] = log, ["OMP_NUM_THREADS"] = "1" };
        Assert.True(Run(harness, library is null ? [torch] : [torch, library], dir, out var output, out var err, env), err);
        bindings = Directory.GetFiles(dir, Path.GetFileName(log) + ".*").SelectMany(File.ReadAllLines)
            .Where(l => l.Contains("mkl_serv_intel_cpu", StringComparison.Ordinal)).ToArray();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    }

    private static bool Run(string file, string[] args, string dir, out string output, out string error, Dictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        error = p.StandardError.ReadToEnd();
        output = stdout.Result;
        Assert.True(p.WaitForExit(120_000), $"{file} timed out");
        return p.ExitCode == 0;
    }

    private static string Compiler()
    {
        string? cc = new[] { "cc", "gcc", "clang" }
            .SelectMany(n => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, n)))
            .FirstOrDefault(File.Exists);
        Skip.If(cc is null, "needs a C compiler (cc, gcc or clang)");
        return cc!;
    }
}
