using System.Diagnostics;
using Xunit;

namespace Cadence.TestSupport;

/// <summary>
/// Makes a folder (and everything in it) unwritable for the test's lifetime: <c>chmod a-w</c>, and for root, who
/// ignores permissions, the immutable attribute (<c>chattr -R +i</c>). Skips the test where neither makes the folder
/// refuse a new file (not Linux, or root without <c>CAP_LINUX_IMMUTABLE</c> or on a file system without the attribute).
/// Dispose puts everything back.
/// </summary>
public sealed class ReadOnlyDirectory : IDisposable
{
    private readonly bool _immutable;

    /// <summary>Makes <paramref name="path"/> read-only, or skips the test.</summary>
    public ReadOnlyDirectory(string path)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "read-only folders are made with chmod/chattr (Linux)");
        Path = path;
        SetWritable(false);
        if (Writable())
        {
            _immutable = Chattr("-R", "+i", path);
            if (!_immutable || Writable())
            {
                Dispose();
                Skip.If(true, $"cannot make {path} read-only here (running as root without chattr +i)");
            }
        }
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>Whether a new file can be created in the folder (and is removed again).</summary>
    public bool Writable()
    {
        string probe = System.IO.Path.Combine(Path, ".probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_immutable) Chattr("-R", "-i", Path);
        SetWritable(true);
    }

    private void SetWritable(bool writable)
    {
        if (OperatingSystem.IsWindows()) return;
        var all = Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories).Prepend(Path);
        foreach (var entry in all)
        {
            var mode = File.GetUnixFileMode(entry);
            const UnixFileMode write = UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
            File.SetUnixFileMode(entry, writable ? mode | UnixFileMode.UserWrite : mode & ~write);
        }
    }

    private static bool Chattr(params string[] args)
    {
        try
        {
            var info = new ProcessStartInfo("chattr", args) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(info)!;
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
