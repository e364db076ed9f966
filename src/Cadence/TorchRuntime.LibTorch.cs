using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TorchSharp;

namespace Cadence;

/// <summary>The libtorch this process runs on.</summary>
/// <param name="Folder">Where its shared libraries are.</param>
/// <param name="Version">Its version (e.g. <c>2.11.0+cu130</c>), or null when unknown.</param>
/// <param name="Cuda">Whether it is a CUDA build (has <c>libtorch_cuda.so</c>).</param>
/// <param name="Source">Where it was found: <c>application</c> (beside the app), <c>CADENCE_LIBTORCH</c>, <c>python3</c> or <c>NuGet cache</c>.</param>
public sealed record LibTorchInfo(string Folder, string? Version, bool Cuda, string Source)
{
    /// <summary>One line for a header: <c>libtorch 2.11.0+cu130 (CUDA) at /…/torch/lib, from python3</c>.</summary>
    public string Describe() =>
        $"libtorch {Version ?? "(version unknown)"} ({(Cuda ? "CUDA" : "CPU")}) at {Folder}, from {Source}";
}

/// <summary>A place a CUDA libtorch was looked for, and whether it can be used.</summary>
/// <param name="Source"><c>CADENCE_LIBTORCH</c>, <c>python3</c> or <c>NuGet cache</c>.</param>
/// <param name="Folder">The folder looked at (null when the source gave none, e.g. python3 without torch).</param>
/// <param name="Version">The libtorch version found there, when known.</param>
/// <param name="Usable">Whether this candidate can be loaded.</param>
/// <param name="Reason">Why it can or cannot be used, in words.</param>
public sealed record LibTorchCandidate(string Source, string? Folder, string? Version, bool Usable, string Reason)
{
    /// <summary><c>source (folder): reason</c>.</summary>
    public override string ToString() => Folder is null ? $"{Source}: {Reason}" : $"{Source} ({Folder}): {Reason}";
}

/// <summary>Where <see cref="TorchRuntime.FindCudaLibTorch"/> looks; <see cref="FromEnvironment"/> is the real one, tests build their own.</summary>
public sealed record LibTorchSearch
{
    /// <summary>The value of <c>CADENCE_LIBTORCH</c> (null or empty: unset).</summary>
    public string? EnvironmentFolder { get; init; }

    /// <summary>Finds the <c>torch</c> package folder of a Python installation: (folder or null, what happened). Null: skip this step.</summary>
    public Func<(string? TorchPackage, string Note)>? Python { get; init; }

    /// <summary>NuGet package folders to search for <c>libtorch-cuda-*</c> packages.</summary>
    public IReadOnlyList<string> NuGetRoots { get; init; } = [];

    /// <summary>The search of this process: <c>$CADENCE_LIBTORCH</c>, <c>python3</c> on the PATH, <c>$NUGET_PACKAGES</c> and <c>~/.nuget/packages</c>.</summary>
    public static LibTorchSearch FromEnvironment() => new()
    {
        EnvironmentFolder = Environment.GetEnvironmentVariable(TorchRuntime.LibTorchVariable),
        Python = () => TorchRuntime.FindPythonTorch("python3"),
        NuGetRoots = TorchRuntime.NuGetRoots(),
    };
}

public static partial class TorchRuntime
{
    /// <summary>The libtorch release TorchSharp 0.107 is built against (keep in step with Directory.Packages.props).</summary>
    public const string LibTorchVersion = "2.10.0";

    /// <summary>
    /// Environment variable naming a folder that holds libtorch's shared libraries: a CUDA build (with
    /// <c>libtorch_cuda.so</c>, e.g. a PyTorch installation's <c>torch/lib</c>) or the CPU build (<c>libtorch_cpu.so</c>).
    /// </summary>
    public const string LibTorchVariable = "CADENCE_LIBTORCH";

