using System.Xml;
using System.Xml.Linq;
using SkiaSharp;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Cadence.Plots.Tests;

/// <summary>Checks that a file is an image of the promised size with something drawn on it.</summary>
internal static class Images
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Decodes <paramref name="png"/>, asserts its size, and returns the standard deviation of its luminance.</summary>
    public static double AssertPng(byte[] png, int width, int height)
    {
        Assert.True(png.Length > PngSignature.Length && png.AsSpan(0, 8).SequenceEqual(PngSignature), "not a PNG signature");
        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        Assert.Equal(width, bitmap.Width);
        Assert.Equal(height, bitmap.Height);
        double spread = LuminanceSpread(bitmap);
        // A white page with a few stray pixels has a spread near 0; axes, text and lines give well over 10.
        Assert.True(spread > 10, $"the image looks blank (luminance standard deviation {spread:F2})");
        return spread;
    }

    public static double LuminanceSpread(SKBitmap bitmap)
    {
        double sum = 0, sumSq = 0;
        long n = 0;
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                double l = 0.2126 * c.Red + 0.7152 * c.Green + 0.0722 * c.Blue;
                sum += l;
                sumSq += l * l;
                n++;
            }
        double mean = sum / n;
        return Math.Sqrt(Math.Max(0, sumSq / n - mean * mean));
    }

    /// <summary>Parses <paramref name="svg"/> as XML and asserts the root is an svg element of the promised size with drawing in it.</summary>
    public static XDocument AssertSvg(string svg, int width, int height)
    {
        var doc = XDocument.Parse(svg);
        var root = doc.Root!;
        Assert.Equal("svg", root.Name.LocalName);
        Assert.Equal(width.ToString(System.Globalization.CultureInfo.InvariantCulture), root.Attribute("width")?.Value);
        Assert.Equal(height.ToString(System.Globalization.CultureInfo.InvariantCulture), root.Attribute("height")?.Value);
        Assert.True(root.Descendants().Count(e => e.Name.LocalName is "path" or "line" or "polyline" or "rect") > 10, "the SVG has almost nothing drawn");
        Assert.Contains(root.Descendants(), e => e.Name.LocalName == "text");
        return doc;
    }

    public static XDocument ParseHtmlAsXml(string html)
    {
        using var reader = XmlReader.Create(new StringReader(html), new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader);
    }
}
