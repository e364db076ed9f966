using Cadence.Data;
using Cadence.Schedules;
using Cadence.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Tests.Data;

public sealed class ImageFolderTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-folder");

    public ImageFolderTests() => TorchRuntime.Configure(threads: 1);

    public void Dispose() => _dir.Dispose();

    private string Data => _dir["data"];

    private ImageFolderOptions Options(bool cache = false) => new() { Cache = cache, CacheDirectory = _dir["cache"], Parallelism = 2 };

    /// <summary>Grey 4×3 PNGs: image k of a class has pixels <c>seed = 20·class + k</c> + ramp.</summary>
    private void GreyFolder(string split, string cls, int classIndex, int count)
    {
        for (int k = 0; k < count; k++)
            TestImages.Png(Path.Combine(Data, split, cls, $"img{k}.png"), 4, 3, 1, TestImages.Ramp(4, 3, seed: 20 * classIndex + k));
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    private static byte[] Pixels(Tensor images, int i) => images[i].contiguous().data<byte>().ToArray();

    [Fact]
    public void Reads_train_and_valid_with_sorted_unicode_class_names_and_exact_pixels()
    {
        GreyFolder("train", "zebra", 2, 2);
        GreyFolder("train", "ant eater", 0, 3);
        GreyFolder("train", "Ärger", 1, 1);
        GreyFolder("valid", "zebra", 2, 1);
        GreyFolder("valid", "ant eater", 0, 1);
        File.WriteAllText(Path.Combine(Data, "train", "zebra", "notes.txt"), "ignored");
        TestImages.Png(Path.Combine(Data, "train", "zebra", ".hidden.png"), 4, 3, 1, TestImages.Ramp(4, 3));

        using var data = ImageFolder.Load(Data, Options());
        // Ordinal order: 'Ä' (U+00C4) sorts after ASCII letters.
        Assert.Equal(["ant eater", "zebra", "Ärger"], data.ClassNames);
        Assert.Equal((1, 3, 4), (data.Channels, data.Height, data.Width));
        Assert.Equal([0L, 0, 0, 1, 1, 2], data.TrainLabels.data<long>().ToArray());
        Assert.Equal([0L, 1], data.ValidLabels.data<long>().ToArray());
        Assert.Equal(Path.Combine("train", "zebra", "img1.png"), data.TrainSources![4]);
        Assert.Equal(Path.Combine("valid", "zebra", "img0.png"), data.ValidSources![1]);
        Assert.Equal(TestImages.Ramp(4, 3, seed: 20 * 2 + 1), Pixels(data.TrainImages, 4));
        Assert.Equal(TestImages.Ramp(4, 3, seed: 20 * 1 + 0), Pixels(data.TrainImages, 5));
        Assert.Empty(data.Skipped);
        Assert.False(data.FromCache);
    }

    [Fact]
    public void A_folder_mixing_grey_and_colour_is_colour_with_grey_replicated()
    {
        GreyFolder("train", "a", 0, 1);
        var rgb = TestImages.Ramp(4, 3, channels: 3, seed: 5);
        TestImages.Bmp(Path.Combine(Data, "train", "b", "x.bmp"), 4, 3, rgb);
        GreyFolder("test", "a", 0, 1);
        using var data = ImageFolder.Load(Data, Options());
        Assert.Equal(3, data.Channels);
        Assert.Equal(TestImages.ToChw(TestImages.Ramp(4, 3), 4, 3, 1, 3), Pixels(data.TrainImages, 0));
        Assert.Equal(TestImages.ToChw(rgb, 4, 3, 3, 3), Pixels(data.TrainImages, 1));
        Assert.Equal(3, data.ValidImages.shape[1]);

        using var forced = ImageFolder.Load(Data, Options() with { Channels = 3 });
        Assert.Equal(3, forced.Channels);
        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options() with { Channels = 1 }));
        Assert.Equal($"{Path.Combine(Data, "train", "b", "x.bmp")}: is a colour image but one channel was asked for (use 3 channels)", e.Message);
    }

    [Fact]
    public void Different_sizes_need_a_size_and_are_resized_with_it()
    {
        GreyFolder("train", "a", 0, 2);
        TestImages.Png(Path.Combine(Data, "train", "b", "big.png"), 8, 6, 1, TestImages.Ramp(8, 6));
        GreyFolder("valid", "b", 1, 1);
        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options()));
        Assert.Equal(Path.GetFullPath(Data), e.File);
        Assert.Contains($"the images have different sizes ({Path.Combine("train", "a", "img0.png")} is 4×3, {Path.Combine("train", "b", "big.png")} is 8×6): give a size (--size N)", e.Message);

        using var data = ImageFolder.Load(Data, Options() with { Size = 5, Method = ResizeMethod.Squish });
        Assert.Equal([3L, 1, 5, 5], data.TrainImages.shape);
        Assert.Equal([1L, 1, 5, 5], data.ValidImages.shape);
        var big = TestImages.ToChw(TestImages.Ramp(8, 6), 8, 6, 1, 1);
        Assert.Equal(ImageDecoder.Resize(big, 1, 6, 8, 5, 5, ResizeMethod.Squish), Pixels(data.TrainImages, 2));
    }

    [Fact]
    public void Without_a_valid_folder_a_seeded_fraction_is_held_out()
    {
        GreyFolder("train", "a", 0, 10);
        GreyFolder("train", "b", 1, 10);
        using var first = ImageFolder.Load(Data, Options() with { ValidPct = 0.25, Seed = 3 });
        using var again = ImageFolder.Load(Data, Options() with { ValidPct = 0.25, Seed = 3 });
        using var other = ImageFolder.Load(Data, Options() with { ValidPct = 0.25, Seed = 4 });
        Assert.Equal(5, first.ValidImages.shape[0]);               // int(0.25·20), as fastai's RandomSplitter
        Assert.Equal(15, first.TrainImages.shape[0]);
        Assert.Equal(first.ValidSources, again.ValidSources);
        Assert.NotEqual(first.ValidSources, other.ValidSources);
        Assert.Empty(first.TrainSources!.Intersect(first.ValidSources!));
        Assert.Equal(20, first.TrainSources!.Union(first.ValidSources!).Count());
        // Each held-out image keeps its class and pixels.
        for (int i = 0; i < 5; i++)
        {
            string source = first.ValidSources![i];
            int cls = source.Contains($"{Path.DirectorySeparatorChar}a{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? 0 : 1;
            int k = int.Parse(Path.GetFileNameWithoutExtension(source)[3..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(cls, first.ValidLabels[i].item<long>());
            Assert.Equal(TestImages.Ramp(4, 3, seed: 20 * cls + k), Pixels(first.ValidImages, i));
        }
    }

    [Fact]
    public void Layout_errors_name_the_folder()
    {
        Directory.CreateDirectory(Path.Combine(Data, "images"));
        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options()));
        Assert.Equal($"{Path.GetFullPath(Data)}: expected a train/ folder with one folder per class (DIR/train/<class>/*.png), found images", e.Message);

        GreyFolder("train", "cat", 0, 1);
        GreyFolder("valid", "dog", 1, 1);
        e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options()));
        Assert.Contains("class 'dog' is not among the training classes (cat)", e.Message);

        Directory.Delete(Path.Combine(Data, "valid"), true);
        Directory.CreateDirectory(Path.Combine(Data, "train", "empty"));
        e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options()));
        Assert.Equal(Path.Combine(Path.GetFullPath(Data), "train", "empty"), e.File);

        var bad = Assert.Throws<ScheduleValidationException>(() => ImageFolder.Load(Data, Options() with { Size = 0, Channels = 2, ValidPct = 1 }));
        Assert.Equal(["size", "channels", "valid-pct"], bad.Errors.Select(x => x.Parameter));
    }

    [Fact]
    public void A_truncated_image_is_an_error_naming_it_unless_skip_bad_lists_it()
    {
        GreyFolder("train", "a", 0, 3);
        GreyFolder("valid", "a", 0, 1);
        string broken = Path.Combine(Data, "train", "a", "img1.png");
        var whole = File.ReadAllBytes(TestImages.Png(broken, 4, 3, 1, TestImages.Ramp(4, 3)));
        File.WriteAllBytes(broken, whole[..(whole.Length - 24)]);

        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options(cache: true)));
        Assert.Equal(broken, e.File);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("--skip-bad", e.Message);

        using var data = ImageFolder.Load(Data, Options(cache: true) with { SkipBad = true });
        var skipped = Assert.Single(data.Skipped);
        Assert.Equal(Path.Combine("train", "a", "img1.png"), skipped.File);
        Assert.StartsWith("truncated", skipped.Reason);
        Assert.Equal([Path.Combine("train", "a", "img0.png"), Path.Combine("train", "a", "img2.png")], data.TrainSources);

        // The cache remembers what it skipped: without --skip-bad the same error comes back, not the cached data.
        e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Data, Options(cache: true)));
        Assert.Equal(broken, e.File);
        using var cached = ImageFolder.Load(Data, Options(cache: true) with { SkipBad = true });
        Assert.True(cached.FromCache);
        Assert.Equal(data.Skipped, cached.Skipped);
    }

    [Fact]
    public void The_cache_is_used_when_whole_and_current_and_rebuilt_otherwise()
    {
        GreyFolder("train", "a", 0, 3);
        GreyFolder("train", "b", 1, 2);
        GreyFolder("valid", "b", 1, 2);
        var messages = new List<string>();
        var progress = new SyncProgress(p => { if (p.Message is { } m) messages.Add(m); });

        using var cold = ImageFolder.Load(Data, Options(cache: true), progress);
        Assert.False(cold.FromCache);
        Assert.NotNull(cold.CacheFile);
        Assert.True(File.Exists(cold.CacheFile));
        Assert.Contains(messages, m => m.StartsWith("decoded images cached in", StringComparison.Ordinal));

        using var warm = ImageFolder.Load(Data, Options(cache: true), progress);
        Assert.True(warm.FromCache);
        Assert.True(Same(warm.TrainImages, cold.TrainImages));
        Assert.True(Same(warm.ValidLabels, cold.ValidLabels));
        Assert.Equal(cold.TrainSources, warm.TrainSources);
        Assert.Equal(cold.ClassNames, warm.ClassNames);

        // Other options: another cache file (the old one of this folder is replaced when it is written).
        using var squished = ImageFolder.Load(Data, Options(cache: true) with { Size = 6, Method = ResizeMethod.Squish });
        Assert.False(squished.FromCache);
        Assert.False(File.Exists(cold.CacheFile));

        // A corrupted pixel: the checksum catches it, the data is decoded again and correct.
        var bytes = File.ReadAllBytes(squished.CacheFile!);
        bytes[^3] ^= 0xFF;
        File.WriteAllBytes(squished.CacheFile!, bytes);
        messages.Clear();
        using var rebuilt = ImageFolder.Load(Data, Options(cache: true) with { Size = 6, Method = ResizeMethod.Squish }, progress);
        Assert.False(rebuilt.FromCache);
        Assert.Contains(messages, m => m.Contains("checksum does not match", StringComparison.Ordinal));
        Assert.True(Same(rebuilt.ValidImages, squished.ValidImages));

        // A truncated cache file is not trusted either.
        File.WriteAllBytes(rebuilt.CacheFile!, File.ReadAllBytes(rebuilt.CacheFile!)[..100]);
        using var again = ImageFolder.Load(Data, Options(cache: true) with { Size = 6, Method = ResizeMethod.Squish });
        Assert.False(again.FromCache);

        // An edited image changes the key: a miss, with the new pixels.
        TestImages.Png(Path.Combine(Data, "train", "a", "img0.png"), 4, 3, 1, Enumerable.Repeat((byte)9, 12).ToArray());
        File.SetLastWriteTimeUtc(Path.Combine(Data, "train", "a", "img0.png"), DateTime.UtcNow.AddMinutes(1));
        using var edited = ImageFolder.Load(Data, Options(cache: true));
        Assert.False(edited.FromCache);
        Assert.All(Pixels(edited.TrainImages, 0), p => Assert.Equal(9, p));
        Assert.Single(Directory.GetFiles(_dir["cache"]));
    }

    [Fact]
    public void Progress_reports_decoding_to_the_end_and_each_file_is_read_in_one_pass()
    {
        GreyFolder("train", "a", 0, 30);
        GreyFolder("valid", "a", 0, 5);
        var last = new Dictionary<string, ImageLoadProgress>();
        using var data = ImageFolder.Load(Data, Options(), new SyncProgress(p => last[p.Stage] = p));
        Assert.Equal(35, last["decode"].Done);
        Assert.Equal(35, last["decode"].Total);
        Assert.Equal(35, last["scan"].Total);
        // Headers are read separately only to name the offender of a refused folder (sizes differ, colour for one channel).
        Assert.False(last.ContainsKey("header"));
    }

    [Fact]
    public void Normalization_statistics_are_exact_and_applied_per_channel()
    {
        using var images = tensor(new byte[] { 0, 255, 10, 20, 255, 0, 30, 40 }, [2, 2, 1, 2]);
        var stats = ImageNormalization.FromImages(images);
        Assert.Equal(0.5, stats.Mean[0], 15);
        Assert.Equal(Math.Sqrt(1.0 / 3.0), stats.Std[0], 15);                 // unbiased, over [0, 1, 1, 0]
        Assert.Equal(25.0 / 255, stats.Mean[1], 15);
        Assert.Equal(Math.Sqrt(500.0 / 3) / 255, stats.Std[1], 15);
        using var normalized = stats.Apply(images);
        Assert.Equal((float)((1.0 - 0.5) / Math.Sqrt(1.0 / 3.0)), normalized[0, 0, 0, 1].item<float>(), 6);
        Assert.Equal((float)((40 / 255.0 - 25.0 / 255) / (Math.Sqrt(500.0 / 3) / 255)), normalized[1, 1, 0, 1].item<float>(), 5);
        Assert.Equal(ScalarType.Float32, normalized.dtype);
        Assert.Empty(ImageNormalization.ImageNet.Validate());
        Assert.Equal(["std"], new ImageNormalization([0.5], [0.0]).Validate().Select(e => e.Parameter));
    }

    /// <summary>A synchronous <see cref="IProgress{T}"/> (the loader reports one call at a time).</summary>
    internal sealed class SyncProgress(Action<ImageLoadProgress> report) : IProgress<ImageLoadProgress>
    {
        public void Report(ImageLoadProgress value) => report(value);
    }
}
