using System.Runtime.CompilerServices;
using TorchSharp;

namespace Cadence;

/// <summary>The device a run uses and the libtorch behind it (what the CLI's header and <c>--json</c> line report).</summary>
/// <param name="Device">The resolved device: <c>cpu</c> or <c>cuda:N</c>.</param>
/// <param name="Requested">What was asked for (<c>auto</c>, <c>cuda</c> …).</param>
/// <param name="LibTorch">The libtorch this process runs on.</param>
/// <param name="Gpus">GPUs visible to that libtorch (0 with a CPU-only libtorch).</param>
/// <param name="Note">Why <c>auto</c> chose the CPU, or null.</param>
public sealed record DeviceSelection(ComputeDevice Device, ComputeDevice Requested, LibTorchInfo LibTorch, int Gpus, string? Note)
{
    /// <summary>One line: <c>cuda:0 · libtorch 2.11.0+cu130 (CUDA) at /…/torch/lib, from python3</c>, with the note when there is one.</summary>
    public string Describe() => $"{Device} · {LibTorch.Describe()}{(Note is null ? "" : $" ({Note})")}";
}

public static partial class TorchRuntime
{
    /// <summary>
    /// Loads the libtorch <paramref name="requested"/> needs (see <see cref="LoadLibTorch"/>) and resolves it to one
    /// device. <c>auto</c>: <c>cuda:0</c> when a CUDA libtorch is loaded and a GPU is visible, else <c>cpu</c> (with
    /// the reason in <see cref="DeviceSelection.Note"/>). <c>cuda</c> is <c>cuda:0</c>. Call it before building tensors
    /// so that the right libtorch is loaded; later calls reuse the libtorch the first one loaded.
    /// </summary>
    /// <exception cref="CudaUnavailableException"><c>cuda</c> or <c>cuda:N</c> asked for and no CUDA libtorch can be
    /// loaded, no GPU is visible, or GPU N does not exist. The message says what was tried and how to fix it.</exception>
    /// <exception cref="DllNotFoundException">No libtorch at all.</exception>
    public static DeviceSelection SelectDevice(ComputeDevice requested)
    {
        ArgumentNullException.ThrowIfNull(requested);
        SetNativeEnvironment();
        var lib = LoadLibTorch(requested);
        int gpus = lib.Cuda ? CountGpus() : 0;
        switch (requested.Kind)
        {
            case DeviceKind.Cpu:
                return new DeviceSelection(ComputeDevice.Cpu, requested, lib, gpus, null);
            case DeviceKind.Auto:
                return gpus > 0
                    ? new DeviceSelection(ComputeDevice.Cuda(0), requested, lib, gpus, null)
                    : new DeviceSelection(ComputeDevice.Cpu, requested, lib, gpus, "auto: " + (lib.Cuda ? NoGpu(lib) : _noCudaReason ?? "no CUDA libtorch"));
            default:
                if (!lib.Cuda) throw NoCuda(requested);
                if (gpus == 0) throw new CudaUnavailableException($"{requested} asked for, but {NoGpu(lib)}; or use --device cpu");
                int index = requested.Index ?? 0;
                if (index >= gpus)
                    throw new CudaUnavailableException(
                        $"{requested} asked for, but {gpus} GPU{(gpus == 1 ? " is" : "s are")} visible (cuda:0{(gpus > 1 ? $" … cuda:{gpus - 1}" : "")}); check CUDA_VISIBLE_DEVICES");
                return new DeviceSelection(ComputeDevice.Cuda(index), requested, lib, gpus, null);
        }
    }

    /// <summary>
    /// The device <paramref name="requested"/> means in a process whose libtorch is already loaded (what
    /// <see cref="Training.Learner"/> does with its <c>device</c> argument).
    /// </summary>
    /// <exception cref="CudaUnavailableException">As <see cref="SelectDevice"/>.</exception>
    public static ComputeDevice Resolve(ComputeDevice requested) =>
        requested is null ? throw new ArgumentNullException(nameof(requested))
        : requested.Kind == DeviceKind.Cpu ? ComputeDevice.Cpu
        : SelectDevice(requested).Device;

    private static string NoGpu(LibTorchInfo lib) =>
        $"a CUDA libtorch is loaded ({lib.Folder}) and no GPU is visible to it (torch.cuda.is_available() is false): check nvidia-smi, the driver and CUDA_VISIBLE_DEVICES";

    // Not inlined: touches TorchSharp only after LoadLibTorch ran.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int CountGpus() => torch.cuda.is_available() ? torch.cuda.device_count() : 0;
}
