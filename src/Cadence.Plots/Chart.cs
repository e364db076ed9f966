using System.Text;
using ScottPlot;
using SkiaSharp;

namespace Cadence.Plots;

/// <summary>The file formats a chart is saved in, chosen by the file's extension.</summary>
public enum ChartFormat
{
    /// <summary>PNG raster image (<c>.png</c>).</summary>
    Png,

    /// <summary>SVG vector image (<c>.svg</c>).</summary>
    Svg,
}

/// <summary>
/// A finished chart: one or more panels stacked vertically (the schedule's momentum panel sits under the lr panel,
/// sharing its x axis). Save it as PNG or SVG, or embed it in a <see cref="Report"/>.
/// </summary>
public sealed class Chart
{
    private readonly (Plot Plot, float Weight)[] _panels;

    internal Chart(string title, int width, int height, params (Plot Plot, float Weight)[] panels)
    {
        Title = title;
        Width = width;
        Height = height;
        _panels = panels;
    }

    /// <summary>The chart's title (also the alt text of its image in a report).</summary>
    public string Title { get; }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels, all panels together.</summary>
    public int Height { get; }

    /// <summary>The ScottPlot plots, top to bottom (tests read their axis limits).</summary>
    internal IReadOnlyList<Plot> Panels => _panels.Select(p => p.Plot).ToArray();

    /// <summary>The format <paramref name="path"/>'s extension asks for: <c>.png</c> or <c>.svg</c> (any case).</summary>
    /// <exception cref="ArgumentException">Any other extension.</exception>
    public static ChartFormat FormatOf(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string ext = Path.GetExtension(path);
        return ext.ToUpperInvariant() switch
        {
            ".PNG" => ChartFormat.Png,
            ".SVG" => ChartFormat.Svg,
            _ => throw new ArgumentException(
                $"the file name must end in .png or .svg, got {(ext.Length == 0 ? "no extension" : $"'{ext}'")} in '{path}'", nameof(path)),
        };
    }

    /// <summary>Writes the chart to <paramref name="path"/> (PNG or SVG by extension) through a temporary file and a rename.</summary>
    public void Save(string path)
    {
        var bytes = FormatOf(path) == ChartFormat.Png ? ToPng() : Encoding.UTF8.GetBytes(ToSvg());
        AtomicFile.Write(path, bytes);
    }

    /// <summary>The chart as a PNG file's bytes.</summary>
    public byte[] ToPng()
    {
        lock (_panels)
        {
            using var surface = SKSurface.Create(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
                ?? throw new InvalidOperationException($"SkiaSharp could not allocate a {Width}×{Height} surface");
            Draw(surface.Canvas);
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            return data.ToArray();
        }
    }

    /// <summary>The chart as an SVG document.</summary>
    public string ToSvg()
    {
        lock (_panels)
        {
            using var stream = new MemoryStream();
            using (var canvas = SKSvgCanvas.Create(new SKRect(0, 0, Width, Height), stream)) Draw(canvas);
            return Encoding.UTF8.GetString(stream.ToArray());
        }
    }

    private void Draw(SKCanvas canvas)
    {
        canvas.Clear(SKColors.White);
        var rects = PanelRects();
        if (_panels.Length > 1) AlignDataAreas(rects);
        for (int i = 0; i < _panels.Length; i++)
        {
            // A plot clears the canvas before drawing; the clip keeps it from wiping the panels above.
            canvas.Save();
            canvas.ClipRect(rects[i].ToSKRect());
            _panels[i].Plot.Render(canvas, rects[i]);
            canvas.Restore();
        }
    }

    private PixelRect[] PanelRects()
    {
        float total = _panels.Sum(p => p.Weight), top = 0;
        var rects = new PixelRect[_panels.Length];
        for (int i = 0; i < _panels.Length; i++)
        {
            float bottom = i == _panels.Length - 1 ? Height : top + Height * _panels[i].Weight / total;
            rects[i] = new PixelRect(0, Width, MathF.Round(bottom), MathF.Round(top));
            top = MathF.Round(bottom);
        }
        return rects;
    }

    /// <summary>
    /// Stacked panels share the x axis, so their data areas must start and end at the same pixel columns: lay each
    /// out on its own once, then fix every panel's left and right padding to the widest.
    /// </summary>
    private void AlignDataAreas(PixelRect[] rects)
    {
        float left = 0, right = 0;
        var pads = new (float Top, float Bottom)[_panels.Length];
        using (var scratch = SKSurface.Create(new SKImageInfo(Width, Height)))
        {
            for (int i = 0; i < _panels.Length; i++)
            {
                var plot = _panels[i].Plot;
                plot.Layout.Default();
                plot.Render(scratch.Canvas, rects[i]);
                var data = plot.RenderManager.LastRender.DataRect;
                left = Math.Max(left, data.Left - rects[i].Left);
                right = Math.Max(right, rects[i].Right - data.Right);
                pads[i] = (data.Top - rects[i].Top, rects[i].Bottom - data.Bottom);
            }
        }
        for (int i = 0; i < _panels.Length; i++)
            _panels[i].Plot.Layout.Fixed(new PixelPadding(left, right, pads[i].Bottom, pads[i].Top));
    }
}

/// <summary>Files the user keeps are written next to their destination first, then renamed over it.</summary>
internal static class AtomicFile
{
    public static void Write(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{path}: the folder {dir} does not exist");
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
