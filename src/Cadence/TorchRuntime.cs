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
    /// intra-op threads and the global seed.
    /// </summary>
    /// <param name="seed">Seed of TorchSharp's global generator (weight initialization), or null to leave it.</param>
    /// <param name="threads">Intra-op threads (<c>torch.set_num_threads</c>), or null to leave the default.</param>
    public static void Configure(long? seed = null, int? threads = null)
    {
        SetNativeEnvironment();
        if (threads is { } n)
        {
            if (n < 1) throw new ArgumentOutOfRangeException(nameof(threads), n, "must be ≥ 1");
            torch.set_num_threads(n);
        }
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
