using System.Text;

namespace Cadence.Cli;

/// <summary>A compact line chart for the terminal: braille dots where Unicode is welcome, ASCII otherwise.</summary>
internal static class TerminalChart
{
    /// <summary>Unicode unless output is redirected or NO_COLOR / CADENCE_ASCII is set.</summary>
    public static bool UnicodeAllowed(TextWriter writer) =>
        Environment.GetEnvironmentVariable("NO_COLOR") is null && Environment.GetEnvironmentVariable("CADENCE_ASCII") is null &&
        writer == Console.Out && !Console.IsOutputRedirected;

    public static string Render(IReadOnlyList<double> values, string label, bool unicode, int width = 60, int height = 10)
    {
        double min = values.Min(), max = values.Max();
        if (max == min) max = min + (min == 0 ? 1 : Math.Abs(min) * 1e-9);
        int xDots = unicode ? width * 2 : width, yDots = unicode ? height * 4 : height;
        var on = new bool[xDots, yDots];
        for (int x = 0; x < xDots; x++)
        {
            // Each column covers a range of steps: draw its whole min..max span so spikes are not lost.
            int from = (int)((long)x * values.Count / xDots), to = Math.Max(from + 1, (int)((long)(x + 1) * values.Count / xDots));
            double lo = double.MaxValue, hi = double.MinValue;
            for (int i = from; i < Math.Min(to, values.Count); i++) { lo = Math.Min(lo, values[i]); hi = Math.Max(hi, values[i]); }
            if (lo > hi) continue;
            int y0 = Row(lo, min, max, yDots), y1 = Row(hi, min, max, yDots);
            for (int y = y1; y <= y0; y++) on[x, y] = true;
        }
        var sb = new StringBuilder();
        int pad = AppendGrid(sb, on, Fmt(values.Max()), Fmt(values.Min()), unicode, width, height);
        string left = "0", right = (values.Count - 1).ToString(CultureInfo.InvariantCulture);
        sb.Append(new string(' ', pad + 2)).Append(left).Append($"  {label} by iteration".PadRight(width - left.Length - right.Length)).Append(right).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// y against x (log10 x with <paramref name="logX"/>), consecutive points joined, and a row under the axis with a
    /// letter at the x of each mark (the suggestions of <c>cadence lr-find</c>).
    /// </summary>
    public static string RenderXY(IReadOnlyList<double> xs, IReadOnlyList<double> ys, bool logX, IReadOnlyList<(double X, char Mark)> marks,
        string label, bool unicode, int width = 60, int height = 12)
    {
        double Scale(double x) => logX ? Math.Log10(x) : x;
        double xMin = Scale(xs.Min()), xMax = Scale(xs.Max()), yMin = ys.Min(), yMax = ys.Max();
        if (xMax == xMin) xMax = xMin + 1;
        if (yMax == yMin) yMax = yMin + (yMin == 0 ? 1 : Math.Abs(yMin) * 1e-9);
        int xDots = unicode ? width * 2 : width, yDots = unicode ? height * 4 : height;
        int Col(double x) => Math.Clamp((int)Math.Round((Scale(x) - xMin) / (xMax - xMin) * (xDots - 1)), 0, xDots - 1);
        var on = new bool[xDots, yDots];
        for (int i = 0; i < xs.Count; i++)
        {
            int c0 = Col(xs[i]), r0 = Row(ys[i], yMin, yMax, yDots);
            on[c0, r0] = true;
            if (i + 1 == xs.Count) continue;
            // Join to the next point: fill every column between them, and the rows between their heights.
            int c1 = Col(xs[i + 1]), r1 = Row(ys[i + 1], yMin, yMax, yDots);
            int steps = Math.Max(Math.Abs(c1 - c0), Math.Abs(r1 - r0));
            for (int k = 1; k < steps; k++) on[c0 + (c1 - c0) * k / steps, r0 + (r1 - r0) * k / steps] = true;
        }
        var sb = new StringBuilder();
        int pad = AppendGrid(sb, on, Fmt(yMax), Fmt(yMin), unicode, width, height);
        var markRow = new char[width];
        Array.Fill(markRow, ' ');
        foreach (var (x, mark) in marks)
        {
            int col = Col(Math.Clamp(x, xs.Min(), xs.Max())) / (unicode ? 2 : 1);
            markRow[col] = markRow[col] == ' ' ? mark : '+';
        }
        if (marks.Count > 0) sb.Append(new string(' ', pad + 2)).Append(new string(markRow).TrimEnd()).Append('\n');
        string left = Fmt(xs.Min()), right = Fmt(xs.Max());
        sb.Append(new string(' ', pad + 2)).Append(left).Append($"  {label}".PadRight(Math.Max(0, width - left.Length - right.Length))).Append(right).Append('\n');
        return sb.ToString();
    }

    /// <summary>The dot grid with its y axis (top and bottom values) and the x axis line; returns the axis labels' width.</summary>
    private static int AppendGrid(StringBuilder sb, bool[,] on, string top, string bottom, bool unicode, int width, int height)
    {
        int pad = Math.Max(top.Length, bottom.Length);
        for (int row = 0; row < height; row++)
        {
            string axis = row == 0 ? top : row == height - 1 ? bottom : "";
            sb.Append(axis.PadLeft(pad)).Append(unicode ? " ┤" : " |");
            for (int col = 0; col < width; col++) sb.Append(unicode ? Braille(on, col, row) : (on[col, row] ? '*' : ' '));
            sb.Append('\n');
        }
        sb.Append(new string(' ', pad)).Append(unicode ? " └" : " +").Append(new string(unicode ? '─' : '-', width)).Append('\n');
        return pad;
    }

    private static int Row(double v, double min, double max, int yDots) =>
        Math.Clamp((int)Math.Round((max - v) / (max - min) * (yDots - 1)), 0, yDots - 1);

    private static char Braille(bool[,] on, int col, int row)
    {
        // Braille dot numbering: (0,0)=1 (0,1)=2 (0,2)=3 (1,0)=4 (1,1)=5 (1,2)=6 (0,3)=7 (1,3)=8.
        int[,] bit = { { 0x01, 0x02, 0x04, 0x40 }, { 0x08, 0x10, 0x20, 0x80 } };
        int code = 0;
        for (int dx = 0; dx < 2; dx++)
            for (int dy = 0; dy < 4; dy++)
                if (on[col * 2 + dx, row * 4 + dy]) code |= bit[dx, dy];
        return (char)(0x2800 + code);
    }

    private static string Fmt(double v) => Cadence.Schedules.NumberFormat.Human(v);
}
