using Cadence.Cli.Experiments;

namespace Cadence.Cli.Commands;

internal sealed class MergeSettings : OutputSettings, ICheckedSettings
{
    [CommandArgument(0, "[SHARD_DIR]"), Description("The shards' folders (default: every shard-K-of-N folder in --out)")]
    public string[] ShardDirs { get; set; } = [];

    [CommandOption("--out <DIR>"), Output(OutputKind.Folder, "Write the merged results there, as the unsharded experiment would, and the charts unless --plots says where")]
    public string? Out { get; set; }

    public void Check(Check check)
    {
        if (Out is null) check.Fail("--out", "required: the folder of the merged results (shards written with --out DIR --shard K/N are found in DIR)");
        if (PlotsIsFile) check.Fail("--plots", $"a merge draws several charts and a report: give a folder, got '{Plots}'");
    }
}

/// <summary>
/// <c>cadence sweep merge</c> and <c>cadence compare merge</c>: checks that the shard folders hold one complete
/// experiment (<see cref="ShardSet"/>) and writes its results — results CSV, results.json, charts and report — by
/// rerunning the experiment's saved options over the shards' runs instead of training: the same code writes them as
/// for an unsharded run, so the files are the same but for the times.
/// </summary>
internal abstract class MergeCommand(Io io, string command, string log) : CadenceCommand<MergeSettings>(io)
{
    protected override int Run(CommandContext context, MergeSettings s, CancellationToken ct)
    {
        string outDir = s.Out!;
        ShardSet.RefuseToOverwrite(Path.Combine(outDir, log));
        var dirs = s.ShardDirs.Length > 0 ? [.. s.ShardDirs] : ShardSet.FoldersIn(outDir);
        if (dirs.Count == 0)
            throw new UsageException(ShardSet.Argument, $"no shard folders given, and {outDir} holds no shard-K-of-N folder with a {ShardManifest.FileName}");
        var set = ShardSet.Load(dirs, command, log);
        var m = set.Manifest;
        if (set.Threads.Count > 1)
            Io.Err.WriteLine($"cadence {command} merge: the shards ran with {string.Join(", ", set.Threads)} threads; a run's numbers can differ in rounding with the thread count");
        Io.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cadence {command} merge: {m.Shards} shards, {set.Rows.Count} runs, all present; writing {outDir}"));
        var args = new List<string> { command };
        args.AddRange(m.Args);
        args.AddRange(["--out", outDir]);
        foreach (var dir in dirs) args.AddRange(["--merge-from", Path.GetFullPath(dir)]);
        if (s.Json) args.Add("--json");
        if (s.Plots is not null) args.AddRange(["--plots", s.Plots]);
        args.AddRange(["--plot-format", s.PlotFormat]);
        return Program.Run([.. args], Io.Out, Io.Err, ct);
    }
}

/// <summary><c>cadence sweep merge</c> (the hidden command <c>sweep-merge</c>, see <see cref="MergeCommands"/>).</summary>
internal sealed class SweepMergeCommand(Io io) : MergeCommand(io, "sweep", "sweep.csv");

/// <summary><c>cadence compare merge</c> (the hidden command <c>compare-merge</c>).</summary>
internal sealed class CompareMergeCommand(Io io) : MergeCommand(io, "compare", "results.csv");
