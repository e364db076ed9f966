using Cadence.Checkpoints;
using Cadence.TestSupport;

namespace Cadence.Tests.Checkpoints;

/// <summary>What a crash at the worst moment leaves, and what the next writer makes of it.</summary>
public sealed class CheckpointStoreRecoveryTests : IDisposable
{
    private readonly TempDirectory _tmp = new("cadence-store");

    public void Dispose() => _tmp.Dispose();

    private static string Write(string dir, string name, string text) =>
        CheckpointStore.Write(dir, name, [("data.txt", s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)))]);

    private static string Read(string checkpoint) => System.Text.Encoding.UTF8.GetString(CheckpointStore.ReadVerified(checkpoint)["data.txt"]);

    [Fact]
    public void A_snapshot_whose_replacement_died_between_the_two_renames_is_put_back_and_other_temporaries_go()
    {
        string dir = _tmp.Path;
        string best = Write(dir, "best", "old best");
        // The state Write leaves when killed after renaming the old snapshot away, before renaming the new one in.
        string old = Path.Combine(dir, $"{CheckpointStore.TempPrefix}old-best-{Guid.NewGuid():N}");
        Directory.Move(best, old);
        string unfinished = Path.Combine(dir, $"{CheckpointStore.TempPrefix}best-123-{Guid.NewGuid():N}");
        Directory.CreateDirectory(unfinished);
        string pruned = Path.Combine(dir, $"{CheckpointStore.TempPrefix}del-ckpt-i0000000001-e000000-{Guid.NewGuid():N}");
        Directory.CreateDirectory(pruned);
        // An old copy whose checkpoint is back in place is only a leftover.
        Write(dir, "clr_cyc_0", "cycle 0");
        string stale = Path.Combine(dir, $"{CheckpointStore.TempPrefix}old-clr_cyc_0-{Guid.NewGuid():N}");
        Directory.CreateDirectory(stale);

        CheckpointStore.RemoveTemporaries(dir);
        Assert.Equal("old best", Read(best));
        Assert.Equal("cycle 0", Read(Path.Combine(dir, "clr_cyc_0")));
        Assert.Empty(Directory.EnumerateDirectories(dir, CheckpointStore.TempPrefix + "*"));
    }

    [Fact]
    public void A_durable_file_write_replaces_the_old_file_whole_or_not_at_all()
    {
        string file = _tmp["cadence-complete.json"];
        CheckpointStore.WriteFileDurably(file, "first"u8);
        CheckpointStore.WriteFileDurably(file, "second"u8);
        Assert.Equal("second", File.ReadAllText(file));
        var original = CheckpointStore.CreateFile;
        CheckpointStore.CreateFile = path =>
        {
            original(path).Dispose();   // the temporary file exists on disk, then the disk is full
            return new FailingStream();
        };
        try
        {
            var e = Assert.Throws<IOException>(() => CheckpointStore.WriteFileDurably(file, "third"u8));
            Assert.Equal("No space left on device", e.Message);
        }
        finally
        {
            CheckpointStore.CreateFile = original;
        }
        Assert.Equal("second", File.ReadAllText(file));
        Assert.Equal([file], Directory.GetFiles(_tmp.Path));
    }

    private sealed class FailingStream : MemoryStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("No space left on device");
    }
}
