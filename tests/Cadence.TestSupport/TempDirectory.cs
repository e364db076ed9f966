namespace Cadence.TestSupport;

/// <summary>A fresh folder under the system's temporary folder, removed (with everything in it) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the folder; <paramref name="prefix"/> names it for whoever finds a leftover one.</summary>
    public TempDirectory(string prefix = "cadence-test") => Path = Directory.CreateTempSubdirectory(prefix + "-").FullName;

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>A path inside the folder (nothing is created).</summary>
    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Writes <paramref name="text"/> to a file inside the folder and returns its path.</summary>
    public string Write(string relative, string text)
    {
        string file = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
        File.WriteAllText(file, text);
        return file;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            // A test may leave a read-only folder behind (the unwritable-output tests): make it removable first.
            if (!OperatingSystem.IsWindows())
                foreach (var d in Directory.EnumerateDirectories(Path, "*", SearchOption.AllDirectories))
                    File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <inheritdoc />
    public override string ToString() => Path;
}