    // The libraries of a CUDA libtorch, in the order they must be loaded (each needs the ones before it).
    private static readonly string[] CudaLibraries = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];
    private static readonly string[] CpuLibraries = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    private static readonly Lock LoadLock = new();
    private static LibTorchInfo? _libTorch;
    private static IReadOnlyList<LibTorchCandidate> _cudaCandidates = [];
    private static string? _noCudaReason;

    /// <summary>The libtorch this process loaded (null before <see cref="Configure"/>, <see cref="EnsureLibTorch"/> or <see cref="SelectDevice"/>).</summary>
    public static LibTorchInfo? LibTorch => _libTorch;

    /// <summary>
    /// Makes sure libtorch can be loaded before TorchSharp's first call, for the CPU only: the application's own copy
    /// when it carries one (every project built from source here does), else <see cref="LibTorchVariable"/>, else the
    /// NuGet cache (<c>libtorch-cpu-linux-x64</c>, where restoring any project here puts it). The <c>cadence</c> tool
    /// ships without libtorch (480 MB). For a GPU use <see cref="Configure"/> or <see cref="SelectDevice"/>.
    /// </summary>
    /// <returns>The folder libtorch was loaded from, or null when it loads from the application's own folder.</returns>
    /// <exception cref="DllNotFoundException">libtorch was found nowhere; the message lists the places tried and how to get it.</exception>
    public static string? EnsureLibTorch()
    {
        var info = LoadLibTorch(ComputeDevice.Cpu);
        return info.Source == ApplicationSource ? null : info.Folder;
    }

    /// <summary>
    /// Loads the libtorch that <paramref name="device"/> needs, once per process (later calls return what the first
    /// loaded). <c>cpu</c>: as <see cref="EnsureLibTorch"/>. <c>auto</c>, <c>cuda</c>, <c>cuda:N</c>: when the
    /// application carries no libtorch, a CUDA libtorch from the first usable place of <see cref="FindCudaLibTorch"/>
    /// (<c>CADENCE_LIBTORCH</c>, then <c>python3</c>'s PyTorch, then the NuGet cache), loaded by full path before
    /// TorchSharp's first call; <c>auto</c> falls back to the CPU libtorch when there is none. Only one libtorch is
    /// ever loaded: an application that carries the CPU libtorch beside itself stays on it.
    /// </summary>
    /// <exception cref="DllNotFoundException">No libtorch at all (see <see cref="EnsureLibTorch"/>).</exception>
    /// <exception cref="CudaUnavailableException"><c>cuda</c> was asked for and no CUDA libtorch can be loaded.</exception>
    public static LibTorchInfo LoadLibTorch(ComputeDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (LoadLock)
        {
            _libTorch ??= Load(device);
            if (device.IsCuda && !_libTorch.Cuda) throw NoCuda(device);
            return _libTorch;
        }
    }

    private const string ApplicationSource = "application";

    private static LibTorchInfo Load(ComputeDevice device)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return new LibTorchInfo(AppContext.BaseDirectory, LibTorchVersion, false, ApplicationSource);   // TorchSharp's own loader reports what is missing
        if (AppLibTorchFolder() is { } appFolder)
        {
            bool cuda = File.Exists(Path.Combine(appFolder, "libtorch_cuda.so"));
            if (!cuda)
                _noCudaReason = $"this application carries the CPU libtorch ({Path.Combine(appFolder, "libtorch_cpu.so")}), and a CUDA libtorch " +
                    "cannot be loaded beside it (two libtorch copies in one process): run a build without the CPU natives, i.e. the cadence tool " +
                    $"or the publish of scripts/gpu-prep.sh, with {LibTorchVariable} set to a CUDA libtorch";
            return new LibTorchInfo(appFolder, LibTorchVersion, cuda, ApplicationSource);
        }
        if (device.Kind != DeviceKind.Cpu)
        {
            _cudaCandidates = FindCudaLibTorch(LibTorchSearch.FromEnvironment());
            if (_cudaCandidates.FirstOrDefault(c => c.Usable) is { } found)
            {
                LoadByPath(found.Folder!, CudaLibraries, found);
                return new LibTorchInfo(found.Folder!, found.Version, true, found.Source);
            }
            _noCudaReason = "no CUDA libtorch was found: tried " + string.Join("; ", _cudaCandidates) +
                $"; set {LibTorchVariable} to the torch/lib folder of a CUDA PyTorch (python3 -c 'import torch, os; print(os.path.dirname(torch.__file__) + \"/lib\")')";
            if (device.IsCuda) throw NoCuda(device);
        }
        return LoadCpu();
    }

    private static LibTorchInfo LoadCpu()
    {
        var tried = new List<string>();
        foreach (var (dir, source) in CpuCandidates())
        {
            tried.Add(dir);
            if (!File.Exists(Path.Combine(dir, "libtorch_cpu.so"))) continue;
            // Loading by full path registers the sonames libLibTorchSharp.so asks for; libtorch_cpu.so finds its own
            // dependencies (libgomp) through its $ORIGIN run path.
            LoadByPath(dir, CpuLibraries, null);
            return new LibTorchInfo(dir, ReadVersion(dir) ?? LibTorchVersion, File.Exists(Path.Combine(dir, "libtorch_cuda.so")), source);
        }
        throw new DllNotFoundException(
            $"libtorch {LibTorchVersion} (CPU) was not found; looked in: {string.Join(", ", tried)}. The cadence tool does not ship " +
            $"libtorch's 480 MB: set {LibTorchVariable} to a folder holding libtorch_cpu.so {LibTorchVersion}, or put it in the NuGet " +
            $"cache once with 'dotnet new console -o /tmp/lt && dotnet add /tmp/lt package libtorch-cpu-linux-x64 --version {LibTorchVersion}'");
    }

    private static void LoadByPath(string dir, string[] libraries, LibTorchCandidate? cuda)
    {
        foreach (var lib in libraries)
        {
            string path = Path.Combine(dir, lib);
            if (lib == "libtorch.so" && !File.Exists(path)) continue;   // some CPU layouts fold it into libtorch_cpu.so
            try
            {
                NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e) when (cuda is not null)
            {
                throw new CudaUnavailableException(
                    $"loading the CUDA libtorch of {cuda.Source} failed at {path}: {FirstLine(e.Message)}; put the folders of its CUDA " +
                    $"libraries (libcudart, libcublas, libcudnn) on LD_LIBRARY_PATH, point {LibTorchVariable} at another libtorch, or use --device cpu", e);
            }
        }
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();

    internal static CudaUnavailableException NoCuda(ComputeDevice device) => new(
        $"{device} asked for, but {_noCudaReason ?? $"the CPU libtorch is already loaded ({_libTorch?.Folder})"}; or use --device cpu");

    /// <summary>
    /// The places a CUDA libtorch is looked for, in order, each with whether it can be used and why: the folder in
    /// <c>CADENCE_LIBTORCH</c> (if it holds <c>libtorch_cuda.so</c>), the <c>torch/lib</c> of the PyTorch that
    /// <c>python3</c> imports (a CPU-only build, such as Debian's python3-torch, has no <c>libtorch_cuda.so</c> and is
    /// not used), then <c>libtorch-cuda-*</c> packages in the NuGet cache. A libtorch older than
    /// <see cref="LibTorchVersion"/> is refused: TorchSharp 0.107's native layer needs its symbols.
    /// </summary>
    public static IReadOnlyList<LibTorchCandidate> FindCudaLibTorch(LibTorchSearch search)
    {
        ArgumentNullException.ThrowIfNull(search);
        var found = new List<LibTorchCandidate>();
        if (search.EnvironmentFolder is { Length: > 0 } env) found.Add(Judge(LibTorchVariable, env));
        else found.Add(new LibTorchCandidate(LibTorchVariable, null, null, false, "not set"));
        if (search.Python is { } python)
        {
            var (package, note) = python();
            found.Add(package is null
                ? new LibTorchCandidate("python3", null, null, false, note)
                : Judge("python3", Path.Combine(package, "lib")));
        }
        bool anyNuGet = false;
        foreach (var root in search.NuGetRoots.Distinct())
        {
            if (!Directory.Exists(root)) continue;
            foreach (var package in Directory.EnumerateDirectories(root, "libtorch-cuda-*").Order(StringComparer.Ordinal))
                foreach (var version in Directory.EnumerateDirectories(package).Order(StringComparer.Ordinal))
                {
                    string native = Path.Combine(version, "runtimes", "linux-x64", "native");
                    if (!File.Exists(Path.Combine(native, "libtorch_cuda.so"))) continue;
                    anyNuGet = true;
                    found.Add(Judge("NuGet cache", native, Path.GetFileName(version)));
                }
        }
        if (!anyNuGet)
            found.Add(new LibTorchCandidate("NuGet cache", null, null, false,
                $"no libtorch-cuda-* package with libtorch_cuda.so in {(search.NuGetRoots.Count == 0 ? "(no NuGet folder)" : string.Join(", ", search.NuGetRoots.Distinct()))}"));
        return found;
    }

    private static LibTorchCandidate Judge(string source, string folder, string? version = null)
    {
        if (!Directory.Exists(folder)) return new LibTorchCandidate(source, folder, null, false, "no such folder");
        version ??= ReadVersion(folder);
        if (!File.Exists(Path.Combine(folder, "libtorch_cuda.so")))
            return new LibTorchCandidate(source, folder, version, false,
                File.Exists(Path.Combine(folder, "libtorch_cpu.so")) ? "a CPU-only libtorch (no libtorch_cuda.so)" : "no libtorch_cuda.so");
        var missing = CudaLibraries.Where(l => !File.Exists(Path.Combine(folder, l))).ToArray();
        if (missing.Length > 0) return new LibTorchCandidate(source, folder, version, false, $"incomplete: {string.Join(", ", missing)} missing");
        if (version is not null && ParseMajorMinor(version) is { } v && v < ParseMajorMinor(LibTorchVersion))
            return new LibTorchCandidate(source, folder, version, false,
                $"libtorch {version} is older than {LibTorchVersion}, which TorchSharp {TorchSharpVersion} is built for");
        return new LibTorchCandidate(source, folder, version, true, version is null ? "libtorch_cuda.so found (version unknown)" : $"CUDA libtorch {version}");
    }

    private const string TorchSharpVersion = "0.107";

    private static Version? ParseMajorMinor(string version) =>
        VersionPrefix().Match(version) is { Success: true } m
            ? new Version(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))
            : null;

    [GeneratedRegex(@"^(\d+)\.(\d+)")]
    private static partial Regex VersionPrefix();

    [GeneratedRegex(@"^__version__\s*=\s*['""]([^'""]+)['""]", RegexOptions.Multiline)]
    private static partial Regex PythonVersionLine();

    /// <summary>
    /// The version of the libtorch in <paramref name="folder"/>, when it says: a PyTorch installation's
    /// <c>torch/version.py</c> beside <c>torch/lib</c>, or a libtorch archive's <c>build-version</c> one level up.
    /// </summary>
    internal static string? ReadVersion(string folder)
    {
        string parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(folder)) ?? folder;
        string versionPy = Path.Combine(parent, "version.py");
        if (File.Exists(versionPy) && PythonVersionLine().Match(File.ReadAllText(versionPy)) is { Success: true } m) return m.Groups[1].Value;
        string buildVersion = Path.Combine(parent, "build-version");
        return File.Exists(buildVersion) ? File.ReadAllText(buildVersion).Trim() : null;
    }

    /// <summary>
    /// The <c>torch</c> package folder of the Python that <paramref name="python"/> runs, found without importing torch
    /// (<c>importlib.util.find_spec</c>, a fraction of a second), or null with the reason.
    /// </summary>
    public static (string? TorchPackage, string Note) FindPythonTorch(string python)
    {
        ArgumentNullException.ThrowIfNull(python);
        const string Script = "import importlib.util as u, os; s = u.find_spec('torch'); print(os.path.dirname(s.origin) if s and s.origin else '')";
        try
        {
            var psi = new ProcessStartInfo(python, ["-c", Script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd().Trim();
            if (!p.WaitForExit(30_000))
            {
                p.Kill(entireProcessTree: true);
                return (null, $"{python} did not answer within 30 s");
            }
            if (p.ExitCode != 0) return (null, $"{python} failed: {FirstLine(stderr.Result)}");
            return output.Length == 0 ? (null, $"{python} has no torch package") : (output, "torch found");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, $"{python} not found ({e.Message})");
        }
    }

    /// <summary><c>$NUGET_PACKAGES</c> and <c>~/.nuget/packages</c>.</summary>
    internal static IReadOnlyList<string> NuGetRoots()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } nugetPackages) roots.Add(nugetPackages);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) roots.Add(Path.Combine(home, ".nuget", "packages"));
        return roots.Distinct().ToArray();
    }

    /// <summary>The folder beside the application that holds libtorch (<c>libtorch_cpu.so</c>), or null when it carries none.</summary>
    private static string? AppLibTorchFolder()
    {
        string? torchDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        string[] dirs = [AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), torchDir ?? ""];
        return dirs.Where(d => d.Length > 0 && File.Exists(Path.Combine(d, "libtorch_cpu.so"))).Select(Path.TrimEndingDirectorySeparator).FirstOrDefault();
    }

    private static IEnumerable<(string Folder, string Source)> CpuCandidates()
    {
        if (Environment.GetEnvironmentVariable(LibTorchVariable) is { Length: > 0 } explicitDir) yield return (explicitDir, LibTorchVariable);
        foreach (var root in NuGetRoots())
            yield return (Path.Combine(root, "libtorch-cpu-linux-x64", LibTorchVersion, "runtimes", "linux-x64", "native"), "NuGet cache");
    }
}
