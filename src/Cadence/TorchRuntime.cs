using System.Runtime.InteropServices;
using TorchSharp;

namespace Cadence;

/// <summary>
/// Process-wide TorchSharp settings that make runs fast and reproducible. Call <see cref="Configure"/> before the
/// first TorchSharp call of the process (before building a model).
/// </summary>
public static partial class TorchRuntime
{
    private static bool _environmentSet;

    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment (unless already set: idle OpenMP threads then
    /// sleep instead of spinning, which otherwise collapses throughput on small machines), then the number of
    /// intra-op threads and the global seed. Finds libtorch first when the application does not carry it
    /// (<see cref="EnsureLibTorch"/>).
    /// </summary>
    /// <param name="seed">Seed of TorchSharp's global generator (weight initialization), or null to leave it.</param>
    /// <param name="threads">Intra-op threads (<c>torch.set_num_threads</c>), or null to leave the default.</param>
    public static void Configure(long? seed = null, int? threads = null)
    {
        SetNativeEnvironment();
        ApplyMklOverride();   // before libtorch loads: see TorchRuntime.Mkl.cs
        EnsureLibTorch();
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be ≥ 1");
        ApplyTorchSettings(seed, threads);
    }

    // Separate and not inlined, so that nothing touches TorchSharp's type (whose static constructor loads the
    // natives) before EnsureLibTorch has run.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ApplyTorchSettings(long? seed, int? threads)
    {
        if (threads is { } n) torch.set_num_threads(n);
        if (seed is { } s) torch.manual_seed(s);
    }

    /// <summary>Sets <c>OMP_WAIT_POLICY=PASSIVE</c> for the native libraries, once, without touching TorchSharp.</summary>
    public static void SetNativeEnvironment()
    {
        if (_environmentSet) return;
        _environmentSet = true;
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
        // .NET keeps its own copy of the environment; native OpenMP reads the C library's.
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            try { _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 1); }
            catch (DllNotFoundException) { }
            catch (EntryPointNotFoundException) { }
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
