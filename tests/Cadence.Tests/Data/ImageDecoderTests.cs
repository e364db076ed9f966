using System.Diagnostics;
using System.Globalization;
using Cadence.Data;
using Cadence.TestSupport;

namespace Cadence.Tests.Data;

public sealed class ImageDecoderTests : IDisposable
{
    private readonly TempDirectory _dir = new("cadence-images");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Grey_png_decodes_to_one_channel_with_exact_pixels()
    {
        var hwc = TestImages.Ramp(5, 3);
        var path = TestImages.Png(_dir["g.png"], 5, 3, 1, hwc);
        Assert.Equal(new ImageHeader(5, 3, true), ImageDecoder.Probe(path));
        var (pixels, h, w) = ImageDecoder.Decode(path, 1);
        Assert.Equal((3, 5), (h, w));
        Assert.Equal(hwc, pixels);
        // Asked for three channels, the grey plane is replicated.
        Assert.Equal(TestImages.ToChw(hwc, 5, 3, 1, 3), ImageDecoder.Decode(path, 3).Pixels);
        // Decoded as encoded (what the folder loader reads once): one channel, the same bytes.
        var native = ImageDecoder.Decode(path);
        Assert.Equal((1, 3, 5, true), (native.Channels, native.Height, native.Width, native.Grey));
        Assert.Equal(hwc, native.Pixels);
    }

    [Fact]
    public void Rgb_and_rgba_png_of_odd_size_decode_channel_first_and_drop_alpha_unblended()
    {
        var rgb = TestImages.Ramp(7, 5, channels: 3, seed: 3);
        var path = TestImages.Png(_dir["c.png"], 7, 5, 3, rgb);
        Assert.Equal(new ImageHeader(7, 5, false), ImageDecoder.Probe(path));
        Assert.Equal(TestImages.ToChw(rgb, 7, 5, 3, 3), ImageDecoder.Decode(path, 3).Pixels);
        var native = ImageDecoder.Decode(path);
        Assert.Equal((3, 5, 7, false), (native.Channels, native.Height, native.Width, native.Grey));
        Assert.Equal(TestImages.ToChw(rgb, 7, 5, 3, 3), native.Pixels);

        // Half-transparent pixels keep their colour values (PIL's convert('RGB') does not blend either).
        var rgba = new byte[] { 200, 100, 50, 128, 10, 20, 30, 0, 255, 255, 255, 255 };
        var a = TestImages.Png(_dir["a.png"], 3, 1, 4, rgba);
        Assert.Equal(new byte[] { 200, 10, 255, 100, 20, 255, 50, 30, 255 }, ImageDecoder.Decode(a, 3).Pixels);

        var e = Assert.Throws<DataFormatException>(() => ImageDecoder.Decode(path, 1));
        Assert.Equal($"{path}: expected a greyscale image (one channel was asked for), found a colour image", e.Message);
    }

    [Fact]
    public void Bmp_with_padded_rows_decodes_exactly()
    {
        var rgb = TestImages.Ramp(5, 3, channels: 3, seed: 7);   // 15 bytes a row, padded to 16
        var path = TestImages.Bmp(_dir["b.bmp"], 5, 3, rgb);
        Assert.False(ImageDecoder.Probe(path).Grey);
        Assert.Equal(TestImages.ToChw(rgb, 5, 3, 3, 3), ImageDecoder.Decode(path, 3).Pixels);
    }

    [Fact]
    public void Jpeg_decodes_close_to_what_was_encoded_and_grey_jpeg_stays_grey()
    {
        var grey = Enumerable.Repeat((byte)97, 16 * 8).ToArray();
        var g = TestImages.Jpeg(_dir["g.jpg"], 16, 8, 1, grey);
        Assert.True(ImageDecoder.Probe(g).Grey);
        Assert.All(ImageDecoder.Decode(g, 1).Pixels, p => Assert.InRange(p, 96, 98));

        var colour = Enumerable.Range(0, 16 * 8).SelectMany(_ => new byte[] { 200, 40, 90 }).ToArray();
        var c = TestImages.Jpeg(_dir["c.JPEG"], 16, 8, 3, colour);
        var (pixels, h, w) = ImageDecoder.Decode(c, 3);
        Assert.Equal((8, 16), (h, w));
        for (int ch = 0; ch < 3; ch++)
            Assert.All(pixels.Skip(ch * 128).Take(128), p => Assert.InRange(p, colour[ch] - 3, colour[ch] + 3));
    }

    [Fact]
    public void Truncated_empty_and_foreign_files_are_errors_naming_the_file()
    {
        var whole = File.ReadAllBytes(TestImages.Png(_dir["w.png"], 32, 32, 3, TestImages.Ramp(32, 32, 3)));
        var cut = _dir["cut.png"];
        File.WriteAllBytes(cut, whole[..(whole.Length * 2 / 3)]);
        var e = Assert.Throws<DataFormatException>(() => ImageDecoder.Decode(cut, 3));
        Assert.Equal(cut, e.File);
        Assert.StartsWith($"{cut}: truncated: the PNG data ends before the last row of its 32×32 pixels", e.Message);

        var empty = _dir.Write("empty.jpg", "");
        var text = _dir.Write("notes.png", "these are not pixels");
        // The header reader and the decoder say the same.
        foreach (var read in new Action<string>[] { f => ImageDecoder.Probe(f), f => ImageDecoder.Decode(f) })
        {
            Assert.Equal($"{empty}: expected a PNG, JPEG or BMP image, found an empty file",
                Assert.Throws<DataFormatException>(() => read(empty)).Message);
            Assert.StartsWith($"{text}: expected a PNG, JPEG or BMP image, found data SkiaSharp cannot read",
                Assert.Throws<DataFormatException>(() => read(text)).Message);
        }
        var missing = _dir["missing.png"];
        Assert.Equal($"{missing}: file not found", Assert.Throws<DataFormatException>(() => ImageDecoder.Decode(missing, 1)).Message);
    }

