using System.Runtime.InteropServices;
using TorchSharp;

namespace Cadence;

public static partial class TorchRuntime
{
    /// <summary>The libtorch release TorchSharp 0.107 is built against (keep in step with Directory.Packages.props).</summary>
    public const string LibTorchVersion = "2.10.0";

    /// <summary>Environment variable naming a folder that holds libtorch's shared libraries (<c>libtorch_cpu.so</c> …).</summary>
    public const string LibTorchVariable = "CADENCE_LIBTORCH";

    private static bool _libTorchLoaded;

    /// <summary>
    /// Makes sure libtorch can be loaded before TorchSharp's first call. An application that references a libtorch
    /// package (as every project built from source here does) has it beside itself and nothing happens. The
    /// <c>cadence</c> .NET tool ships without libtorch (480 MB), so it is looked for in
    /// <see cref="LibTorchVariable"/>, then in the NuGet package folder (<c>$NUGET_PACKAGES</c> or
    /// <c>~/.nuget/packages</c>) where restoring any project that references <c>libtorch-cpu-linux-x64</c> puts it.
    /// </summary>
    /// <returns>The folder libtorch was loaded from, or null when it loads from the application's own folder.</returns>
    /// <exception cref="DllNotFoundException">libtorch was found nowhere; the message lists the places tried and how to get it.</exception>
    public static string? EnsureLibTorch()
    {
        if (_libTorchLoaded) return null;
        // Only the application's own copy counts: loading "torch_cpu" by name could find another libtorch on the
        // system (Debian's python3-torch installs 1.13 in /usr/lib), which TorchSharp 0.107 cannot use.
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64 || AppCarriesLibTorch())
        {
            _libTorchLoaded = true;   // elsewhere TorchSharp's own loader reports what is missing
            return null;
        }
        var tried = new List<string>();
        foreach (var dir in LibTorchCandidates())
        {
            tried.Add(dir);
            string cpu = Path.Combine(dir, "libtorch_cpu.so");
            if (!File.Exists(cpu)) continue;
            // Loading by full path registers the sonames libLibTorchSharp.so asks for; libtorch_cpu.so finds its own
            // dependencies (libgomp) through its $ORIGIN run path.
            foreach (var lib in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
                NativeLibrary.Load(Path.Combine(dir, lib));
            _libTorchLoaded = true;
            return dir;
        }
        throw new DllNotFoundException(
            $"libtorch {LibTorchVersion} (CPU) was not found; looked in: {string.Join(", ", tried)}. The cadence tool does not ship " +
            $"libtorch's 480 MB: set {LibTorchVariable} to a folder holding libtorch_cpu.so {LibTorchVersion}, or put it in the NuGet " +
            $"cache once with 'dotnet new console -o /tmp/lt && dotnet add /tmp/lt package libtorch-cpu-linux-x64 --version {LibTorchVersion}'");
    }

    private static bool AppCarriesLibTorch()
    {
        string? torchDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        string[] dirs = [AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), torchDir ?? ""];
        return dirs.Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "libtorch_cpu.so")));
    }

    private static IEnumerable<string> LibTorchCandidates()
    {
        if (Environment.GetEnvironmentVariable(LibTorchVariable) is { Length: > 0 } explicitDir) yield return explicitDir;
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } nugetPackages) roots.Add(nugetPackages);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) roots.Add(Path.Combine(home, ".nuget", "packages"));
        foreach (var root in roots.Distinct())
            yield return Path.Combine(root, "libtorch-cpu-linux-x64", LibTorchVersion, "runtimes", "linux-x64", "native");
    }
}
