using Cadence.Data;
using Cadence.Models;
using Spectre.Console;
using static TorchSharp.torch;

namespace Cadence.Cli.Training;

/// <summary>
/// The image kinds of <c>--data</c>: an image folder (decoded once, cached, with a progress bar when a person watches),
/// CIFAR-10 and IDX files, each as normalized datasets plus the card that prepares new images the same way.
/// </summary>
internal static class ImageLoading
{
    /// <summary><c>--data folder DIR</c> with the image options; <c>--weights</c> selects ImageNet's statistics for three channels (fastai).</summary>
    public static LoadedData Folder(TrainingSettings s, string dir, long seed, DataLog log)
    {
        var options = new ImageFolderOptions
        {
            Size = (int?)s.Size,
            Method = s.Resize == "squish" ? ResizeMethod.Squish : ResizeMethod.Crop,
            Channels = s.Channels is null ? null : int.Parse(s.Channels, CultureInfo.InvariantCulture),
            ValidPct = s.ValidPct ?? 0.2,
            Seed = seed,
            SkipBad = s.SkipBad,
            Cache = !s.NoCache,
            CacheDirectory = s.CacheDir,
        };
        using var images = log.Decoding(progress => ImageFolder.Load(dir, options, progress));
        foreach (var skipped in images.Skipped) log.Say($"--skip-bad: skipped {Path.Combine(dir, skipped.File)}: {skipped.Reason}");
        if (images.Skipped.Count > 0) log.Say($"--skip-bad: {images.Skipped.Count} unreadable image{(images.Skipped.Count == 1 ? "" : "s")} left out");
        return FromImages(images, s.Weights is not null, options.Method, log, $"--data folder {dir}");
    }

    /// <summary><c>--data cifar10 DIR</c>.</summary>
    public static LoadedData Cifar10(TrainingSettings s, string dir, DataLog log)
    {
        using var images = Data.Cifar10.Load(dir);
        return FromImages(images, s.Weights is not null, ResizeMethod.Crop, log, $"--data cifar10 {dir}");
    }

    /// <summary><c>--data idx DIR</c> and Fashion-MNIST (the numbers of <c>make demo</c>: IdxImages' own normalization).</summary>
    public static LoadedData Idx(string dir, IReadOnlyList<string>? classNames)
    {
        var (train, valid, normalization) = IdxImages.LoadNormalized(dir);
        var classes = classNames ?? [.. Enumerable.Range(0, train.Classes).Select(i => i.ToString(CultureInfo.InvariantCulture))];
        var shape = train.SampleShape;
        var card = ModelCard.ForImages("", classes, (int)shape[0], (int)shape[1], (int)shape[2], ResizeMethod.Crop, normalization);
        return new LoadedData(train, valid, classNames, card);
    }

    private static LoadedData FromImages(ImageData images, bool pretrained, ResizeMethod resize, DataLog log, string what)
    {
        var normalization = ImageNormalization.For(images, pretrained);
        log.Say(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {images.TrainLabels.shape[0]} training and {images.ValidLabels.shape[0]} validation images, {images.Width}×{images.Height}, {images.Channels} channel{(images.Channels == 1 ? "" : "s")}; {images.ClassNames.Count} classes: {string.Join(", ", images.ClassNames)}"));
        if (pretrained && images.Channels == 3) log.Say("--weights: images normalized with ImageNet's mean and std (fastai's choice for pretrained weights)");
        var (train, valid) = images.ToDatasets(normalization);
        var card = ModelCard.ForImages("", images.ClassNames, images.Channels, images.Height, images.Width, resize, normalization);
        return new LoadedData(train, valid, images.ClassNames, card);
    }

    /// <summary>
    /// The validation images as decoded (uint8 [N, C, H, W]), recovered from the normalized dataset: the float32
    /// round trip is within 1e-4 of a pixel level, so rounding gives the decoded bytes back (for the top-losses chart).
    /// </summary>
    public static Tensor Pixels(InMemoryDataset valid, ImageNormalization normalization)
    {
        using var scope = NewDisposeScope();
        int c = normalization.Channels;
        var mean = tensor(normalization.Mean.Select(v => (float)v).ToArray(), [1, c, 1, 1]);
        var std = tensor(normalization.Std.Select(v => (float)v).ToArray(), [1, c, 1, 1]);
        return valid.Features.cpu().mul(std).add_(mean).mul_(255f).round_().clamp_(0, 255).to_type(ScalarType.Byte).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Where loading data reports: one line per fact on stderr (<c>cadence COMMAND: …</c>, each said once however often an
/// experiment loads), and a live progress bar while images are decoded when a person watches (as <c>fit</c>'s).
/// </summary>
internal sealed class DataLog(TextWriter err, string command, bool live)
{
    private readonly HashSet<string> _said = [];

    /// <summary>A log for <paramref name="command"/>: live when stderr is this process's terminal and stdout is not piped away.</summary>
    public static DataLog For(Io io, string command, bool json) => new(io.Err, command, io.ErrIsTerminal && (json || !Console.IsOutputRedirected));

    public void Say(string line)
    {
        if (!_said.Add(line)) return;
        err.WriteLine(Line(line));
        err.Flush();
    }

    private string Line(string text) => $"cadence {command}: {text}";

    /// <summary>Runs <paramref name="load"/>; its progress drives a bar per stage when live, and its messages (the cache's) become lines.</summary>
    public T Decoding<T>(Func<IProgress<ImageLoadProgress>, T> load)
    {
        if (!live) return load(new Lines(this));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx => load(new Bars(this, console, ctx)));
    }

    private sealed class Lines(DataLog log) : IProgress<ImageLoadProgress>
    {
        public void Report(ImageLoadProgress p)
        {
            if (p.Message is { } m) log.Say(m);
        }
    }

    private sealed class Bars(DataLog log, IAnsiConsole console, ProgressContext ctx) : IProgress<ImageLoadProgress>
    {
        private readonly Dictionary<string, ProgressTask> _tasks = [];

        public void Report(ImageLoadProgress p)
        {
            // Lines go through the live console, which draws them above the bars.
            if (p.Message is { } m && log._said.Add(m)) console.WriteLine(log.Line(m));
            if (p.Stage is not ("header" or "decode")) return;
            if (!_tasks.TryGetValue(p.Stage, out var task))
                _tasks[p.Stage] = task = ctx.AddTask(p.Stage == "header" ? "reading image headers" : "decoding images", maxValue: Math.Max(1, p.Total));
            task.Value = p.Done;
        }
    }
}