    [Fact]
    public void Crop_takes_fastai_s_centred_crop_and_squish_keeps_a_uniform_image_uniform()
    {
        // 6 wide, 4 high, to 4×4: m = min(6/4, 4/4) = 1, crop 4×4 at left int(0.5·2) = 1: columns 1–4, no resampling.
        var hwc = TestImages.Ramp(6, 4);
        var chw = TestImages.ToChw(hwc, 6, 4, 1, 1);
        var cropped = ImageDecoder.Resize(chw, 1, 4, 6, 4, 4, ResizeMethod.Crop);
        var expected = Enumerable.Range(0, 16).Select(i => hwc[i / 4 * 6 + 1 + i % 4]).ToArray();
        Assert.Equal(expected, cropped);
        // 7 wide, 4 high, to 2×2: m = min(3.5, 2) = 2, crop (int(2·2), int(2·2)) = 4×4 at left int(0.5·3) = 1.
        var seven = TestImages.ToChw(TestImages.Ramp(7, 4), 7, 4, 1, 1);
        var viaCrop = ImageDecoder.Resize(seven, 1, 4, 7, 2, 2, ResizeMethod.Crop);
        var manual = Enumerable.Range(0, 16).Select(i => seven[i / 4 * 7 + 1 + i % 4]).ToArray();
        Assert.Equal(ImageDecoder.Resize(manual, 1, 4, 4, 2, 2, ResizeMethod.Squish), viaCrop);

        var uniform = Enumerable.Repeat((byte)77, 3 * 9 * 13).ToArray();
        foreach (var (h, w) in new[] { (4, 4), (20, 31), (5, 2) })
            Assert.All(ImageDecoder.Resize(uniform, 3, 9, 13, h, w, ResizeMethod.Squish), p => Assert.Equal(77, p));
        Assert.Same(chw, ImageDecoder.Resize(chw, 1, 4, 6, 4, 6, ResizeMethod.Squish));
    }

    [SkippableFact]
    public void Resize_matches_pytorch_interpolate_with_antialias()
    {
        string python = Requires.PythonWithTorch();
        var src = TestImages.ToChw(TestImages.Ramp(13, 9, channels: 3, seed: 11), 13, 9, 3, 3);
        var cases = new[] { (5, 5, ResizeMethod.Squish), (6, 6, ResizeMethod.Crop), (20, 20, ResizeMethod.Squish), (7, 3, ResizeMethod.Squish) };
        string input = _dir["src.bin"];
        File.WriteAllBytes(input, src);
        // One Python process for every case: importing torch takes seconds.
        string list = string.Join(", ", cases.Select(c => string.Create(CultureInfo.InvariantCulture, $"({c.Item1}, {c.Item2}, {(c.Item3 == ResizeMethod.Crop ? "True" : "False")})")));
        string script = $$"""
            import torch, torch.nn.functional as F
            src = torch.frombuffer(bytearray(open(r'{{input}}','rb').read()), dtype=torch.uint8).reshape(1,3,9,13).float()
            for h, w, crop in [{{list}}]:
                x = src
                if crop:
                    m = 13/w if 13/w < 9/h else 9/h
                    cw, ch = int(m*w), int(m*h)
                    l, t = int(0.5*(13-cw)), int(0.5*(9-ch))
                    x = x[..., t:t+ch, l:l+cw]
                y = F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False, antialias=True)
                print(','.join(str(int(v)) for v in y.round().clamp(0, 255).to(torch.uint8).flatten().tolist()))
            """;
        var lines = RunPython(python, script).Trim().Split('\n');
        Assert.Equal(cases.Length, lines.Length);
        for (int c = 0; c < cases.Length; c++)
        {
            var (h, w, method) = cases[c];
            var mine = ImageDecoder.Resize(src, 3, 9, 13, h, w, method);
            var expected = lines[c].Trim().Split(',').Select(byte.Parse).ToArray();
            Assert.Equal(expected.Length, mine.Length);
            // libtorch 2.10 and PyTorch 1.13 may round a value sitting on .5 differently: allow 1, and only rarely.
            int off = 0;
            for (int i = 0; i < mine.Length; i++)
            {
                Assert.InRange(mine[i] - expected[i], -1, 1);
                if (mine[i] != expected[i]) off++;
            }
            Assert.True(off <= mine.Length / 50, $"{off} of {mine.Length} values differ by 1 for {h}×{w} {method}");
        }
    }

    internal static string RunPython(string python, string script)
    {
        var psi = new ProcessStartInfo(python, ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "python timed out");
        Assert.True(p.ExitCode == 0, error);
        return output;
    }
}
