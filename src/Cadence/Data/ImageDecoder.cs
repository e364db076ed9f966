using System.Runtime.InteropServices;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>How an image is brought to the target size (fastai's <c>ResizeMethod</c>).</summary>
public enum ResizeMethod
{
    /// <summary>
    /// The largest centred crop with the target's aspect ratio, then resized (fastai <c>ResizeMethod.Crop</c>, its
    /// default; fastai picks the crop at random on the training set, Cadence decodes once and always centres it).
    /// </summary>
    Crop,

    /// <summary>The whole image resized to the target, aspect ratio not kept (fastai <c>ResizeMethod.Squish</c>).</summary>
    Squish,
}

/// <summary>What an image file's header says: its size and whether its pixels are encoded as grey.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Grey">Encoded as greyscale (PNG grey, single-component JPEG); an RGB file with grey pixels is colour.</param>
public readonly record struct ImageHeader(int Width, int Height, bool Grey);

/// <summary>An image decoded at its own size, channel-first, in the channels it is encoded with.</summary>
/// <param name="Pixels">Channel-first bytes, <c>Channels × Height × Width</c>.</param>
/// <param name="Channels">1 for a grey file, 3 (RGB) for a colour one (alpha dropped).</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Width">Width in pixels.</param>
public readonly record struct DecodedImage(byte[] Pixels, int Channels, int Height, int Width)
{
    /// <summary>Whether the file encodes grey pixels (one channel).</summary>
    public bool Grey => Channels == 1;
}

/// <summary>
/// Decodes PNG, JPEG and BMP files with SkiaSharp into channel-first bytes, and resizes them as fastai's
/// <c>Resize</c> does: bilinear with antialiasing when shrinking (PIL's <c>BILINEAR</c>), computed with
/// <c>torch.nn.functional.interpolate(antialias=True)</c> and rounded to the nearest byte. Colour images lose
/// their alpha channel unblended (PIL's <c>convert('RGB')</c>); EXIF orientation is not applied (PIL does not either).
/// Thread-safe: the loader decodes in parallel.
/// </summary>
public static class ImageDecoder
{
    /// <summary>File extensions read from image folders (any case).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp"];

    /// <summary>Whether <paramref name="path"/> has one of the <see cref="Extensions"/>.</summary>
    public static bool IsImage(string path) => IsImage(path.AsSpan());

    /// <summary>Whether <paramref name="path"/> has one of the <see cref="Extensions"/>.</summary>
    public static bool IsImage(ReadOnlySpan<char> path)
    {
        var extension = Path.GetExtension(path);
        foreach (var known in Extensions)
            if (extension.Equals(known, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Reads the header of <paramref name="path"/> without decoding its pixels.</summary>
    /// <exception cref="DataFormatException">Missing, unreadable, or not a PNG/JPEG/BMP image.</exception>
    public static ImageHeader Probe(string path) =>
        WithCodec(Read(path), path, codec => new ImageHeader(codec.Info.Width, codec.Info.Height, codec.Info.ColorType == SKColorType.Gray8));

    /// <summary>
    /// Decodes <paramref name="path"/> into <paramref name="channels"/> (1 or 3) channel-first bytes at its own size:
    /// grey files keep one channel or are replicated into three; colour files need three.
    /// </summary>
    /// <exception cref="DataFormatException">Unreadable, truncated or corrupt; or a colour image asked for one channel.</exception>
    public static (byte[] Pixels, int Height, int Width) Decode(string path, int channels)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "must be 1 or 3");
        var image = Decode(path);
        if (!image.Grey && channels == 1)
            throw new DataFormatException(path, "expected a greyscale image (one channel was asked for), found a colour image");
        return (ToChannels(image.Pixels, image.Channels, channels), image.Height, image.Width);
    }

    /// <summary>
    /// Reads <paramref name="path"/> once and decodes it at its own size in the channels it is encoded with: one for
    /// grey files, three (RGB) for colour ones.
    /// </summary>
    /// <exception cref="DataFormatException">Missing, unreadable, truncated or corrupt.</exception>
    public static DecodedImage Decode(string path) => WithCodec(Read(path), path, codec => Decode(codec, path));

    /// <summary>The bytes of <paramref name="path"/>, with the errors every reader of images gives.</summary>
    private static byte[] Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { throw new DataFormatException(path, "file not found", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataFormatException(path, $"cannot read: {e.Message}", e); }
        if (bytes.Length == 0) throw new DataFormatException(path, "expected a PNG, JPEG or BMP image, found an empty file");
        return bytes;
    }

    /// <summary>Runs <paramref name="use"/> on a codec over <paramref name="encoded"/> (<paramref name="path"/> only names it in errors).</summary>
    private static T WithCodec<T>(byte[] encoded, string path, Func<SKCodec, T> use)
    {
        // The codec reads the caller's bytes in place (no copy): they stay pinned until it is disposed.
        var pinned = GCHandle.Alloc(encoded, GCHandleType.Pinned);
        try
        {
            using var data = SKData.Create(pinned.AddrOfPinnedObject(), encoded.Length);
            // The codec takes the stream over (and frees it when it cannot open it).
            using var codec = SKCodec.Create(new SKMemoryStream(data), out var opened)
                ?? throw new DataFormatException(path, $"expected a PNG, JPEG or BMP image, found data SkiaSharp cannot read ({opened})");
            return use(codec);
        }
        finally { pinned.Free(); }
    }

    private static DecodedImage Decode(SKCodec codec, string path)
    {
        var info = codec.Info;
        bool grey = info.ColorType == SKColorType.Gray8;
        int w = info.Width, h = info.Height, plane = w * h;
        var decodeInfo = new SKImageInfo(w, h, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        var raw = new byte[decodeInfo.BytesSize];
        var target = GCHandle.Alloc(raw, GCHandleType.Pinned);
        SKCodecResult result;
        try { result = codec.GetPixels(decodeInfo, target.AddrOfPinnedObject(), decodeInfo.RowBytes, new SKCodecOptions()); }
        finally { target.Free(); }
        if (result != SKCodecResult.Success)
            throw new DataFormatException(path, result == SKCodecResult.IncompleteInput
                ? $"truncated: the {Kind(codec)} data ends before the last row of its {w}×{h} pixels"
                : $"cannot decode the {Kind(codec)} data ({result})");
        if (grey) return new DecodedImage(raw, 1, h, w);
        var chw = new byte[3 * plane];
        for (int i = 0; i < plane; i++)
        {
            chw[i] = raw[4 * i];
            chw[plane + i] = raw[4 * i + 1];
            chw[2 * plane + i] = raw[4 * i + 2];
        }
        return new DecodedImage(chw, 3, h, w);
    }

    /// <summary>
    /// Channel-first bytes with <paramref name="from"/> channels as <paramref name="to"/> channels: the same array when
    /// they agree, a grey plane replicated into three channels otherwise (three into one is refused).
    /// </summary>
    internal static byte[] ToChannels(byte[] pixels, int from, int to)
    {
        if (from == to) return pixels;
        if (from != 1 || to != 3) throw new ArgumentException($"cannot turn {from} channels into {to}", nameof(to));
        var rgb = new byte[3 * pixels.Length];
        for (int c = 0; c < 3; c++) Buffer.BlockCopy(pixels, 0, rgb, c * pixels.Length, pixels.Length);
        return rgb;
    }

    /// <summary>
    /// Resizes channel-first bytes to <paramref name="height"/>×<paramref name="width"/> with fastai's
    /// <see cref="ResizeMethod"/>: <c>Crop</c> takes the centred crop of size <c>(int(m·width), int(m·height))</c> with
    /// <c>m = min(w/width, h/height)</c> at <c>(int((w − cw)/2), int((h − ch)/2))</c>; <c>Squish</c> takes the whole image.
    /// Returns the input when it already has the size (and <c>Crop</c> would take all of it).
    /// </summary>
    public static byte[] Resize(byte[] pixels, int channels, int h, int w, int height, int width, ResizeMethod method)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != channels * h * w)
            throw new ArgumentException($"expected {channels}×{h}×{w} = {channels * h * w} bytes, got {pixels.Length}", nameof(pixels));
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"the target size must be positive, got {height}×{width}");
        int top = 0, left = 0, ch = h, cw = w;
        if (method == ResizeMethod.Crop)
        {
            // fastai: m = w/size_w if w/size_w < h/size_h else h/size_h; the crop keeps the target's aspect ratio.
            double rw = (double)w / width, rh = (double)h / height;
            double m = rw < rh ? rw : rh;
            (cw, ch) = ((int)(m * width), (int)(m * height));
            (left, top) = ((int)(0.5 * (w - cw)), (int)(0.5 * (h - ch)));
        }
        if (ch == height && cw == width && ch == h && cw == w) return pixels;
        using var scope = NewDisposeScope();
        var x = tensor(pixels, [1, channels, h, w]).to_type(ScalarType.Float32);
        if (ch != h || cw != w) x = x[.., .., top..(top + ch), left..(left + cw)];
        if (ch != height || cw != width)
            x = nn.functional.interpolate(x, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
        var bytes = x.round_().clamp_(0, 255).to_type(ScalarType.Byte).contiguous();
        return bytes.bytes.ToArray();
    }

    private static string Kind(SKCodec codec) => codec.EncodedFormat switch
    {
        SKEncodedImageFormat.Png => "PNG",
        SKEncodedImageFormat.Jpeg => "JPEG",
        SKEncodedImageFormat.Bmp => "BMP",
        var f => f.ToString().ToUpperInvariant(),
    };
}
