using System.Runtime.InteropServices;
using TorchSharp;

namespace Cadence;

/// <summary>
/// Process-wide TorchSharp settings that make runs fast and reproducible, and the choice of libtorch and device.
/// Call <see cref="Configure"/> (or <see cref="SelectDevice"/>) before the first TorchSharp call of the process
/// (before building a model): which libtorch is loaded — CPU or CUDA — is decided then, once.
/// </summary>
public static partial class TorchRuntime
{
    private static bool _environmentSet;

    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment (unless already set: idle OpenMP threads then
    /// sleep instead of spinning, which otherwise collapses throughput on small machines), loads the libtorch that
    /// <paramref name="device"/> needs (<see cref="LoadLibTorch"/>: for <c>auto</c>, the default, a CUDA libtorch when
    /// the application carries none and one is found), then sets the number of intra-op threads and the global seed.
    /// </summary>
    /// <param name="seed">Seed of TorchSharp's global generator (weight initialization), or null to leave it.</param>
    /// <param name="threads">Intra-op threads (<c>torch.set_num_threads</c>), or null to leave the default.</param>
    /// <param name="device">The device the process will train on (null: <c>auto</c>); decides which libtorch is loaded.</param>
    /// <exception cref="CudaUnavailableException"><paramref name="device"/> is <c>cuda</c> and no CUDA libtorch can be loaded.</exception>
    public static void Configure(long? seed = null, int? threads = null, ComputeDevice? device = null)
    {
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "must be ≥ 1");
        SetNativeEnvironment();
        ApplyMklOverride();   // before libtorch loads: see TorchRuntime.Mkl.cs
        LoadLibTorch(device ?? ComputeDevice.Auto);
        ApplyTorchSettings(seed, threads);
    }

    // Separate and not inlined, so that nothing touches TorchSharp's type (whose static constructor loads the
    // natives) before LoadLibTorch has run.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void ApplyTorchSettings(long? seed, int? threads)
    {
        if (threads is { } n) torch.set_num_threads(n);
        if (seed is { } s) torch.manual_seed(s);   // seeds every GPU's generator too (torch.cuda.manual_seed_all)
    }

    /// <summary>Sets <c>OMP_WAIT_POLICY=PASSIVE</c> for the native libraries, once, without touching TorchSharp.</summary>
    public static void SetNativeEnvironment()
    {
        if (_environmentSet) return;
        _environmentSet = true;
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        SetEnvironment("OMP_WAIT_POLICY", "PASSIVE");
    }

    /// <summary>Sets a variable in .NET's copy of the environment and in the C library's, which native code reads.</summary>
    private static void SetEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            try { _ = setenv(name, value, 1); }
            catch (DllNotFoundException) { }
            catch (EntryPointNotFoundException) { }
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name,
        [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
