namespace Cadence.TestSupport;

/// <summary>Where the repository is, for tests that read its docs, reference traces or scripts.</summary>
public static class Repo
{
    /// <summary>The folder holding <c>Cadence.sln</c>, found upwards from the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path relative to the repository root.</summary>
    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !System.IO.File.Exists(Path.Combine(dir.FullName, "Cadence.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException($"Cadence.sln not found above {AppContext.BaseDirectory}");
    }
}
