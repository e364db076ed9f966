using System.Globalization;
using System.IO.Enumeration;
using Cadence.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>How an image folder is read (fastai's <c>ImageDataLoaders.from_folder</c> with <c>item_tfms=Resize(size)</c>).</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Largest side accepted for <see cref="Size"/>.</summary>
    public const int MaxSize = 4096;

    /// <summary>Side of the square every image is resized to; null keeps the images' own size, which must then be the same for all.</summary>
    public int? Size { get; init; }

    /// <summary>How images are brought to <see cref="Size"/> (fastai's default: <see cref="ResizeMethod.Crop"/>).</summary>
    public ResizeMethod Method { get; init; } = ResizeMethod.Crop;

    /// <summary>1 or 3; null: 1 when every image is grey, else 3 (grey images replicated into three channels).</summary>
    public int? Channels { get; init; }

    /// <summary>Fraction of the training images held out for validation when the folder has no <c>valid/</c> or <c>test/</c> (fastai's <c>valid_pct</c>).</summary>
    public double ValidPct { get; init; } = 0.2;

    /// <summary>Seed of the <see cref="ValidPct"/> split.</summary>
    public long Seed { get; init; }

    /// <summary>Leave out images that cannot be read (listed in <see cref="ImageData.Skipped"/>) instead of failing.</summary>
    public bool SkipBad { get; init; }

    /// <summary>Whether decoded images are cached on disk (see <see cref="ImageCache"/>).</summary>
    public bool Cache { get; init; } = true;

    /// <summary>Folder of the decode cache; null: <see cref="ImageCache.DefaultDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Images decoded at once; 0: one per processor.</summary>
    public int Parallelism { get; init; }

    /// <summary>Every invalid option, named as on the command line.</summary>
    public IEnumerable<ValidationError> Validate()
    {
        if (Size is { } s && !(s >= 1 && s <= MaxSize)) yield return new("size", $"must be an integer in [1, {MaxSize}], got {s}");
        if (Channels is { } c && c is not (1 or 3)) yield return new("channels", $"must be 1 or 3, got {c}");
        if (!(ValidPct > 0 && ValidPct < 1)) yield return new("valid-pct", $"must be in (0, 1), got {ValidPct.ToString("R", CultureInfo.InvariantCulture)}");
        if (!Enum.IsDefined(Method)) yield return new("resize", $"must be crop or squish, got {Method}");
        if (Parallelism < 0) yield return new("parallelism", $"must be ≥ 0, got {Parallelism}");
    }

    internal void ThrowIfInvalid()
    {
        var errors = Validate().ToArray();
        if (errors.Length > 0) throw new ScheduleValidationException(errors);
    }
}

/// <summary>Progress of loading images, reported through <see cref="IProgress{T}"/>.</summary>
/// <param name="Stage">What is being done: <c>scan</c>, <c>header</c>, <c>decode</c> or <c>cache</c>.</param>
/// <param name="Done">Items done in this stage.</param>
/// <param name="Total">Items in this stage.</param>
/// <param name="Message">A line worth showing (cache used, rebuilt, not written), or null.</param>
public readonly record struct ImageLoadProgress(string Stage, long Done, long Total, string? Message = null);

/// <summary>
/// Reads a folder laid out as fastai and torchvision expect: <c>DIR/train/&lt;class&gt;/*.{png,jpg,jpeg,bmp}</c> and
/// <c>DIR/valid/&lt;class&gt;/…</c> (or <c>DIR/test/</c>), or only <c>train/</c> with a seeded
/// <see cref="ImageFolderOptions.ValidPct"/> split. Class names are the class folders' names (any characters the file
/// system allows), sorted ordinally; images inside a class folder are found recursively and read in ordinal order of
/// their paths. Files with other extensions and hidden entries (names starting with '.') are ignored.
/// Images are decoded in parallel once and cached (<see cref="ImageCache"/>).
/// </summary>
public static class ImageFolder
{
    /// <summary>Names of the validation folder, in order of preference.</summary>
    public static IReadOnlyList<string> ValidFolderNames { get; } = ["valid", "test"];

