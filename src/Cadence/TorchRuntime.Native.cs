using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Cadence;

/// <summary>
/// What TorchSharp 0.107 does not expose, reached through libtorch's own exported C++ functions (Itanium ABI: a
/// member function takes <c>this</c> first; a returned reference is a pointer): the deterministic-algorithm switches of
/// <c>at::globalContext()</c> (<c>torch.use_deterministic_algorithms</c>, <c>cudnn.deterministic</c>,
/// <c>cudnn.benchmark</c>; TorchSharp's <c>use_deterministic_algorithms</c> throws NotImplementedException) and the
/// state of the default CUDA generator (<c>torch.cuda.get_rng_state</c>). The symbols are stable across libtorch 2.x;
/// each is looked up when first used, and a missing one is reported, not guessed.
/// </summary>
public static partial class TorchRuntime
{
    private delegate IntPtr GlobalContextFn();
    private delegate void SetFlagFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool value);
    private delegate void SetFlagsFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool value, [MarshalAs(UnmanagedType.U1)] bool warnOnly);
    [return: MarshalAs(UnmanagedType.U1)]
    private delegate bool GetFlagFn(IntPtr context);
    private delegate IntPtr DefaultCudaGeneratorFn(sbyte device);
    private delegate IntPtr DefaultCpuGeneratorFn();
    private delegate int CudaMemGetInfoFn(out nuint free, out nuint total);
    private delegate int CudaDeviceFn(out int device);
    private delegate int CudaSetDeviceFn(int device);

    /// <summary>
    /// libtorch's deterministic mode, process-wide (PyTorch's <c>torch.use_deterministic_algorithms(True)</c> together
    /// with <c>torch.backends.cudnn.deterministic = True</c> and <c>cudnn.benchmark = False</c>): operations with only
    /// non-deterministic CUDA kernels raise an error instead of running, cuDNN picks deterministic convolution algorithms,
    /// and <c>CUBLAS_WORKSPACE_CONFIG=:4096:8</c> is set (cuBLAS needs it; it must be set before the first CUDA matmul,
    /// so switch this on before training). On the CPU every kernel Cadence uses is deterministic already.
    /// </summary>
    /// <exception cref="EntryPointNotFoundException">The loaded libtorch does not export the switches.</exception>
    public static bool Deterministic
    {
        get => Native<GetFlagFn>(TorchCpu, "_ZNK2at7Context23deterministicAlgorithmsEv")(GlobalContext());
        set
        {
            if (value && Environment.GetEnvironmentVariable("CUBLAS_WORKSPACE_CONFIG") is null) SetEnvironment("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
            var context = GlobalContext();
            Native<SetFlagsFn>(TorchCpu, "_ZN2at7Context26setDeterministicAlgorithmsEbb")(context, value, false);
            Native<SetFlagFn>(TorchCpu, "_ZN2at7Context21setDeterministicCuDNNEb")(context, value);
            Native<SetFlagFn>(TorchCpu, "_ZN2at7Context17setBenchmarkCuDNNEb")(context, false);
        }
    }

    /// <summary>Whether cuDNN is told to use deterministic algorithms (<c>torch.backends.cudnn.deterministic</c>).</summary>
    public static bool DeterministicCuDnn => Native<GetFlagFn>(TorchCpu, "_ZNK2at7Context18deterministicCuDNNEv")(GlobalContext());

    /// <summary>
    /// The state of the default CUDA generator of GPU <paramref name="device"/> (<c>torch.cuda.get_rng_state(device)</c>):
    /// what dropout and other random operations on that GPU draw from.
    /// </summary>
    /// <exception cref="InvalidOperationException">No CUDA libtorch is loaded.</exception>
    public static byte[] GetCudaRngState(int device)
    {
        using var generator = CudaGenerator(device);
        using var state = generator.get_state();
        return state.data<byte>().ToArray();
    }

    /// <summary>Restores what <see cref="GetCudaRngState"/> returned (<c>torch.cuda.set_rng_state</c>).</summary>
    public static void SetCudaRngState(int device, byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var generator = CudaGenerator(device);
        using var tensor = torch.tensor(state, torch.ScalarType.Byte);
        generator.set_state(tensor);
    }

    /// <summary>
    /// The process's default CPU generator reached the way <see cref="GetCudaRngState"/> reaches the CUDA one (through
    /// libtorch's C++ accessor rather than TorchSharp's): lets the mechanism be tested where there is no GPU.
    /// </summary>
    internal static BorrowedGenerator BorrowDefaultCpuGenerator() =>
        Borrow(Native<DefaultCpuGeneratorFn>(TorchCpu, "_ZN2at6detail22getDefaultCPUGeneratorEv")());

    private static BorrowedGenerator CudaGenerator(int device)
    {
        string lib = MappedLibrary("libtorch_cuda.so") ?? throw new InvalidOperationException("no CUDA libtorch is loaded");
        return Borrow(Native<DefaultCudaGeneratorFn>(lib, "_ZN2at4cuda6detail23getDefaultCUDAGeneratorEa")(checked((sbyte)device)));
    }

    /// <summary>
    /// Wraps libtorch's own <c>at::Generator</c> (a reference, not ours to free) in a TorchSharp generator, whose
    /// <c>get_state</c>/<c>set_state</c> call <c>gen-&gt;get_state()</c> on it. Its finalizer and Dispose would
    /// <c>delete</c> the object, so the wrapper's handle is cleared on dispose instead (see <see cref="BorrowedGenerator"/>).
    /// </summary>
    private static BorrowedGenerator Borrow(IntPtr generator)
    {
        if (generator == IntPtr.Zero) throw new InvalidOperationException("libtorch returned no generator");
        var ctor = typeof(torch.Generator).GetConstructor(BindingFlags.NonPublic | BindingFlags.Instance, [typeof(IntPtr)])
            ?? throw new MissingMethodException("TorchSharp's Generator(IntPtr) constructor is gone: update TorchRuntime.Borrow");
        var wrapper = (torch.Generator)ctor.Invoke([generator]);
        GC.SuppressFinalize(wrapper);
        return new BorrowedGenerator(wrapper);
    }

    /// <summary>A borrowed generator: disposing it forgets the handle without freeing it.</summary>
    internal sealed class BorrowedGenerator(torch.Generator inner) : IDisposable
    {
        private static readonly PropertyInfo HandleProperty = typeof(torch.Generator).GetProperty(nameof(torch.Generator.Handle))!;

        public torch.Tensor get_state() => inner.get_state();

        public void set_state(torch.Tensor state) => inner.set_state(state);

        public void Dispose() => HandleProperty.SetValue(inner, IntPtr.Zero);
    }

    /// <summary>
    /// Free and total memory of GPU <paramref name="device"/> in bytes (<c>cudaMemGetInfo</c> of the CUDA runtime that
    /// libtorch loaded), or null when it cannot be asked (no CUDA runtime library mapped into the process).
    /// </summary>
    public static (long Free, long Total)? GpuMemory(int device)
    {
        if (MappedLibrary("libcudart.so") is not { } cudart) return null;
        try
        {
            var get = Native<CudaDeviceFn>(cudart, "cudaGetDevice");
            var set = Native<CudaSetDeviceFn>(cudart, "cudaSetDevice");
            var info = Native<CudaMemGetInfoFn>(cudart, "cudaMemGetInfo");
            if (get(out int current) != 0) return null;
            if (current != device && set(device) != 0) return null;
            try
            {
                return info(out nuint free, out nuint total) == 0 ? ((long)free, (long)total) : null;
            }
            finally
            {
                if (current != device) set(current);
            }
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The full paths of every loaded file whose name starts with <paramref name="name"/> (from <c>/proc/self/maps</c>),
    /// e.g. every <c>libtorch_cpu.so</c> in the process: more than one means two libtorch copies.
    /// </summary>
    public static IReadOnlyList<string> MappedLibraries(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        const string Maps = "/proc/self/maps";
        if (!File.Exists(Maps)) return [];
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Maps))
        {
            int slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0) continue;
            string path = line[slash..].Trim();
            if (Path.GetFileName(path).StartsWith(name, StringComparison.Ordinal)) paths.Add(path);
        }
        return [.. paths];
    }

    private static string? MappedLibrary(string name) => MappedLibraries(name).FirstOrDefault();

    private static string TorchCpu => MappedLibrary("libtorch_cpu.so")
        ?? throw new InvalidOperationException("libtorch is not loaded yet (build a tensor or call TorchRuntime.Configure first)");

    private static readonly Dictionary<(string, string), Delegate> Functions = [];

    private static T Native<T>(string library, string symbol) where T : Delegate
    {
        lock (Functions)
        {
            if (Functions.TryGetValue((library, symbol), out var known)) return (T)known;
            // Loading by the full path of a library that is already mapped returns the loaded copy.
            var handle = NativeLibrary.Load(library);
            if (!NativeLibrary.TryGetExport(handle, symbol, out var address))
                throw new EntryPointNotFoundException($"{Path.GetFileName(library)} does not export {symbol}");
            var f = Marshal.GetDelegateForFunctionPointer<T>(address);
            Functions[(library, symbol)] = f;
            return f;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IntPtr GlobalContext()
    {
        EnsureTorchInitialized();
        return Native<GlobalContextFn>(TorchCpu, "_ZN2at13globalContextEv")();
    }

    // Makes TorchSharp load its natives (a no-op after the first tensor) so that libtorch_cpu.so is mapped.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EnsureTorchInitialized() => torch.InitializeDeviceType(DeviceType.CPU);
}
