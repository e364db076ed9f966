using System.Buffers.Binary;
using Cadence.TestSupport;
using SkiaSharp;

namespace Cadence.Tests.Data;

/// <summary>
/// Writes small images with known pixels. PNG and BMP are encoded here byte by byte (so the decoder under test is
/// checked against the file formats, not against itself); JPEG goes through SkiaSharp's encoder at quality 100.
/// Pixels are given row-major, interleaved (HWC): 1 byte per pixel for grey, 3 for RGB, 4 for RGBA.
/// </summary>
internal static class TestImages
{
    /// <summary>A PNG of colour type 0 (grey), 2 (RGB) or 6 (RGBA), 8 bits per sample, filter 0 on every row.</summary>
    public static string Png(string path, int width, int height, int channels, byte[] hwc) => GeneratedData.Png(path, width, height, channels, hwc);

    /// <summary>A 24-bit bottom-up BMP (BGR, rows padded to 4 bytes) from RGB pixels.</summary>
    public static string Bmp(string path, int width, int height, byte[] rgb)
    {
        Assert.Equal(width * height * 3, rgb.Length);
        int stride = (width * 3 + 3) / 4 * 4;
        var bmp = new byte[54 + stride * height];
        bmp[0] = (byte)'B';
        bmp[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), bmp.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(34), stride * height);
        for (int y = 0; y < height; y++)
        {
            int row = 54 + (height - 1 - y) * stride;
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                bmp[row + 3 * x] = rgb[i + 2];
                bmp[row + 3 * x + 1] = rgb[i + 1];
                bmp[row + 3 * x + 2] = rgb[i];
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bmp);
        return path;
    }

    /// <summary>A JPEG (quality 100) encoded by SkiaSharp from grey or RGB pixels.</summary>
    public static string Jpeg(string path, int width, int height, int channels, byte[] hwc)
    {
        var info = new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        var pixels = channels == 1 ? hwc : Enumerable.Range(0, width * height).SelectMany(i => new[] { hwc[3 * i], hwc[3 * i + 1], hwc[3 * i + 2], (byte)255 }).ToArray();
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 100);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    /// <summary>Grey pixels whose value encodes their position: <c>seed + 10·y + x</c> (mod 256).</summary>
    public static byte[] Ramp(int width, int height, int channels = 1, int seed = 0) =>
        [.. Enumerable.Range(0, width * height * channels).Select(i => (byte)((seed + 10 * (i / channels / width) + i / channels % width + 50 * (i % channels)) % 256))];

    /// <summary>HWC bytes to CHW (the decoder's layout).</summary>
    public static byte[] ToChw(byte[] hwc, int width, int height, int channels, int outChannels)
    {
        int plane = width * height;
        var chw = new byte[outChannels * plane];
        for (int c = 0; c < outChannels; c++)
            for (int i = 0; i < plane; i++) chw[c * plane + i] = hwc[i * channels + Math.Min(c, channels - 1)];
        return chw;
    }
}
