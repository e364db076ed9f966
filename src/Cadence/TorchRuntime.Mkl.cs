using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Cadence;

/// <summary>Whether <see cref="TorchRuntime"/> makes libtorch's MKL take its Intel code path (<see cref="TorchRuntime.MklOverride"/>).</summary>
public enum MklOverride
{
    /// <summary>On for AMD (and Hygon) x86-64 processors on Linux, unless <see cref="TorchRuntime.MklOverrideVariable"/> says otherwise.</summary>
    Auto,
    /// <summary>Never.</summary>
    Off,
    /// <summary>On whatever the processor (on an Intel processor MKL takes that path anyway: this only exercises the mechanism).</summary>
    On,
}

/// <summary>What <see cref="TorchRuntime.Configure"/> did about MKL's processor check.</summary>
/// <param name="Applied">Whether the override library was loaded before libtorch.</param>
/// <param name="Vendor">The processor's vendor string (<c>AuthenticAMD</c>, <c>GenuineIntel</c> …), or null when not x86.</param>
/// <param name="Library">The override library, when loaded.</param>
/// <param name="Note">One line for a command's header: what was done and why, or why not.</param>
public sealed record MklOverrideStatus(bool Applied, string? Vendor, string? Library, string Note);

public static partial class TorchRuntime
{
    /// <summary>
    /// Environment variable that switches the MKL override: <c>0</c>/<c>off</c> never, <c>1</c>/<c>on</c> always,
    /// unset or <c>auto</c>: on AMD processors. Consulted when <see cref="MklOverride"/> is <see cref="Cadence.MklOverride.Auto"/>.
    /// </summary>
    public const string MklOverrideVariable = "CADENCE_MKL_AMD";

    /// <summary>The exported function MKL asks "is this a genuine Intel processor?" through (via the PLT, so a global definition loaded first wins).</summary>
    public const string MklCpuCheckSymbol = "mkl_serv_intel_cpu_true";

    // Bump the version when the source changes: the cached library's name carries it.
    private const string OverrideSource = "int mkl_serv_intel_cpu_true(void) { return 1; }\n";
    private const string OverrideLibraryName = "libcadence-mkl-intel-cpu-v1.so";
    private const int RtldNow = 2, RtldGlobal = 0x100;

    /// <summary>
    /// Whether to make MKL take its Intel code path on AMD processors (set before <see cref="Configure"/>). libtorch's
    /// bundled MKL checks the CPU vendor and, on AMD, runs generic kernels even where the processor has the same
    /// instructions (AVX2, FMA, AVX-512); its sgemm is then markedly slower. The well-known override is a one-line
    /// library defining <see cref="MklCpuCheckSymbol"/> to return 1, loaded with RTLD_GLOBAL before libtorch, so MKL's
    /// call binds to it; MKL still checks the instruction sets themselves, so only kernels the processor can run are
    /// chosen. The library is compiled once, with the system's C compiler, into <see cref="MklCacheDirectory"/>.
    /// </summary>
    public static MklOverride MklOverride { get; set; } = MklOverride.Auto;

    /// <summary>What the last <see cref="Configure"/> did about MKL (null before the first call).</summary>
    public static MklOverrideStatus? MklStatus { get; private set; }

