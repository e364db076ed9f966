using System.Globalization;
using System.Text.Json;
using Cadence.Checkpoints;

namespace Cadence.Cli.Commands;

/// <summary><c>cadence fit --resume DIR</c>: the configuration comes from the checkpoint; conflicting options are refused.</summary>
internal static partial class FitCommand
{
    /// <summary>Options a resumed run may add or change: they do not change what is computed (--threads only its rounding).</summary>
    private static readonly string[] ResumeOptions = ["--threads", "--json", "--checkpoint-every", "--keep", "--tensorboard", "--report", "--plots"];

    private static string SnapshotName(string option, string name)
    {
        if (name.Length == 0 || name.Length > 100 || name.StartsWith('.') || name.StartsWith("ckpt-", StringComparison.Ordinal)
            || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new UsageException($"{option}: expected a name of letters, digits, '-', '_' and '.' (not starting with '.' or 'ckpt-'), got '{name}'");
        return name;
    }

    /// <summary>What a checkpoint stores to rerun this command: its arguments (paths made absolute) and the thread count.</summary>
    private static string ConfigurationOf(string[] args, Options o)
    {
        var saved = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            saved.Add(args[i]);
            if (args[i] == "--out" && i + 1 < args.Length) saved.Add(Path.GetFullPath(args[++i]));
            else if (args[i] == "--data" && i + 2 < args.Length && args[i + 1] is "csv" or "idx") { saved.Add(args[++i]); saved.Add(Path.GetFullPath(args[++i])); }
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartArray("args");
            foreach (var a in saved) w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteNumber("threads", o.Training.Threads);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
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
        return groups.Select(g => g.ToArray()).ToList();
    }

    /// <summary>The options that decide what is computed, as text (two runs with equal keys compute the same thing).</summary>
    private static string TrainingKey(Options o) =>
        JsonSerializer.Serialize(o with
        {
            Training = o.Training with { Threads = 0 },
            Json = false,
            Out = null,
            CheckpointEvery = null,
            Keep = 0,
            TensorBoard = null,
            Report = null,
            Plots = null,
        });

    /// <summary>
    /// Whether adding option group <paramref name="g"/> to the saved arguments computes the same run. A policy option
    /// the saved run already gave counts as a change when its value differs (the policy parser refuses repeats).
    /// </summary>
    private static bool SameTraining(string[] saved, string[] g, Options baseline)
    {
        try { return TrainingKey(Parse([.. saved, .. g])) == TrainingKey(baseline); }
        catch (UsageException)
        {
            var previous = Groups(saved).LastOrDefault(s => s[0] == g[0]);
            return previous is not null && previous.SequenceEqual(g);
        }
    }

    /// <summary><c>cadence fit --resume DIR [--threads N] [--json] [--checkpoint-every N] [--keep K] …</c>.</summary>
    private static int Resume(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct) => Guarded(() =>
    {
        var groups = Groups(args);
        var resume = groups.Where(g => g[0] == "--resume").ToArray();
        if (resume.Length != 1 || resume[0].Length != 2) throw new UsageException("--resume: expected one directory (--resume DIR)");
        string path = Checkpoint.Locate(resume[0][1]);
        var info = Checkpoint.ReadInfo(path);
        if (info.Configuration is null) throw new UsageException($"--resume: {path} has no cadence fit configuration (it was written by a program, not by cadence fit)");
        string[] saved;
        int threads;
        using (var doc = JsonDocument.Parse(info.Configuration))
        {
            saved = doc.RootElement.GetProperty("args").EnumerateArray().Select(a => a.GetString()!).ToArray();
            threads = doc.RootElement.GetProperty("threads").GetInt32();
        }
        string parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string runDir = Path.GetFileName(parent) == Checkpoint.DirectoryName ? Path.GetDirectoryName(parent)! : parent;
        var baseline = Parse(saved);
        var extra = new List<string> { "--threads", threads.ToString(CultureInfo.InvariantCulture) };
        var conflicts = new List<string>();
        var savedGroups = Groups(saved);
        foreach (var g in groups.Where(g => g[0] != "--resume"))
        {
            if (ResumeOptions.Contains(g[0])) { extra.AddRange(g); continue; }
            if (g[0] == "--out")
            {
                if (g.Length != 2 || Path.GetFullPath(g[1]).TrimEnd('/') != runDir.TrimEnd('/'))
                    conflicts.Add($"{string.Join(' ', g)}: a resumed run writes into the directory it resumes ({runDir})");
                continue;
            }
            if (!SameTraining(saved, g, baseline))
            {
                var was = savedGroups.LastOrDefault(s => s[0] == g[0]);
                conflicts.Add($"{string.Join(' ', g)}: the checkpoint's run used {(was is null ? "the default" : string.Join(' ', was))}");
            }
        }
        if (conflicts.Count > 0)
            throw new UsageException($"--resume: {string.Join("; ", conflicts)}; a resumed run keeps the configuration it started with (drop the option, or start a new run)");
        var o = Parse([.. saved, .. extra]);
        o.Out = runDir;
        var p = info.Position;
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cadence fit: resuming {path} at iteration {p.Iteration} (epoch {p.Epoch + 1}, {(p.EpochEnded ? "ended" : $"{p.BatchesDone} batches done")})"));
        return Train(o, info.Configuration, path, stdout, stderr, ct);
    }, stderr);
}