    /// <summary>Loads <paramref name="directory"/>.</summary>
    /// <param name="directory">The data folder (holding <c>train/</c>).</param>
    /// <param name="options">Size, channels, split, bad-image policy, cache.</param>
    /// <param name="progress">Receives progress; called from worker threads, one call at a time.</param>
    /// <param name="cancellationToken">Stops decoding.</param>
    /// <exception cref="ScheduleValidationException">An option is out of range (every bad option named).</exception>
    /// <exception cref="DataFormatException">The layout is wrong, an image cannot be read (without <c>SkipBad</c>), or sizes differ without a size.</exception>
    public static ImageData Load(string directory, ImageFolderOptions? options = null, IProgress<ImageLoadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        options ??= new ImageFolderOptions();
        options.ThrowIfInvalid();
        var layout = Scan(directory, options);
        progress?.Report(new ImageLoadProgress("scan", layout.Files.Count, layout.Files.Count));

        string? cacheFile = null;
        if (options.Cache)
        {
            var cache = new ImageCache(options.CacheDirectory ?? ImageCache.DefaultDirectory);
            cacheFile = cache.PathFor(layout.Root, ImageCache.Key(layout.Files, options));
            var (cached, why) = cache.TryRead(cacheFile, layout, options);
            if (cached is not null)
            {
                progress?.Report(new ImageLoadProgress("cache", 1, 1, $"decoded images read from the cache {cacheFile}"));
                return cached;
            }
            if (why is not null) progress?.Report(new ImageLoadProgress("cache", 0, 1, why));
        }

        var data = Decode(layout, options, progress, cancellationToken);
        if (cacheFile is null) return data;
        try
        {
            new ImageCache(options.CacheDirectory ?? ImageCache.DefaultDirectory).Write(cacheFile, layout.Root, data);
            progress?.Report(new ImageLoadProgress("cache", 1, 1, $"decoded images cached in {cacheFile}"));
            data.CacheFile = cacheFile;
            return data;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The cache is an optimisation: the data is complete without it.
            progress?.Report(new ImageLoadProgress("cache", 0, 1, $"decoded images not cached ({e.Message})"));
            return data;
        }
    }

    /// <summary>
    /// One image file: its path relative to the data folder, its class, whether it is a validation image, and its size
    /// and modification time as the scan found them (the decode cache's key).
    /// </summary>
    internal sealed record Item(string Relative, string Full, int Label, bool Valid, long Length, long ModifiedTicks);

    internal sealed record Layout(string Root, IReadOnlyList<string> Classes, IReadOnlyList<Item> Files, string? ValidFolder);

    /// <summary>Finds the classes and files; draws the validation split when there is no validation folder.</summary>
    internal static Layout Scan(string directory, ImageFolderOptions options)
    {
        if (!Directory.Exists(directory)) throw new DataFormatException(directory, "directory not found");
        string root = Path.GetFullPath(directory);
        string trainDir = Path.Combine(root, "train");
        if (!Directory.Exists(trainDir))
            throw new DataFormatException(root, $"expected a train/ folder with one folder per class (DIR/train/<class>/*.png), found {Describe(root)}");
        string? validName = ValidFolderNames.FirstOrDefault(n => Directory.Exists(Path.Combine(root, n)));
        var classes = ClassFolders(trainDir);
        if (classes.Length == 0) throw new DataFormatException(trainDir, "expected one folder per class, found none");
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        int parallelism = options.Parallelism > 0 ? options.Parallelism : Environment.ProcessorCount;
        var train = Files(root, trainDir, classes, index, valid: false, parallelism);

        List<Item> files;
        if (validName is not null)
        {
            string validDir = Path.Combine(root, validName);
            var validClasses = ClassFolders(validDir);
            var unknown = validClasses.Where(c => !index.ContainsKey(c)).ToArray();
            if (unknown.Length > 0)
                throw new DataFormatException(Path.Combine(validDir, unknown[0]),
                    $"class '{unknown[0]}' is not among the training classes ({string.Join(", ", classes)}): every validation class needs a train/ folder");
            files = [.. train, .. Files(root, validDir, validClasses, index, valid: true, parallelism)];
        }
        else
        {
            // fastai's RandomSplitter: shuffle with the seed, the first int(valid_pct·n) are validation images.
            int n = train.Count;
            int cut = (int)(options.ValidPct * n);
            if (cut < 1 || cut >= n)
                throw new DataFormatException(root, $"no valid/ or test/ folder, and {n} training images are too few for a {options.ValidPct.ToString("R", CultureInfo.InvariantCulture)} validation split (it would hold {cut})");
            var order = Enumerable.Range(0, n).ToArray();
            new Random(unchecked((int)options.Seed)).Shuffle(order);
            var isValid = new bool[n];
            foreach (var i in order[..cut]) isValid[i] = true;
            files = [.. train.Select((f, i) => f with { Valid = isValid[i] })];
        }
        return new Layout(root, classes, files, validName);
    }

    private static string[] ClassFolders(string dir) =>
        [.. Directory.EnumerateDirectories(dir).Select(Path.GetFileName).Where(n => n is not null && !n.StartsWith('.')).Select(n => n!).Order(StringComparer.Ordinal)];