    /// <summary>Where the override library is built: <c>$XDG_CACHE_HOME/cadence</c>, else <c>~/.cache/cadence</c>.</summary>
    public static string MklCacheDirectory =>
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? Path.Combine(xdg, "cadence")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "cadence");

    /// <summary>The processor's vendor string from CPUID leaf 0 (null when not an x86 processor).</summary>
    public static string? CpuVendor()
    {
        if (!X86Base.IsSupported) return null;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> vendor = stackalloc byte[12];
        BitConverter.TryWriteBytes(vendor[..4], ebx);
        BitConverter.TryWriteBytes(vendor[4..8], edx);
        BitConverter.TryWriteBytes(vendor[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(vendor);
    }

    /// <summary>
    /// Whether the override should be applied: <paramref name="setting"/>, or for <see cref="Cadence.MklOverride.Auto"/>
    /// the variable's value (<c>0/off/false</c>, <c>1/on/true</c>, empty or <c>auto</c>), else whether the vendor is AMD
    /// or Hygon (whose Zen cores MKL treats the same way).
    /// </summary>
    /// <exception cref="ArgumentException">The variable has another value.</exception>
    public static bool MklOverrideWanted(MklOverride setting, string? variable, string? vendor) => setting switch
    {
        MklOverride.On => true,
        MklOverride.Off => false,
        _ => variable?.Trim().ToLowerInvariant() switch
        {
            "0" or "off" or "false" => false,
            "1" or "on" or "true" => true,
            null or "" or "auto" => vendor is "AuthenticAMD" or "HygonGenuine",
            _ => throw new ArgumentException($"{MklOverrideVariable}: must be 0, 1, off, on or auto, got '{variable}'"),
        },
    };

    /// <summary>Applies the MKL override when wanted (see <see cref="MklOverride"/>); records <see cref="MklStatus"/>. Never throws for a missing compiler.</summary>
    private static void ApplyMklOverride()
    {
        if (MklStatus is { Applied: true }) return;
        string? vendor = CpuVendor();
        bool linuxX64 = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;
        if (!linuxX64 || !MklOverrideWanted(MklOverride, Environment.GetEnvironmentVariable(MklOverrideVariable), vendor))
        {
            MklStatus = new(false, vendor, null, linuxX64 && vendor is "AuthenticAMD" or "HygonGenuine"
                ? $"MKL: AMD processor, generic code path kept ({MklOverrideVariable}=0 or MklOverride.Off)"
                : $"MKL: no override needed ({vendor ?? RuntimeInformation.ProcessArchitecture.ToString()})");
            return;
        }
        if (LibTorchAlreadyLoaded())
        {
            MklStatus = new(false, vendor, null, "MKL: override not applied: libtorch was loaded before TorchRuntime.Configure");
            return;
        }
        var (library, problem) = BuildMklOverride(MklCacheDirectory);
        if (library is null)
        {
            MklStatus = new(false, vendor, null, $"MKL: override skipped, {problem}; MKL keeps its generic code path on this {vendor} processor");
            return;
        }
        nint handle = DlOpen(library, RtldNow | RtldGlobal);
        MklStatus = handle == 0
            ? new(false, vendor, null, $"MKL: override skipped, cannot load {library}")
            : new(true, vendor, library, $"MKL: Intel code path on this {vendor} processor ({MklOverrideVariable}=0 to turn off)");
    }

    /// <summary>
    /// The override library in <paramref name="directory"/>, compiled there with <c>cc</c>, <c>gcc</c> or <c>clang</c>
    /// when missing or unloadable (written to a temporary name, then renamed: concurrent builds are safe).
    /// </summary>
    /// <returns>Its path, or null and why not (no compiler, the compiler failed).</returns>
    public static (string? Library, string? Problem) BuildMklOverride(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string library = Path.Combine(directory, OverrideLibraryName);
        if (File.Exists(library) && ExportsCpuCheck(library)) return (library, null);
        string? compiler = new[] { "cc", "gcc", "clang" }.Select(FindOnPath).FirstOrDefault(p => p is not null);
        if (compiler is null) return (null, "no C compiler (cc, gcc or clang) on PATH to build it");
        try
        {
            Directory.CreateDirectory(directory);
            string stem = Path.Combine(directory, $".build-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(stem + ".c", OverrideSource);
            try
            {
                var psi = new ProcessStartInfo(compiler, ["-shared", "-fPIC", "-O2", "-o", stem + ".so", stem + ".c"])
                { RedirectStandardError = true, RedirectStandardOutput = true };
                using var p = Process.Start(psi)!;
                string err = p.StandardError.ReadToEnd();
                p.StandardOutput.ReadToEnd();
                if (!p.WaitForExit(60_000)) { p.Kill(); return (null, $"{compiler} timed out"); }
                if (p.ExitCode != 0) return (null, $"{compiler} failed: {err.Trim().Split('\n').LastOrDefault()}");
                File.Move(stem + ".so", library, overwrite: true);
            }
            finally
            {
                File.Delete(stem + ".c");
                File.Delete(stem + ".so");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return (null, $"cannot build it in {directory}: {e.Message}");
        }
        return ExportsCpuCheck(library) ? (library, null) : (null, $"{library} does not export {MklCpuCheckSymbol}");
    }

    private static bool ExportsCpuCheck(string library)
    {
        if (!NativeLibrary.TryLoad(library, out var handle)) return false;
        // dlopen counts references; the RTLD_GLOBAL load in ApplyMklOverride is what makes the symbol global.
        bool found = NativeLibrary.TryGetExport(handle, MklCpuCheckSymbol, out _);
        NativeLibrary.Free(handle);
        return found;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    private static bool LibTorchAlreadyLoaded()
    {
        try { return File.ReadLines("/proc/self/maps").Any(l => l.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal)); }
        catch (IOException) { return false; }
    }

    private static nint DlOpen(string path, int flags)
    {
        // glibc ≥ 2.34 has dlopen in libc; older ones only in libdl.
        try { return DlOpenLibc(path, flags); }
        catch (EntryPointNotFoundException) { return DlOpenLibdl(path, flags); }
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpenLibc([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libdl.so.2", EntryPoint = "dlopen")]
    private static extern nint DlOpenLibdl([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
}
