using Cadence.TestSupport;
using System.IO.Compression;
using Cadence.Data;
using Xunit;

namespace Cadence.Tests.Data;

public sealed class ReaderTests : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-data");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static byte[] Idx(int[] dims, int dataBytes, byte type = 0x08)
    {
        var header = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (var d in dims) header.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        return [.. header, .. Enumerable.Range(0, dataBytes).Select(i => (byte)(i % 10))];
    }

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        var path = Path.Combine(_dir, name);
        if (!gzip) { File.WriteAllBytes(path, bytes); return path; }
        using var f = File.Create(path);
        using var gz = new GZipStream(f, CompressionLevel.Fastest);
        gz.Write(bytes);
        return path;
    }

    [Fact]
    public void Reads_raw_and_gzip_idx()
    {
        var raw = IdxReader.Read(Write("a-idx3-ubyte", Idx([2, 3, 4], 24)));
        Assert.Equal([2, 3, 4], raw.Dimensions);
        Assert.Equal(24, raw.Data.Length);
        var gz = IdxReader.Read(Write("a-idx3-ubyte.gz", Idx([2, 3, 4], 24), gzip: true));
        Assert.Equal(raw.Data, gz.Data);
    }

    [Fact]
    public void Idx_errors_name_the_file_what_was_expected_and_found()
    {
        var missing = Path.Combine(_dir, "nope.gz");
        Assert.Equal($"{missing}: file not found", Assert.Throws<DataFormatException>(() => IdxReader.Read(missing)).Message);

        var truncated = Write("t-idx3-ubyte", Idx([2, 3, 4], 20));
        Assert.Equal($"{truncated}: truncated: expected 24 data bytes for shape [2, 3, 4], found 20",
            Assert.Throws<DataFormatException>(() => IdxReader.Read(truncated)).Message);

        var magic = Write("m", [1, 2, 3, 4, 5]);
        Assert.Equal($"{magic}: expected an IDX file (magic 0x0000…), found bytes 0x0102",
            Assert.Throws<DataFormatException>(() => IdxReader.Read(magic)).Message);

        var type = Write("f", Idx([2], 8, type: 0x0d));
        Assert.Contains("expected IDX type 0x08 (unsigned byte), found type 0x0d", Assert.Throws<DataFormatException>(() => IdxReader.Read(type)).Message);

        var corruptGz = Write("c.gz", [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        Assert.Contains($"{corruptGz}: expected a gzip stream, found corrupt data", Assert.Throws<DataFormatException>(() => IdxReader.Read(corruptGz)).Message);
    }

    [Fact]
    public void Idx_images_load_a_directory_and_check_the_pairs()
    {
        Write("train-images-idx3-ubyte.gz", Idx([6, 4, 4], 96), gzip: true);
        Write("train-labels-idx1-ubyte", Idx([6], 6));
        Write("t10k-images-idx3-ubyte", Idx([2, 4, 4], 32));
        var labels = Write("t10k-labels-idx1-ubyte", Idx([3], 3));
        var e = Assert.Throws<DataFormatException>(() => IdxImages.Load(_dir));
        Assert.Equal($"{labels}: expected 2 labels (one per image), found 3", e.Message);
        Write("t10k-labels-idx1-ubyte", Idx([2], 2));
        var (train, valid) = IdxImages.Load(_dir);
        using (train) using (valid)
        {
            Assert.Equal([1L, 4, 4], train.SampleShape);
            Assert.Equal(6, train.Count);
            Assert.Equal(6, train.Classes);
            Assert.Equal(0.0, train.Features.mean().item<float>(), 5);
        }
    }

    [Fact]
    public void Csv_reads_string_classes_and_standardizes_on_the_training_split()
    {
        var lines = new List<string> { "a,species,b" };
        for (int i = 0; i < 20; i++) lines.Add($"{i},{(i % 2 == 0 ? "\"setosa\"" : "virginica")},{i * 2.5}");
        var path = Write("iris.csv", System.Text.Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n"));
        var d = CsvTabular.Load(path, "species", validPct: 0.25, seed: 1);
        using (d.Train) using (d.Valid)
        {
            Assert.Equal(["a", "b"], d.FeatureNames);
            Assert.Equal(["setosa", "virginica"], d.ClassNames);
            Assert.Equal(15, d.Train.Count);
            Assert.Equal(5, d.Valid.Count);
            Assert.Equal([2L], d.Train.SampleShape);
            Assert.Equal(0.0, d.Train.Features.mean(new long[] { 0 }).abs().max().item<float>(), 5);
            Assert.NotEqual(0.0, d.Valid.Features.mean(new long[] { 0 }).abs().max().item<float>(), 5);
            var again = CsvTabular.Load(path, "species", validPct: 0.25, seed: 1);
            Assert.True(again.Valid.Features.allclose(d.Valid.Features, 0, 0));
        }
    }

    [Fact]
    public void Csv_errors_name_the_row_and_column()
    {
        var bad = Write("bad.csv", "x,y,label\n1,2,0\n3,oops,1\n"u8.ToArray());
        Assert.Equal($"{bad}: row 3, column 'y': expected a number, found 'oops'",
            Assert.Throws<DataFormatException>(() => CsvTabular.Load(bad, "label")).Message);
        var ragged = Write("ragged.csv", "x,y,label\n1,2,0\n3,1\n"u8.ToArray());
        Assert.Equal($"{ragged}: row 3: expected 3 fields, found 2",
            Assert.Throws<DataFormatException>(() => CsvTabular.Load(ragged, "label")).Message);
        Assert.Equal($"{ragged}: expected a column 'class' (--target), found columns: x, y, label",
            Assert.Throws<DataFormatException>(() => CsvTabular.Load(ragged, "class")).Message);
        var missing = Path.Combine(_dir, "none.csv");
        Assert.Equal($"{missing}: file not found", Assert.Throws<DataFormatException>(() => CsvTabular.Load(missing, "label")).Message);
    }
}
