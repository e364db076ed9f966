using System.Diagnostics;
using System.Security.Cryptography;
using Cadence.Callbacks;
using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.TestSupport;
using Cadence.Training;

namespace Cadence.Tests.Checkpoints;

/// <summary>
/// Run directories (issue 18): a run is never overwritten by accident, an overwrite never mixes the old run with the
/// new one, one writer at a time, resume from the newest checkpoint that verifies, a finished run is reported.
/// </summary>
public sealed class RunDirectoryTests : IDisposable
{
    private readonly TempDirectory _tmp = new("cadence-rundir");

    public void Dispose() => _tmp.Dispose();

    private const int Epochs = 2;   // 256 samples in batches of 64: 4 batches per epoch, 8 iterations

    private static Learner Make() => Synth.Learner(seed: 5, batchSize: 64, callbacks: [new NanGuard()]);

    private static Schedule Clr(Learner learn) => FastAi07.Fit([0.05], learn.Data.Train.BatchCount, cycleLen: Epochs, useClr: new UseClr(10, 3));

    private static float[] Flat(Learner learn) => learn.Model.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray()).ToArray();

    /// <summary>Trains into <paramref name="run"/> as <c>cadence fit</c> does: checkpoints every iteration, outputs, completion record.</summary>
    private static (FitResult Result, float[] Weights) Train(RunDirectory run, long? stopAt = null)
    {
        using var learn = Make();
        learn.Add(new CheckpointCallback(run.CheckpointOptions with { EveryIterations = 1, Keep = 3 }));
        if (stopAt is { } s) learn.Add(new StopAt(s));
        var result = run.ResumeFrom is { } from ? Checkpoint.Resume(learn, from.Checkpoint.Path, Clr(learn), Epochs) : learn.Fit(Clr(learn), Epochs);
        if (result.StopReason is null)
        {
            File.WriteAllText(Path.Combine(run.FullPath, "history.json"), "{}");
            learn.Save(Path.Combine(run.FullPath, "model.dat"));
            run.Complete(RunCompletion.Of(learn, result, """{"accuracy":0.5}"""));
        }
        return (result, Flat(learn));
    }

    private string Stopped(string name, long at)
    {
        string dir = _tmp[name];
        using var run = RunDirectory.Open(dir, RunMode.New);
        Train(run, stopAt: at);
        return dir;
    }

    private string Finished(string name)
    {
        string dir = _tmp[name];
        using var run = RunDirectory.Open(dir, RunMode.New);
        Train(run);
        return dir;
    }

    /// <summary>Every file under <paramref name="dir"/> (relative path → SHA-256), the lock file left out.</summary>
    private static SortedDictionary<string, string> Contents(string dir) =>
        new(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != RunLock.FileName)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);

    [Fact]
    public void A_new_run_is_refused_where_a_run_is_and_allowed_in_an_empty_folder_or_one_of_unrelated_files()
    {
        using (RunDirectory.Open(_tmp["absent/nested"], RunMode.New)) { }   // created
        using (RunDirectory.Open(Directory.CreateDirectory(_tmp["empty"]).FullName, RunMode.New)) { }

        _tmp.Write("mine/notes.txt", "keep me");
        _tmp.Write("mine/data/train.csv", "a,b\n1,2\n");
        Directory.CreateDirectory(_tmp["mine/checkpoints"]);   // an empty checkpoints folder is not a run either
        var unrelated = Contents(_tmp["mine"]);
        using (var run = RunDirectory.Open(_tmp["mine"], RunMode.New)) Train(run);
        var after = Contents(_tmp["mine"]);
        Assert.All(unrelated, kv => Assert.Equal(kv.Value, after[kv.Key]));

        string stopped = Stopped("stopped", at: 3);
        var e = Assert.Throws<RunExistsException>(() => RunDirectory.Open(stopped, RunMode.New));
        Assert.Equal($"--out {stopped} already holds a run (unfinished, its newest checkpoint at iteration 3, epoch 1): continue it with --resume {stopped}, or replace it with --overwrite", e.Message);
        string done = Finished("done");
        e = Assert.Throws<RunExistsException>(() => RunDirectory.Open(done, RunMode.New, "--out"));
        Assert.Equal($"--out {done} already holds a run (complete, 2 epochs): continue it with --resume {done}, or replace it with --overwrite", e.Message);
        _tmp.Write("legacy/model.dat", "weights");
        _tmp.Write("legacy/history.json", "{}");
        e = Assert.Throws<RunExistsException>(() => RunDirectory.Open(_tmp["legacy"], RunMode.New));
        Assert.Contains("already holds a run (its history.json, model.dat)", e.Message);
        Assert.True(RunDirectory.HoldsRun(_tmp["legacy"]));
        Assert.False(RunDirectory.HoldsRun(_tmp["empty"]));

        string file = _tmp.Write("a-file", "x");
        var bad = Assert.Throws<RunDirectoryException>(() => RunDirectory.Open(file, RunMode.New, "--out"));
        Assert.Equal($"--out {file}: is a file, not a directory", bad.Message);
    }

    [Fact]
    public void Overwrite_moves_the_old_run_aside_and_deletes_it_only_once_the_new_run_has_a_durable_checkpoint()
    {
        string dir = Finished("run");
        _tmp.Write("run/notes.txt", "not the run's");
        var old = Contents(dir);
        old.Remove("notes.txt");

        // The process dies after the move, before the new run's first checkpoint: the old run is whole, aside.
        var first = RunDirectory.Open(dir, RunMode.Overwrite);
        Assert.False(RunDirectory.HoldsRun(dir));   // nothing of the old run is left where the new one writes
        var aside = Assert.Single(first.Replaced);
        Assert.Equal(old, Contents(aside));
        first.SimulateCrash();
        Assert.Equal(old, Contents(aside));
        Assert.Equal("not the run's", File.ReadAllText(Path.Combine(dir, "notes.txt")));
        var none = Assert.Throws<CheckpointException>(() => RunDirectory.Open(dir, RunMode.Resume, "--resume"));
        Assert.Contains("no checkpoint here", none.Message);

        // A crash in the middle of a move: part of a run left in place. A new run is still refused; the next overwrite moves the rest.
        string partial = Finished("partial");
        Directory.CreateDirectory(Path.Combine(partial, RunDirectory.ReplacedPrefix + "crashed"));
        File.Move(Path.Combine(partial, RunDirectory.CompletionName), Path.Combine(partial, RunDirectory.ReplacedPrefix + "crashed", RunDirectory.CompletionName));
        Assert.Throws<RunExistsException>(() => RunDirectory.Open(partial, RunMode.New));

        foreach (var d in new[] { dir, partial })
        {
            using var run = RunDirectory.Open(d, RunMode.Overwrite);
            Assert.False(RunDirectory.HoldsRun(d));
            Assert.NotEmpty(run.Replaced);
            Train(run, stopAt: 3);
            Assert.Empty(run.Replaced);   // deleted after the first durable checkpoint
            Assert.Equal(["ckpt-i0000000001-e000000", "ckpt-i0000000002-e000000", "ckpt-i0000000003-e000000"],
                Checkpoint.Rolling(run.CheckpointsPath).Select(Path.GetFileName));   // only the new run's
            Assert.False(File.Exists(Path.Combine(d, RunDirectory.CompletionName)));
        }
        Assert.Equal("not the run's", File.ReadAllText(Path.Combine(dir, "notes.txt")));
    }

    [Fact]
    public void One_writer_at_a_time_and_the_lock_is_refused_naming_the_holder()
    {
        string dir = Directory.CreateDirectory(_tmp["run"]).FullName;
        using (var first = RunDirectory.Open(dir, RunMode.New))
        {
            var e = Assert.Throws<RunInUseException>(() => RunDirectory.Open(dir, RunMode.Overwrite));
            Assert.Equal(Environment.ProcessId, e.ProcessId);
            Assert.Equal(first.FullPath, e.Directory);
            Assert.Equal($"{dir} is in use by process {Environment.ProcessId} (since {e.Since:yyyy-MM-dd HH:mm:ss}Z)", e.Message);
            Assert.InRange(DateTimeOffset.UtcNow - e.Since!.Value, TimeSpan.Zero, TimeSpan.FromMinutes(1));
            Assert.Throws<RunInUseException>(() => RunDirectory.Open(dir, RunMode.Resume));   // a resume reads nothing before it has the lock
        }
        using (RunDirectory.Open(dir, RunMode.New)) { }   // released on dispose
    }

    [SkippableFact]
    public void The_lock_is_a_kernel_flock_another_process_sees_and_kill_9_of_its_holder_releases()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "flock(1) is Linux");
        string dir = Directory.CreateDirectory(_tmp["run"]).FullName;
        string lockFile = Path.Combine(dir, RunLock.FileName);
        using (RunLock.Acquire(dir)) Assert.Equal(1, Run("flock", "-n", lockFile, "true"));   // held: another process is refused
        Assert.Equal(0, Run("flock", "-n", lockFile, "true"));

        File.Delete(lockFile);   // so the owner line is not this process's from above
        using var holder = Process.Start(new ProcessStartInfo("flock", [lockFile, "sleep", "60"]))!;
        try
        {
            var clock = Stopwatch.StartNew();
            RunInUseException? refused = null;
            while (refused is null && clock.ElapsedMilliseconds < 20_000)
            {
                try { RunLock.Acquire(dir).Dispose(); Thread.Sleep(10); }
                catch (RunInUseException e) { refused = e; }
            }
            Assert.NotNull(refused);
            Assert.Equal($"{dir} is in use by another process", refused.Message);
            holder.Kill(entireProcessTree: true);   // SIGKILL to flock and its sleep (which inherited the locked descriptor)
            holder.WaitForExit();
            clock.Restart();
            while (true)   // the kernel releases it once the killed processes are gone
            {
                try { RunLock.Acquire(dir).Dispose(); break; }
                catch (RunInUseException) when (clock.ElapsedMilliseconds < 10_000) { Thread.Sleep(10); }
            }
        }
        finally
        {
            if (!holder.HasExited) holder.Kill(entireProcessTree: true);
        }
    }

    private static int Run(string file, params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Skip.If(true, $"{file} is not installed: {e.Message}");
            throw;
        }
    }

    [Fact]
    public void Resume_takes_the_newest_checkpoint_that_verifies_keeps_the_corrupt_ones_and_ends_as_the_uninterrupted_run()
    {
        float[] expected;
        using (var reference = Make()) { reference.Fit(Clr(reference), Epochs); expected = Flat(reference); }

        string dir = Stopped("run", at: 6);
        string checkpoints = Path.Combine(dir, Checkpoint.DirectoryName);
        Assert.Equal(["ckpt-i0000000004-e000000-end", "ckpt-i0000000005-e000001", "ckpt-i0000000006-e000001"], Checkpoint.Rolling(checkpoints).Select(Path.GetFileName));
        string newest = Path.Combine(checkpoints, "ckpt-i0000000006-e000001"), second = Path.Combine(checkpoints, "ckpt-i0000000005-e000001");
        Flip(Path.Combine(newest, "model.dat"));
        File.WriteAllText(Path.Combine(second, "state.json"), "{}");
        var damaged = Contents(newest);

        var found = RunDirectory.FindNewestGood(dir);   // read-only: renames nothing
        Assert.Equal(4, found.Checkpoint.Position.Iteration);
        Assert.True(Directory.Exists(newest));

        using (var run = RunDirectory.Open(dir, RunMode.Resume, "--resume"))
        {
            Assert.Equal(Path.Combine(checkpoints, "ckpt-i0000000004-e000000-end"), run.ResumeFrom!.Checkpoint.Path);
            var skipped = run.ResumeFrom.Skipped;
            Assert.Equal(2, skipped.Count);
            Assert.Equal($"{newest}: skipped: {Path.Combine(newest, "model.dat")}: corrupt: its SHA-256 does not match the manifest; kept for inspection as {newest}.corrupt", skipped[0].Message);
            Assert.StartsWith($"{second}: skipped: {Path.Combine(second, "state.json")}: truncated: 2 bytes, the manifest says ", skipped[1].Message);
            Assert.EndsWith($"; kept for inspection as {second}.corrupt", skipped[1].Message);
            var (result, weights) = Train(run);
            Assert.Null(result.StopReason);
            Assert.Equal(expected, weights);   // bit for bit
        }
        Assert.Equal(damaged, Contents(newest + RunDirectory.CorruptSuffix));   // kept as it was, not pruned, not replaced
        Assert.True(Directory.Exists(second + RunDirectory.CorruptSuffix));
    }

    [Fact]
    public void Resume_without_a_good_checkpoint_names_every_bad_file_and_an_explicit_checkpoint_is_not_replaced_by_another()
    {
        string dir = Stopped("run", at: 3);
        var rolling = Checkpoint.Rolling(Path.Combine(dir, Checkpoint.DirectoryName));
        foreach (var c in rolling) Flip(Path.Combine(c, "optimizer.dat"));
        var e = Assert.Throws<CheckpointException>(() => RunDirectory.Open(dir, RunMode.Resume));
        Assert.Equal($"{dir}: no checkpoint verifies: " + string.Join("; ", rolling.Reverse().Select(c => $"{Path.Combine(c, "optimizer.dat")}: corrupt: its SHA-256 does not match the manifest")), e.Message);
        Assert.All(rolling, c => Assert.True(Directory.Exists(c)));   // nothing renamed when nothing can be resumed

        string other = Stopped("other", at: 3);
        string newest = Checkpoint.Rolling(Path.Combine(other, Checkpoint.DirectoryName))[^1];
        Flip(Path.Combine(newest, "rng.bin"));
        e = Assert.Throws<CheckpointException>(() => RunDirectory.Open(newest, RunMode.Resume, "--resume"));
        Assert.Equal($"{Path.Combine(newest, "rng.bin")}: corrupt: its SHA-256 does not match the manifest", e.Message);
        using (var run = RunDirectory.Open(Checkpoint.Rolling(Path.Combine(other, Checkpoint.DirectoryName))[0], RunMode.Resume))
        {
            Assert.Equal(other, run.FullPath);   // a checkpoint path locks its run directory
            Assert.Equal(1, run.ResumeFrom!.Checkpoint.Position.Iteration);
            Assert.Empty(run.ResumeFrom.Skipped);
        }
        using (var run = RunDirectory.Open(Path.Combine(other, Checkpoint.DirectoryName), RunMode.Resume))
        {
            Assert.Equal(other, run.FullPath);   // so does its checkpoints folder
            Assert.Equal(2, run.ResumeFrom!.Checkpoint.Position.Iteration);
            Assert.Single(run.ResumeFrom.Skipped);
        }
    }

    private static void Flip(string file)
    {
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(file, bytes);
    }

    [Fact]
    public void Resume_of_a_finished_run_gives_back_its_results_and_writes_nothing()
    {
        FitResult result;
        string dir = _tmp["run"];
        using (var run = RunDirectory.Open(dir, RunMode.New)) result = Train(run).Result;
        var before = Contents(dir);
        var times = Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != RunLock.FileName)
            .ToDictionary(f => f, File.GetLastWriteTimeUtc);

        using (var again = RunDirectory.Open(dir, RunMode.Resume, "--resume"))
        {
            var done = again.Completed!;
            Assert.Null(again.ResumeFrom);
            Assert.Equal($"{dir} is complete (2 epochs)", again.CompletedMessage);
            Assert.Equal((result.Epochs, result.Iterations, result.TrainLoss, result.ValidLoss), (done.Result.Epochs, done.Result.Iterations, done.Result.TrainLoss, done.Result.ValidLoss));
            Assert.Equal(result.Metrics, done.Result.Metrics);
            Assert.Equal(["accuracy"], done.MetricNames);
            Assert.Equal(2, done.Epochs.Count);
            Assert.Equal(result.ValidLoss, done.Epochs[^1].ValidLoss);
            Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), done.Steps.Select(s => s.Step));
            Assert.Equal("""{"accuracy":0.5}""", done.Summary);
        }
        Assert.Equal(before, Contents(dir));
        Assert.All(times, kv => Assert.Equal(kv.Value, File.GetLastWriteTimeUtc(kv.Key)));
    }

    [SkippableFact]
    public void A_read_only_directory_is_refused_before_anything_is_read_naming_the_option()
    {
        string dir = Stopped("run", at: 3);
        var before = Contents(dir);
        using var readOnly = new ReadOnlyDirectory(dir);
        var e = Assert.Throws<RunDirectoryException>(() => RunDirectory.Open(dir, RunMode.Resume, "--resume"));
        Assert.StartsWith($"--resume {dir}: cannot write there (", e.Message);
        Assert.EndsWith("); a resumed run writes its checkpoints and results into it", e.Message);
        e = Assert.Throws<RunDirectoryException>(() => RunDirectory.Open(dir, RunMode.Overwrite, "--out"));
        Assert.StartsWith($"--out {dir}: cannot write there (", e.Message);
        readOnly.Dispose();
        Assert.Equal(before, Contents(dir));

        string done = Finished("done");
        using var finished = new ReadOnlyDirectory(done);
        using var shown = RunDirectory.Open(done, RunMode.Resume, "--resume");   // nothing to write, so no lock needed
        Assert.Equal(2, shown.Completed!.Result.Epochs);
    }
}
