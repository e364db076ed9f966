using Cadence.TestSupport;
using Cadence.Checkpoints;
using Cadence.Schedules;
using Cadence.Training;
using Xunit;

namespace Cadence.Tests.Checkpoints;

public sealed class CorruptionTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-corrupt");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static Learner Make(params Callback[] callbacks) => Synth.Learner(seed: 3, batchSize: 64, callbacks: callbacks);

    private string SaveOne()
    {
        using var learn = Make(new CheckpointCallback(new CheckpointOptions { Directory = Path.Combine(_dir, "run") }), new StopAt(2));
        learn.Fit(FastAi07.Fit([0.05], learn.Data.Train.BatchCount, cycleLen: 1), 1);
        return Checkpoint.Locate(Path.Combine(_dir, "run"));
    }

    private static string Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        return to;
    }

    private static float[] Flat(Learner learn) => learn.Model.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray()).ToArray();

    [Fact]
    public void A_flipped_byte_or_a_truncation_in_any_file_is_detected_naming_the_file_and_nothing_is_loaded()
    {
        var good = SaveOne();
        var files = Directory.GetFiles(good).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["history.json", "loader.bin", "manifest.json", "model.dat", "optimizer.dat", "rng.bin", "state.json"], files);
        using var learn = Make();
        var before = Flat(learn);
        int n = 0;
        foreach (var file in files)
        {
            foreach (var damage in new[] { "flip-first", "flip-middle", "flip-last", "truncate-half", "truncate-empty" })
            {
                var copy = Copy(good, Path.Combine(_dir, $"bad{n++}"));
                var path = Path.Combine(copy, file);
                var bytes = File.ReadAllBytes(path);
                switch (damage)
                {
                    case "flip-first": bytes[0] ^= 0x01; break;
                    case "flip-middle": bytes[bytes.Length / 2] ^= 0x20; break;
                    case "flip-last": bytes[^1] ^= 0x80; break;
                    case "truncate-half": bytes = bytes[..(bytes.Length / 2)]; break;
                    default: bytes = []; break;
                }
                File.WriteAllBytes(path, bytes);
                var e = Assert.Throws<CheckpointException>(() => Checkpoint.Restore(learn, copy));
                Assert.True(e.BadPath == path, $"{file} {damage}: blamed {e.BadPath}: {e.Message}");
                Assert.StartsWith(path + ": ", e.Message);
            }
        }
        Assert.Equal(before, Flat(learn));
        Assert.Null(learn.StartAt);
        Checkpoint.Restore(learn, good);   // the undamaged original still loads
        Assert.NotEqual(before, Flat(learn));
    }

    [Fact]
    public void Missing_files_and_unfinished_directories_are_refused()
    {
        var good = SaveOne();
        var noManifest = Copy(good, Path.Combine(_dir, "partial"));
        File.Delete(Path.Combine(noManifest, CheckpointStore.ManifestName));
        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Verify(noManifest));
        Assert.Equal($"{Path.Combine(noManifest, "manifest.json")}: missing: not a complete checkpoint", e.Message);
        var noModel = Copy(good, Path.Combine(_dir, "nomodel"));
        File.Delete(Path.Combine(noModel, "model.dat"));
        e = Assert.Throws<CheckpointException>(() => CheckpointStore.Verify(noModel));
        Assert.Equal($"{Path.Combine(noModel, "model.dat")}: missing (listed in the manifest)", e.Message);
        // An unfinished write (.tmp-*) is never picked as the latest checkpoint.
        var run = Path.GetDirectoryName(good)!;
        Copy(good, Path.Combine(run, CheckpointStore.TempPrefix + "ckpt-i9999999999-e000000"));
        Assert.Equal(good, Checkpoint.Locate(run));
        e = Assert.Throws<CheckpointException>(() => Checkpoint.Locate(Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName));
        Assert.Contains("no checkpoint here", e.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_model_is_refused_before_loading()
    {
        var good = SaveOne();
        var spec = Cadence.Models.ModelZoo.Create("mlp", [Synth.Features], Synth.Classes);
        using var other = new Learner(spec.Model, Synth.Data(batchSize: 64, seed: 3), layerGroups: spec.LayerGroups);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Restore(other, good));
        Assert.Contains("state.json: saved from a", e.Message);
    }

    [Fact]
    public void Disk_full_while_writing_fails_clearly_and_leaves_the_previous_checkpoint_intact()
    {
        var dir = Path.Combine(_dir, "full");
        var original = CheckpointStore.CreateFile;
        int opened = 0;
        // The first checkpoint (7 files) succeeds; the second runs out of space on its fourth file.
        CheckpointStore.CreateFile = path => ++opened == 11 ? new FullDisk() : original(path);
        try
        {
            using var learn = Make(new CheckpointCallback(new CheckpointOptions { Directory = dir, EveryIterations = 2 }));
            var e = Assert.Throws<CheckpointWriteException>(() => learn.Fit(FastAi07.Fit([0.05], learn.Data.Train.BatchCount, cycleLen: 1), 1));
            Assert.Contains("cannot write checkpoint", e.Message);
            Assert.Contains("No space left on device", e.Message);
            Assert.EndsWith("(earlier checkpoints are intact)", e.Message);
        }
        finally
        {
            CheckpointStore.CreateFile = original;
        }
        var left = Checkpoint.Rolling(dir);
        Assert.Single(left);
        Assert.Equal(2, Checkpoint.ReadInfo(left[0]).Position.Iteration);
        Assert.Empty(Directory.EnumerateDirectories(dir, CheckpointStore.TempPrefix + "*"));
    }

    [Fact]
    public void Unwritable_checkpoint_directory_fails_clearly()
    {
        var file = Path.Combine(_dir, "not-a-directory");
        File.WriteAllText(file, "x");
        using var learn = Make(new CheckpointCallback(new CheckpointOptions { Directory = file, EveryIterations = 1 }));
        var e = Assert.Throws<CheckpointWriteException>(() => learn.Fit(FastAi07.Fit([0.05], learn.Data.Train.BatchCount, cycleLen: 1), 1));
        Assert.StartsWith($"cannot write checkpoint {Path.Combine(file, "ckpt-i0000000001-e000000")}: ", e.Message);
    }

    private sealed class FullDisk : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("No space left on device");
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("No space left on device");
    }
}