    /// <summary>
    /// The images of every class folder under <paramref name="dir"/>, class by class, each class in ordinal order of the
    /// paths. The folders are listed in parallel and every file's size and time are taken from the listing itself:
    /// on a cached start this scan is most of the work.
    /// </summary>
    private static List<Item> Files(string root, string dir, string[] classes, Dictionary<string, int> index, bool valid, int parallelism)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden };
        var perClass = new Item[classes.Length][];
        Parallel.For(0, classes.Length, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, c =>
        {
            string classDir = Path.Combine(dir, classes[c]);
            var found = new FileSystemEnumerable<(string Full, long Length, long Ticks)>(classDir,
                (ref FileSystemEntry e) => (e.ToFullPath(), e.Length, e.LastWriteTimeUtc.UtcTicks), options)
            {
                ShouldIncludePredicate = (ref FileSystemEntry e) => !e.IsDirectory && !e.FileName.StartsWith('.') && ImageDecoder.IsImage(e.FileName),
                ShouldRecursePredicate = (ref FileSystemEntry e) => !e.FileName.StartsWith('.'),
            }.ToArray();
            // Every path in a class shares its folder as prefix, so ordering the full paths orders the relative ones.
            Array.Sort(found.Select(f => f.Full).ToArray(), found, StringComparer.Ordinal);
            perClass[c] = [.. found.Select(f =>
            {
                string relative = Path.GetRelativePath(root, f.Full);
                return new Item(relative, f.Full, index[classes[c]], valid, f.Length, f.Ticks);
            })];
        });
        int empty = Array.FindIndex(perClass, items => items.Length == 0);
        if (empty >= 0)
            throw new DataFormatException(Path.Combine(dir, classes[empty]), $"class folder without images: expected files ending in {string.Join(", ", ImageDecoder.Extensions)}");
        return [.. perClass.SelectMany(items => items)];
    }

    private static string Describe(string root)
    {
        var entries = Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName).Take(6).ToArray();
        return entries.Length == 0 ? "an empty folder" : string.Join(", ", entries) + (entries.Length == 6 ? ", …" : "");
    }

    private static ImageData Decode(Layout layout, ImageFolderOptions options, IProgress<ImageLoadProgress>? progress, CancellationToken ct)
    {
        var files = layout.Files;
        int n = files.Count;
        var parallel = new ParallelOptions
        {
            CancellationToken = ct,
            MaxDegreeOfParallelism = options.Parallelism > 0 ? options.Parallelism : Environment.ProcessorCount,
        };
        var reporter = new Reporter(progress, n);

        // One pass: every file is read and decoded once, in the channels it is encoded with, and resized when a size is
        // given, so each kept image takes at most the bytes it will have in the result. Without a size, every image must
        // have the size of the first one decoded; an image that does not, or a colour image when one channel was asked
        // for, stops the pass, and Refuse reads the headers to name the first offender in file order.
        var pixels = new byte[]?[n];
        var grey = new bool[n];
        var bad = new string?[n];
        long commonSize = -1;
        bool refused = false;
        reporter.Start("decode");
        Parallel.For(0, n, parallel, (i, loop) =>
        {
            try
            {
                var image = ImageDecoder.Decode(files[i].Full);
                long size = ((long)image.Height << 32) | (uint)image.Width;
                long first = options.Size is null ? Interlocked.CompareExchange(ref commonSize, size, -1) : -1;
                if ((options.Channels == 1 && !image.Grey) || (first != -1 && first != size))
                {
                    Volatile.Write(ref refused, true);
                    loop.Stop();
                    return;
                }
                pixels[i] = options.Size is { } s
                    ? ImageDecoder.Resize(image.Pixels, image.Channels, image.Height, image.Width, s, s, options.Method)
                    : image.Pixels;
                grey[i] = image.Grey;
            }
            catch (DataFormatException e) { bad[i] = e.Message; }
            reporter.Tick();
        });
        if (refused) throw Refuse(layout, options, parallel, reporter);
        ThrowFirstBad(files, bad, options);

        var kept = Enumerable.Range(0, n).Where(i => bad[i] is null).ToArray();
        if (kept.Length == 0) throw new DataFormatException(layout.Root, "no readable image");
        int channels = options.Channels ?? (kept.All(i => grey[i]) ? 1 : 3);
        var (height, width) = options.Size is { } side ? (side, side) : ((int)(commonSize >> 32), (int)(uint)commonSize);
        var skipped = Enumerable.Range(0, n).Where(i => bad[i] is not null)
            .Select(i => new SkippedImage(files[i].Relative, Reason(bad[i]!, files[i].Full))).ToArray();
        var train = kept.Where(i => !files[i].Valid).ToArray();
        var valid = kept.Where(i => files[i].Valid).ToArray();
        if (train.Length == 0) throw new DataFormatException(Path.Combine(layout.Root, "train"), "no readable training image");
        if (valid.Length == 0) throw new DataFormatException(layout.Root, "no readable validation image");
        int plane = channels * height * width;
        using var scope = NewDisposeScope();
        (Tensor Images, Tensor Labels) Stack(int[] set)
        {
            // Straight into the tensor's memory, image by image.
            var images = empty([set.Length, channels, height, width], ScalarType.Byte);
            var target = images.bytes;
            for (int j = 0; j < set.Length; j++)
            {
                var image = pixels[set[j]]!;
                // A grey image among colour ones is replicated into the three channels.
                for (int at = 0; at < plane; at += image.Length) image.CopyTo(target.Slice(j * plane + at, image.Length));
                pixels[set[j]] = null;
            }
            return (images, tensor(set.Select(i => (long)files[i].Label).ToArray()));
        }
        var (xt, yt) = Stack(train);
        var (xv, yv) = Stack(valid);
        return new ImageData(xt, yt, xv, yv, layout.Classes,
            [.. train.Select(i => files[i].Relative)], [.. valid.Select(i => files[i].Relative)], skipped);
    }

    /// <summary>
    /// The error of a stopped decode pass, named as the header pass finds it in file order: the first unreadable image
    /// (without <c>SkipBad</c>), the first colour image when one channel was asked for, or the first image whose size
    /// differs from the first readable one's.
    /// </summary>
    private static DataFormatException Refuse(Layout layout, ImageFolderOptions options, ParallelOptions parallel, Reporter reporter)
    {
        var files = layout.Files;
        int n = files.Count;
        var headers = new ImageHeader[n];
        var bad = new string?[n];
        reporter.Start("header");
        Parallel.For(0, n, parallel, i =>
        {
            try { headers[i] = ImageDecoder.Probe(files[i].Full); }
            catch (DataFormatException e) { bad[i] = e.Message; }
            reporter.Tick();
        });
        ThrowFirstBad(files, bad, options);
        var good = Enumerable.Range(0, n).Where(i => bad[i] is null).ToArray();
        if (good.Length == 0) return new DataFormatException(layout.Root, "no readable image");
        if (options.Channels == 1 && good.FirstOrDefault(i => !headers[i].Grey, -1) is var colour and >= 0)
            return new DataFormatException(files[colour].Full, "is a colour image but one channel was asked for (use 3 channels)");
        TargetSize(layout, headers, good, options);
        // The decoder and the header disagree (an image whose size changed between the two passes): name the folder.
        return new DataFormatException(layout.Root, "the images changed while they were read: run again");
    }

    private static (int Height, int Width) TargetSize(Layout layout, ImageHeader[] headers, int[] good, ImageFolderOptions options)
    {
        if (options.Size is { } s) return (s, s);
        var first = headers[good[0]];
        int other = good.FirstOrDefault(i => headers[i].Width != first.Width || headers[i].Height != first.Height, -1);
        if (other < 0) return (first.Height, first.Width);
        var f = layout.Files;
        throw new DataFormatException(layout.Root,
            $"the images have different sizes ({f[good[0]].Relative} is {first.Width}×{first.Height}, {f[other].Relative} is {headers[other].Width}×{headers[other].Height}): give a size (--size N) to resize them all to N×N");
    }

    private static void ThrowFirstBad(IReadOnlyList<Item> files, string?[] bad, ImageFolderOptions options)
    {
        if (options.SkipBad) return;
        int i = Array.FindIndex(bad, b => b is not null);
        if (i < 0) return;
        int count = bad.Count(b => b is not null);
        throw new DataFormatException(files[i].Full,
            Reason(bad[i]!, files[i].Full) + (count > 1 ? $" ({count - 1} more unreadable images; --skip-bad leaves them out and lists them)" : " (--skip-bad leaves unreadable images out and lists them)"));
    }

    /// <summary>A <see cref="DataFormatException"/>'s message without the file name it starts with.</summary>
    private static string Reason(string message, string file) =>
        message.StartsWith(file + ": ", StringComparison.Ordinal) ? message[(file.Length + 2)..] : message;

    /// <summary>Counts finished items across threads and reports about every 1% (and the last), one report at a time.</summary>
    private sealed class Reporter(IProgress<ImageLoadProgress>? progress, long total)
    {
        private readonly Lock _lock = new();
        private long _done, _total = total, _every = 1, _next;
        private string _stage = "";

        public void Start(string stage, long? total = null)
        {
            (_stage, _done) = (stage, 0);
            if (total is { } t) _total = t;
            _every = Math.Max(1, _total / 100);
            _next = _every;
        }

        public void Tick()
        {
            long done = Interlocked.Increment(ref _done);
            if (progress is null || (done < Volatile.Read(ref _next) && done != _total)) return;
            lock (_lock)
            {
                if (done < _next && done != _total) return;
                _next = done + _every;
                progress.Report(new ImageLoadProgress(_stage, done, _total));
            }
        }
    }
}
