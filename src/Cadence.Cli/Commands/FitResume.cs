using System.Text.Json;
using Cadence.Checkpoints;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence fit --resume DIR</c>: the checkpoint stores the command line that started the run; the run continues
/// with it, plus the options that do not change what is computed. Any other option must repeat the saved one.
/// </summary>
internal static class FitResume
{
    /// <summary>
    /// Options a resumed run may add or change: they do not change what is computed (--threads only its rounding; --device
    /// and --deterministic where it runs, so that a GPU run can be finished on the CPU; the saved ones apply when not given).
    /// </summary>
    private static readonly string[] MayChange = ["--threads", "--json", "--checkpoint-every", "--keep", "--tensorboard", "--report", "--plots", "--plot-format",
        "--no-cache", "--cache-dir", "--export", "--device", "--deterministic"];

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

    /// <summary>
    /// Opens the run in <paramref name="resume"/> (taking its lock before any checkpoint is read), shows it again when it
    /// is complete, else checks <paramref name="args"/> against its newest checkpoint that verifies (reporting newer ones
    /// that do not) and reruns the saved command line from that checkpoint, holding the run open throughout.
    /// </summary>
    public static int Rerun(string resume, IReadOnlyList<string> args, Io io, CancellationToken ct)
    {
        using var run = RunDirectory.Open(resume, RunMode.Resume, "--resume");
        if (run.Completed is { } done)
        {
            // Options are still checked against the run's configuration, when a checkpoint of it verifies.
            CheckpointInfo? last = null;
            try { last = RunDirectory.FindNewestGood(run.FullPath).Checkpoint; }
            catch (CheckpointException) { }
            if (last?.Configuration is { } configuration) Conflicts(Read(configuration), args, run.FullPath);
            return ShowCompleted(run, done, args.Contains("--json"), io);
        }
        var from = run.ResumeFrom!;
        foreach (var skipped in from.Skipped) io.Err.WriteLine($"cadence fit: {skipped.Message}");
        var info = from.Checkpoint;
        if (info.Configuration is null) throw new UsageException("--resume", $"{info.Path} has no cadence fit configuration (it was written by a program, not by cadence fit)");
        var saved = Read(info.Configuration);
        var extra = Conflicts(saved, args, run.FullPath);
        var p = info.Position;
        io.Err.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"cadence fit: resuming {info.Path} at iteration {p.Iteration} (epoch {p.Epoch + 1}, {(p.EpochEnded ? "ended" : $"{p.BatchesDone} batches done")})"));
        return Program.Run(["fit", .. saved.Args, .. extra, "--out", run.FullPath], io with { ResumedRun = run }, ct);
    }

    private static Saved Read(string configuration) =>
        JsonSerializer.Deserialize<Saved>(configuration, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase })!;

    /// <summary>The options to add to the saved command line (those that may change); a usage error naming every option that would change the run.</summary>
    private static List<string> Conflicts(Saved saved, IReadOnlyList<string> args, string runDir)
    {
        var savedGroups = Groups(DataSource.JoinPaths(saved.Args));
        var extra = new List<string> { "--threads", saved.Threads.ToString(CultureInfo.InvariantCulture) };
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
        return extra;
    }

    /// <summary>
    /// A finished run: "RUN is complete (N epochs)", then what the run printed at its end — its epoch table and the chart
    /// of the lr it used, or with --json its JSON line; nothing is trained or written.
    /// </summary>
    private static int ShowCompleted(RunDirectory run, RunCompletion done, bool json, Io io)
    {
        io.Err.WriteLine($"cadence fit: {run.CompletedMessage}");
        var table = json ? io.Err : io.Out;
        table.WriteLine(EpochTable.Header(done.MetricNames));
        foreach (var e in done.Epochs) table.WriteLine(EpochTable.Row(e));
        if (json)
        {
            if (done.Summary is { } summary) io.Out.WriteLine(summary);
        }
        else if (done.Steps.Count > 0)
        {
            io.Out.WriteLine();
            io.Out.Write(TerminalChart.Render(done.Steps.Select(x => x.Lr[^1]).ToArray(), "lr", TerminalChart.UnicodeAllowed(io.Out)));
        }
        return ExitCodes.Ok;
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
