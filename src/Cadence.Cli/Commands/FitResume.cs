using System.Text.Json;
using Cadence.Checkpoints;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence fit --resume DIR</c>: the checkpoint stores the command line that started the run; the run continues
/// with it, plus the options that do not change what is computed. Any other option must repeat the saved one.
/// </summary>
internal static class FitResume
{
    /// <summary>Options a resumed run may add or change: they do not change what is computed (--threads only its rounding).</summary>
    private static readonly string[] MayChange = ["--threads", "--json", "--checkpoint-every", "--keep", "--tensorboard", "--report", "--plots", "--plot-format",
        "--no-cache", "--cache-dir", "--export"];

    /// <summary>Options whose value is a path: stored absolute, so a run resumes from any folder.</summary>
    private static readonly string[] Paths = ["--out", "--valid", "--weights", "--cache-dir", "--export"];

    private sealed record Saved(string[] Args, int Threads);

    /// <summary>What a checkpoint stores to rerun this command: its arguments (paths made absolute) and the thread count.</summary>
    public static string Configuration(IReadOnlyList<string> args, int threads)
    {
        var saved = new List<string>();
        for (int i = 1; i < args.Count; i++)   // args[0] is "fit"
        {
            saved.Add(args[i]);
            if (Paths.Contains(args[i]) && i + 1 < args.Count) saved.Add(Path.GetFullPath(args[++i]));
            else if (args[i] == "--data" && i + 1 < args.Count && DataSource.Parse(args[i + 1]) is { Path: { } path } source)
            {
                saved.Add(source.Kind);   // the two words of one release ago, which older checkpoints hold too
                saved.Add(Path.GetFullPath(path));
                i++;
            }
        }
        return JsonSerializer.Serialize(new Saved([.. saved], threads), new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
    }

    /// <summary>Checks <paramref name="args"/> against the checkpoint in <paramref name="resume"/> and reruns its command line from it.</summary>
    public static int Rerun(string resume, IReadOnlyList<string> args, Io io, CancellationToken ct)
    {
        string path = Checkpoint.Locate(resume);
        var info = Checkpoint.ReadInfo(path);
        if (info.Configuration is null) throw new UsageException("--resume", $"{path} has no cadence fit configuration (it was written by a program, not by cadence fit)");
        var saved = JsonSerializer.Deserialize<Saved>(info.Configuration, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!;
        string parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string runDir = Path.GetFileName(parent) == Checkpoint.DirectoryName ? Path.GetDirectoryName(parent)! : parent;
        var savedGroups = Groups(DataSource.JoinPaths(saved.Args));
        var extra = new List<string> { "--threads", saved.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var conflicts = new List<string>();
        foreach (var g in Groups(args.Skip(1)).Where(g => g[0] != "--resume"))
        {
            if (MayChange.Contains(g[0])) extra.AddRange(g);
            else if (g[0] == "--out")
            {
                if (g.Length != 2 || Path.GetFullPath(g[1]).TrimEnd('/') != runDir.TrimEnd('/'))
                    conflicts.Add($"{string.Join(' ', g)}: a resumed run writes into the directory it resumes ({runDir})");
            }
            else if (savedGroups.LastOrDefault(x => x[0] == g[0]) is var was && (was is null || !was.SequenceEqual(g)))
                conflicts.Add($"{string.Join(' ', g)}: the checkpoint's run used {(was is null ? "the default" : string.Join(' ', was))}");
        }
        if (conflicts.Count > 0)
            throw new UsageException("--resume", $"{string.Join("; ", conflicts)}; a resumed run keeps the configuration it started with (drop the option, or start a new run)");
        return Program.Run(["fit", .. saved.Args, .. extra, "--out", runDir, "--resume-checkpoint", path], io.Out, io.Err, ct);
    }

    /// <summary>The arguments as groups: an option and the values after it.</summary>
    private static List<string[]> Groups(IEnumerable<string> args)
    {
        var groups = new List<List<string>>();
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2 || groups.Count == 0) groups.Add([a]);
            else groups[^1].Add(a);
        }
        return [.. groups.Select(g => g.ToArray())];
    }
}
