using Cadence.Data;
using Cadence.TestSupport;
using TorchSharp;

namespace Cadence.Tests.Data;

public sealed class Cifar10Tests : IDisposable
{
    private static readonly string[] Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
    private readonly TempDirectory _dir = new("cadence-cifar");

    public void Dispose() => _dir.Dispose();

    /// <summary>Record r of file f: label (f + r) mod 10, pixel p of plane c = (f·31 + r·7 + c·50 + p) mod 256.</summary>
    private static byte[] Record(int file, int record)
    {
        var bytes = new byte[Cifar10.RecordBytes];
        bytes[0] = (byte)((file + record) % 10);
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 1024; p++) bytes[1 + c * 1024 + p] = (byte)((file * 31 + record * 7 + c * 50 + p) % 256);
        return bytes;
    }

    private string Make(string folder, int[] recordsPerFile)
    {
        string dir = _dir[folder];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, Cifar10.MetaFile), string.Join("\n", Names) + "\n\n");
        for (int f = 0; f < 6; f++)
        {
            string name = f < 5 ? Cifar10.TrainFiles[f] : Cifar10.TestFile;
            File.WriteAllBytes(Path.Combine(dir, name), [.. Enumerable.Range(0, recordsPerFile[f]).SelectMany(r => Record(f, r))]);
        }
        return dir;
    }

    [Fact]
    public void Reads_records_labels_and_class_names()
    {
        string dir = Make("cifar", [2, 1, 3, 1, 2, 2]);
        using var data = Cifar10.Load(dir);
        Assert.Equal(Names, data.ClassNames);
        Assert.Equal([9L, 3, 32, 32], data.TrainImages.shape);
        Assert.Equal([2L, 3, 32, 32], data.ValidImages.shape);
        Assert.Equal([0L, 1, 1, 2, 3, 4, 3, 4, 5], data.TrainLabels.data<long>().ToArray());
        Assert.Equal([5L, 6], data.ValidLabels.data<long>().ToArray());
        Assert.Equal("data_batch_3.bin#2", data.TrainSources![5]);
        Assert.Equal("test_batch.bin#1", data.ValidSources![1]);
        // Training image 5 is record 2 of data_batch_3.bin: its planes are red, green, blue in that order.
        Assert.Equal(Record(2, 2)[1..], data.TrainImages[5].contiguous().data<byte>().ToArray());
        Assert.Equal(Record(5, 1)[1..], data.ValidImages[1].contiguous().data<byte>().ToArray());
        Assert.Equal(Record(2, 2)[1 + 1024 + 32 * 3 + 4], data.TrainImages[5, 1, 3, 4].item<byte>());
    }

    [Fact]
    public void Finds_the_files_in_the_unpacked_archive_folder()
    {
        Make(Path.Combine("root", "cifar-10-batches-bin"), [1, 1, 1, 1, 1, 1]);
        using var data = Cifar10.Load(_dir["root"]);
        Assert.Equal(5, data.TrainImages.shape[0]);
    }

    [Fact]
    public void Errors_name_the_file_and_what_is_wrong()
    {
        string dir = Make("bad", [1, 1, 1, 1, 1, 1]);
        string batch3 = Path.Combine(dir, "data_batch_3.bin");

        File.WriteAllBytes(batch3, [.. Record(2, 0), 1, 2, 3]);
        Assert.Equal($"{batch3}: expected whole records of 3073 bytes (1 label + 3×32×32 pixels), found 3076 bytes (1 records and 3 bytes more)",
            Assert.Throws<DataFormatException>(() => Cifar10.Load(dir)).Message);

        File.WriteAllBytes(batch3, []);
        Assert.Equal($"{batch3}: expected records of 3073 bytes, found an empty file", Assert.Throws<DataFormatException>(() => Cifar10.Load(dir)).Message);

        var record = Record(2, 0);
        record[0] = 10;
        File.WriteAllBytes(batch3, [.. Record(2, 1), .. record]);
        Assert.Equal($"{batch3}: record 1 (byte 3073): label 10, but batches.meta.txt names 10 classes",
            Assert.Throws<DataFormatException>(() => Cifar10.Load(dir)).Message);

        File.Delete(batch3);
        Assert.Equal($"{batch3}: file not found (CIFAR-10 binary needs data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin and batches.meta.txt in {dir})",
            Assert.Throws<DataFormatException>(() => Cifar10.Load(dir)).Message);

        string meta = Path.Combine(dir, Cifar10.MetaFile);
        File.WriteAllText(meta, "cat\n\ndog\n");
        Assert.Equal($"{meta}: line 2: expected a class name, found an empty line", Assert.Throws<DataFormatException>(() => Cifar10.Load(dir)).Message);
        File.WriteAllText(meta, "cat\ndog\ncat\n");
        Assert.Equal($"{meta}: class name 'cat' appears twice", Assert.Throws<DataFormatException>(() => Cifar10.Load(dir)).Message);
    }
}
