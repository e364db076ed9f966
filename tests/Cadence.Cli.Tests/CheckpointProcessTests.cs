using Cadence.TestSupport;
using System.Diagnostics;
using System.Globalization;
using Cadence.Checkpoints;
using Xunit;

namespace Cadence.Cli.Tests;

/// <summary>
/// Resume in new processes: the built <c>cadence</c> binary is stopped by SIGTERM or killed with SIGKILL at random
/// moments (also while a checkpoint is being written), resumed, and must end with the uninterrupted run's weights.
/// </summary>
public sealed partial class CheckpointProcessTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-resume");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    // 240 training rows, batches of 16: 15 batches per epoch, 30 iterations; a CLR cycle over both epochs.
    private string[] Args(string outDir) =>
        ["--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--lr", "0.05", "--cycle-len", "2",
         "--use-clr", "10,4,0.95,0.85", "--out", outDir];

    private string Csv()
    {
        var path = Path.Combine(_dir, "wine.csv");
        return File.Exists(path) ? path : TestData.ThreeClassCsv(_dir, "wine.csv");
    }

    private static byte[]? _reference;

    /// <summary>
    /// The uninterrupted run's final weights, computed once in its own process: in this one, other test classes
    /// train in parallel and share TorchSharp's global seed.
    /// </summary>
    private byte[] Reference()
    {
        if (_reference is not null) return _reference;
        var outDir = Path.Combine(_dir, "reference");
        using (var cli = new Cli(Args(outDir)))
        {
            var (code, _, err) = cli.Wait();
            Assert.True(code == 0, err);
        }
        return _reference = File.ReadAllBytes(Path.Combine(outDir, "model.dat"));
    }

    private sealed class Cli : IDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _stdout, _stderr;

        public Cli(IEnumerable<string> args, int checkpointDelayMs = 0)
        {
            string host = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "cadence.exe" : "cadence");
            var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("fit");
            foreach (var a in args) info.ArgumentList.Add(a);
            if (checkpointDelayMs > 0) info.Environment[CheckpointStore.DelayVariable] = checkpointDelayMs.ToString(CultureInfo.InvariantCulture);
            _process = Process.Start(info)!;
            _stdout = _process.StandardOutput.ReadToEndAsync();
            _stderr = _process.StandardError.ReadToEndAsync();
        }

        public int Pid => _process.Id;

        public bool HasExited => _process.HasExited;

        public (int Code, string Out, string Err) Wait()
        {
            Assert.True(_process.WaitForExit(60_000), "cadence fit did not finish within 60 s");
            return (_process.ExitCode, _stdout.Result, _stderr.Result);
        }

        public void Kill() => _process.Kill();

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.Dispose();
        }
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.ElapsedMilliseconds < 30_000, $"timed out waiting for {what}");
            Thread.Sleep(5);
        }
    }

    // From the name (ckpt-i{iteration}-…): reading a checkpoint while the training process prunes old ones would race.
    private static long NewestIteration(string checkpoints) =>
        Checkpoint.Rolling(checkpoints) is { Count: > 0 } r ? long.Parse(Path.GetFileName(r[^1]).AsSpan(6, 10), CultureInfo.InvariantCulture) : -1;

    private static bool Writing(string checkpoints) =>
        Directory.Exists(checkpoints) && Directory.EnumerateDirectories(checkpoints, CheckpointStore.TempPrefix + "*").Any();

    private static int SendSigterm(int pid)
    {
        using var kill = Process.Start("kill", ["-TERM", pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        return kill.ExitCode;
    }

    [Fact]
    public void Sigterm_checkpoints_and_exits_130_and_a_run_resumed_twice_in_new_processes_ends_bit_identical()
    {
        if (!OperatingSystem.IsLinux()) return;
        byte[] expected = Reference();
        var run = Path.Combine(_dir, "run");
        var checkpoints = Path.Combine(run, Checkpoint.DirectoryName);
        long stoppedAt = 0;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            string[] args = attempt == 0 ? [.. Args(run), "--checkpoint-every", "2"] : ["--resume", run];
            using var cli = new Cli(args, checkpointDelayMs: 40);
            long after = stoppedAt;
            WaitFor(() => NewestIteration(checkpoints) > after, "a checkpoint");
            Assert.Equal(0, SendSigterm(cli.Pid));
            var (code, _, err) = cli.Wait();
            Assert.True(code == 130, $"exit {code}: {err}");
            var m = InterruptedAt().Match(err);
            Assert.True(m.Success, err);
            Assert.Contains($"cadence fit: resume with: cadence fit --resume {run}", err);
            stoppedAt = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(stoppedAt, after + 1, 29);
            Assert.Equal(stoppedAt, NewestIteration(checkpoints));
            if (attempt == 1) Assert.Contains($"cadence fit: resuming {checkpoints}", err);
        }
        using var last = new Cli(["--resume", run, "--json"]);
        var (finalCode, stdout, stderr) = last.Wait();
        Assert.True(finalCode == 0, stderr);
        Assert.Contains("\"iterations\":30", stdout);
        Assert.Equal(expected, File.ReadAllBytes(Path.Combine(run, "model.dat")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.csv")).Length);   // header and both epochs, across three processes
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Kill_9_at_a_random_moment_then_resume_ends_with_the_uninterrupted_weights(int seed)
    {
        if (!OperatingSystem.IsLinux()) return;
        byte[] expected = Reference();
        var rng = new Random(seed);
        var run = Path.Combine(_dir, $"run{seed}");
        var checkpoints = Path.Combine(run, Checkpoint.DirectoryName);
        bool killedMidWrite = false;
        // Seed 1 is killed while a checkpoint is being written; seed 2 twice (the second time while resuming).
        for (int kill = 0; kill < (seed == 2 ? 2 : 1); kill++)
        {
            string[] args = kill == 0 ? [.. Args(run), "--checkpoint-every", "5"] : ["--resume", run];
            using var cli = new Cli(args, checkpointDelayMs: 50);
            long before = NewestIteration(checkpoints);
            WaitFor(() => NewestIteration(checkpoints) > before, "a checkpoint");
            if (seed == 1) WaitFor(() => Writing(checkpoints), "a checkpoint being written");
            else Thread.Sleep(rng.Next(0, 300));
            Assert.False(cli.HasExited, "the run ended before it could be killed");
            cli.Kill();
            cli.Wait();
            killedMidWrite |= Writing(checkpoints);
        }
        string newest = Checkpoint.Rolling(checkpoints)[^1];
        using var resumed = new Cli(["--resume", run, "--checkpoint-every", "30"]);
        var (code, _, err) = resumed.Wait();
        Assert.True(code == 0, err);
        Assert.Contains($"cadence fit: resuming {newest} at iteration", err);
        Assert.Equal(expected, File.ReadAllBytes(Path.Combine(run, "model.dat")));
        Assert.Empty(Directory.EnumerateDirectories(checkpoints, CheckpointStore.TempPrefix + "*"));
        if (seed == 1) Assert.True(killedMidWrite, "the kill did not land while a checkpoint was being written");
    }

    [Fact]
    public void Nan_loss_exits_1_naming_the_last_good_checkpoint()
    {
        var run = Path.Combine(_dir, "nan");
        var stderr = new StringWriter();
        string[] args = ["--data", "csv", Csv(), "--target", "label", "--bs", "16", "--threads", "1", "--lr", "99", "--epochs", "3",
            "--out", run, "--checkpoint-every", "1"];
        int code = Program.Run(["fit", .. args], new StringWriter(), stderr, CancellationToken.None);
        string err = stderr.ToString();
        Assert.True(code == 1, err);
        var m = NanAt().Match(err);
        Assert.True(m.Success, err);
        long at = long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        var newest = Checkpoint.Rolling(Path.Combine(run, Checkpoint.DirectoryName))[^1];
        Assert.Contains($"cadence fit: the last good checkpoint is {newest}", err);
        Assert.Equal(at, Checkpoint.ReadInfo(newest).Position.Iteration);
    }

    [Theory]
    [InlineData("--lr 0.1", "--resume: --lr 0.1: the checkpoint's run used --lr 0.05; a resumed run keeps the configuration it started with (drop the option, or start a new run)")]
    [InlineData("--opt adamw", "--resume: --opt adamw: the checkpoint's run used the default; a resumed run keeps the configuration it started with (drop the option, or start a new run)")]
    public void Conflicting_options_on_resume_exit_2(string extra, string message)
    {
        var run = Path.Combine(_dir, "conflict");
        Assert.Equal(0, Program.Run(["fit", .. Args(run), "--epochs", "2"], new StringWriter(), new StringWriter(), CancellationToken.None));
        var stderr = new StringWriter();
        int code = Program.Run(["fit", "--resume", run, .. extra.Split(' '), "--lr", "0.05", "--threads", "1"], new StringWriter(), stderr, CancellationToken.None);
        Assert.Equal(2, code);
        Assert.Equal($"cadence fit: {message}" + Environment.NewLine, stderr.ToString());
    }

    [Fact]
    public void Resume_of_a_missing_or_corrupt_checkpoint_exits_1_naming_the_file()
    {
        var stderr = new StringWriter();
        Assert.Equal(1, Program.Run(["fit", "--resume", Path.Combine(_dir, "none")], new StringWriter(), stderr, CancellationToken.None));
        Assert.Equal($"cadence fit: --resume: {Path.Combine(_dir, "none")}: no such directory" + Environment.NewLine, stderr.ToString());

        var run = Path.Combine(_dir, "corrupt");
        Assert.Equal(0, Program.Run(["fit", .. Args(run)], new StringWriter(), new StringWriter(), CancellationToken.None));
        var newest = Checkpoint.Rolling(Path.Combine(run, Checkpoint.DirectoryName))[^1];
        var model = Path.Combine(newest, "model.dat");
        var bytes = File.ReadAllBytes(model);
        bytes[bytes.Length / 3] ^= 0x10;
        File.WriteAllBytes(model, bytes);
        stderr = new StringWriter();
        Assert.Equal(1, Program.Run(["fit", "--resume", run], new StringWriter(), stderr, CancellationToken.None));
        Assert.Equal($"cadence fit: --resume: {model}: corrupt: its SHA-256 does not match the manifest" + Environment.NewLine, stderr.ToString());
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"cadence fit: interrupted at iteration (\d+); checkpoint ")]
    private static partial System.Text.RegularExpressions.Regex InterruptedAt();

    [System.Text.RegularExpressions.GeneratedRegex(@"stopped early: loss is (?:NaN|-?Infinity|∞|-∞) at iteration (\d+)")]
    private static partial System.Text.RegularExpressions.Regex NanAt();
}
