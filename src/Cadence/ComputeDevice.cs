using System.Globalization;
using TorchSharp;

namespace Cadence;

/// <summary>What kind of device a <see cref="ComputeDevice"/> names.</summary>
public enum DeviceKind
{
    /// <summary>CUDA when a CUDA libtorch is loaded and a GPU is visible, else the CPU.</summary>
    Auto,
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,
}

/// <summary>
/// The device training runs on, as a user names it: <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (PyTorch's
/// device strings, plus fastai's "use the GPU when there is one" as <c>auto</c>). A resolved device (what
/// <see cref="TorchRuntime.SelectDevice"/> and <see cref="Training.Learner.Device"/> give) is <c>cpu</c> or
/// <c>cuda:N</c>, never <c>auto</c> or a bare <c>cuda</c>.
/// </summary>
public sealed record ComputeDevice
{
    /// <summary>The forms <see cref="Parse"/> accepts, for messages.</summary>
    public const string AllowedForms = "auto, cpu, cuda or cuda:N (N = 0, 1, …)";

    private ComputeDevice(DeviceKind kind, int? index) => (Kind, Index) = (kind, index);

    /// <summary>CUDA when a CUDA libtorch is loaded and a GPU is visible, else the CPU (the default).</summary>
    public static ComputeDevice Auto { get; } = new(DeviceKind.Auto, null);

    /// <summary>The CPU.</summary>
    public static ComputeDevice Cpu { get; } = new(DeviceKind.Cpu, null);

    /// <summary>GPU <paramref name="index"/>, or with null the current one (<c>cuda</c>, which resolves to <c>cuda:0</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    public static ComputeDevice Cuda(int? index = null) => index is < 0
        ? throw new ArgumentOutOfRangeException(nameof(index), index, "a GPU index must be ≥ 0")
        : new(DeviceKind.Cuda, index);

    /// <summary>Which kind of device.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The GPU index for <see cref="DeviceKind.Cuda"/> (null: not given).</summary>
    public int? Index { get; }

    /// <summary>Whether this names one concrete device (<c>cpu</c> or <c>cuda:N</c>).</summary>
    public bool IsResolved => Kind == DeviceKind.Cpu || Kind == DeviceKind.Cuda && Index is not null;

    /// <summary>Whether this is a GPU.</summary>
    public bool IsCuda => Kind == DeviceKind.Cuda;

    /// <summary>Parses <c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (case and surrounding blanks ignored).</summary>
    /// <exception cref="ArgumentException">Any other text; the message names it and the allowed forms.</exception>
    public static ComputeDevice Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var device) ? device
            : throw new ArgumentException($"unknown device '{text}': expected {AllowedForms}");   // no parameter name: the message is shown as is
    }

    /// <summary>Parses like <see cref="Parse"/>, without throwing.</summary>
    public static bool TryParse(string? text, out ComputeDevice device)
    {
        device = Auto;
        string s = (text ?? "").Trim().ToLowerInvariant();
        switch (s)
        {
            case "auto": device = Auto; return true;
            case "cpu": device = Cpu; return true;
            case "cuda": device = Cuda(); return true;
        }
        if (s.StartsWith("cuda:", StringComparison.Ordinal) && s.Length > 5 && s[5..].All(char.IsAsciiDigit)
            && int.TryParse(s[5..], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            device = Cuda(index);
            return true;
        }
        return false;
    }

    /// <summary>The TorchSharp device of a resolved device.</summary>
    /// <exception cref="InvalidOperationException">Not resolved (<c>auto</c> or a bare <c>cuda</c>): use <see cref="TorchRuntime.SelectDevice"/>.</exception>
    public torch.Device ToTorch() => Kind switch
    {
        DeviceKind.Cpu => new torch.Device(DeviceType.CPU),
        DeviceKind.Cuda when Index is { } i => new torch.Device(DeviceType.CUDA, i),
        _ => throw new InvalidOperationException($"'{this}' names no single device yet: resolve it with TorchRuntime.SelectDevice"),
    };

    /// <summary>The device of a TorchSharp tensor or module (<c>cuda</c> without an index counts as <c>cuda:0</c>).</summary>
    public static ComputeDevice Of(torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.type switch
        {
            DeviceType.CPU => Cpu,
            DeviceType.CUDA => Cuda(Math.Max(device.index, 0)),
            _ => throw new NotSupportedException($"device type {device.type} is not supported (cpu or cuda)"),
        };
    }

    /// <summary><c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>: the form <see cref="Parse"/> reads.</summary>
    public override string ToString() => Kind switch
    {
        DeviceKind.Auto => "auto",
        DeviceKind.Cpu => "cpu",
        _ => Index is { } i ? string.Create(CultureInfo.InvariantCulture, $"cuda:{i}") : "cuda",
    };
}

/// <summary>
/// <c>cuda</c> was asked for and cannot be had: no CUDA libtorch was found, none can be loaded into this process, or
/// no GPU is visible. The message is one line: what was tried and how to fix it (a data/environment error: the
/// CLI exits 1).
/// </summary>
public sealed class CudaUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CudaUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public CudaUnavailableException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public CudaUnavailableException() : base("CUDA is not available") { }
}
