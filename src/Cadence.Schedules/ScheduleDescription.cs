using System.Globalization;
using System.Text;

namespace Cadence.Schedules;

/// <summary>
/// Plain-English explanations generated from a schedule's structure: the pieces its curves report
/// (<see cref="Curve.PieceAt"/>), their shapes and lengths, the values they run between, where the extremes
/// are, restarts, and how momentum moves against the learning rate. Nothing here is written per policy.
/// </summary>
public static class ScheduleDescription
{
    /// <summary>A stretch of consecutive steps in the same piece.</summary>
    /// <param name="Start">First step.</param>
    /// <param name="End">Last step (inclusive).</param>
    /// <param name="Shape">Shape name.</param>
    /// <param name="From">Value at <paramref name="Start"/>.</param>
    /// <param name="To">Value at <paramref name="End"/>.</param>
    public readonly record struct Segment(long Start, long End, string Shape, double From, double To)
    {
        /// <summary>Number of steps.</summary>
        public long Steps => End - Start + 1;
    }

    /// <summary>The pieces of <paramref name="curve"/> over steps 0 … <paramref name="iterations"/> − 1.</summary>
    public static IReadOnlyList<Segment> Segments(Curve curve, long iterations)
    {
        var list = new List<Segment>();
        if (iterations <= 0) return list;
        var piece = curve.PieceAt(0);
        long start = 0;
        for (long t = 1; t <= iterations; t++)
        {
            var next = t < iterations ? curve.PieceAt(t) : default;
            if (t < iterations && next == piece) continue;
            list.Add(new Segment(start, t - 1, piece.Shape, curve.At(start), curve.At(t - 1)));
            (piece, start) = (next, t);
        }
        return list;
    }

    /// <summary>Explains <paramref name="schedule"/> over <paramref name="iterations"/> steps (default: its length, else 100).</summary>
    public static string Describe(Schedule schedule, long? iterations = null)
    {
        long n = iterations ?? schedule.Length ?? 100;
        var sb = new StringBuilder();
        long? bpe = schedule.StepsPerEpoch;
        sb.Append(CultureInfo.InvariantCulture, $"{schedule.Reference}, over {n} iterations");
        if (bpe is { } b) sb.Append(CultureInfo.InvariantCulture, $" ({Num((double)n / b)} epoch{((double)n / b == 1 ? "" : "s")} of {b} batches)");
        sb.AppendLine(".");
        if (schedule.Length is { } len && len != n)
            sb.AppendLine(CultureInfo.InvariantCulture, $"The policy itself is {len} iterations long; {(n > len ? "values past its end are what the reference computes there" : "only the start is shown")}.");

        int head = schedule.Groups - 1;
        var (lrTrace, momTrace) = schedule.Trace(n);
        var lr = lrTrace[head];
        sb.AppendLine();
        sb.Append("Learning rate");
        if (schedule.Groups > 1) sb.Append(CultureInfo.InvariantCulture, $" (last of {schedule.Groups} parameter groups)");
        sb.AppendLine(":");
        Walk(sb, Segments(schedule.Lr[head], n), bpe, n);
        Extremes(sb, lr, bpe);

        if (schedule.Groups > 1) sb.AppendLine(GroupsSentence(lrTrace));

        if (momTrace is not null)
        {
            var mom = momTrace[head];
            sb.AppendLine();
            if (mom.Min() == mom.Max())
                sb.AppendLine(CultureInfo.InvariantCulture, $"Momentum stays at {Num(mom[0])}.");
            else
            {
                sb.AppendLine("Momentum (SGD momentum, or Adam's β1):");
                Walk(sb, Segments(schedule.Momentum![head], n), bpe, n);
                sb.AppendLine(Relation(lr, mom));
            }
        }
        else sb.AppendLine().AppendLine("Momentum is not scheduled: the optimizer keeps its own.");
        return sb.ToString().TrimEnd();
    }

    private static void Walk(StringBuilder sb, IReadOnlyList<Segment> segments, long? bpe, long n)
    {
        // Long runs of identical cycles are summarised instead of listed.
        const int shown = 8;
        for (int i = 0; i < segments.Count; i++)
        {
            if (i == shown && segments.Count > shown + 2)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  … {segments.Count - shown - 1} more pieces in the same pattern …");
                i = segments.Count - 1;
            }
            var s = segments[i];
            string motion = s.From == s.To ? $"stays at {Num(s.From)}"
                : $"{Verb(s)} from {Num(s.From)} to {Num(s.To)}";
            string shape = s.From == s.To ? "" : " " + Adverb(s.Shape);
            if (s.Shape.StartsWith("constant", StringComparison.Ordinal) && s.Shape.Length > 8) shape = $" ({s.Shape[9..].Trim('(', ')')})";
            sb.Append(CultureInfo.InvariantCulture, $"  - {Span(s, bpe, n)}: {motion}{shape}");
            if (i > 0 && IsRestart(segments[i - 1], s)) sb.Append(" — a restart: it jumps back up");
            sb.AppendLine(".");
        }
    }

    /// <summary>A jump up between pieces, larger than the previous piece's steps: a discontinuity, not a turn.</summary>
    private static bool IsRestart(Segment previous, Segment next)
    {
        double jump = next.From - previous.To;
        double stride = Math.Abs(previous.To - previous.From) / Math.Max(1, previous.Steps - 1);
        return jump > 0 && previous.To < previous.From && (jump > 2 * stride || next.From >= previous.From);
    }

    private static string Adverb(string shape) => shape switch
    {
        "linear" => "linearly",
        "cosine" => "along a half cosine",
        "exponential" => "exponentially (a straight line on a log scale)",
        "constant" => "in steps",
        _ when shape.StartsWith("polynomial", StringComparison.Ordinal) => "polynomially" + shape[10..],
        _ => $"({shape})",
    };

    private static string Verb(Segment s) => s.To > s.From ? "rises" : "falls";

    private static string Span(Segment s, long? bpe, long n)
    {
        string steps = s.Steps == 1 ? $"iteration {s.Start}" : $"iterations {s.Start}–{s.End} ({s.Steps} steps, {Pct(s.Steps, n)} of the run";
        if (s.Steps == 1) return steps;
        if (bpe is { } b) steps += $"; epochs {Num((double)s.Start / b)}–{Num((double)(s.End + 1) / b)}";
        return steps + ")";
    }

    private static void Extremes(StringBuilder sb, double[] v, long? bpe)
    {
        int iMax = Array.IndexOf(v, v.Max()), iMin = Array.IndexOf(v, v.Min());
        double first = v[0], last = v[^1], max = v[iMax], min = v[iMin];
        sb.Append(CultureInfo.InvariantCulture, $"  It starts at {Num(first)}");
        if (max > first) sb.Append(CultureInfo.InvariantCulture, $" (1/{Num(max / first)} of the peak)");
        sb.Append(CultureInfo.InvariantCulture, $", peaks at {Num(max)} at iteration {iMax}{Epoch(iMax, bpe)}");
        sb.Append(CultureInfo.InvariantCulture, $", is lowest at {Num(min)} at iteration {iMin}{Epoch(iMin, bpe)}");
        sb.Append(CultureInfo.InvariantCulture, $" and ends at {Num(last)}");
        if (max > last && last > 0) sb.Append(CultureInfo.InvariantCulture, $" (1/{Num(max / last)} of the peak)");
        sb.AppendLine(".");
        int restarts = 0;
        for (int i = 1; i < v.Length; i++)
            if (v[i] > v[i - 1] * 1.5 && i > 1 && v[i - 1] < v[i - 2]) restarts++;
        if (restarts > 0) sb.AppendLine(CultureInfo.InvariantCulture, $"  It restarts {restarts} time{(restarts == 1 ? "" : "s")}.");
    }

    private static string Epoch(int step, long? bpe) => bpe is { } b ? $" (epoch {Num((double)step / b)})" : "";

    private static string GroupsSentence(double[][] groups)
    {
        var head = groups[^1];
        bool scaled = true;
        for (int g = 0; g < groups.Length - 1 && scaled; g++)
        {
            double ratio = groups[g][0] / head[0];
            for (int t = 0; t < head.Length && scaled; t++)
                if (head[t] != 0 && Math.Abs(groups[g][t] / head[t] - ratio) > 1e-9 * Math.Abs(ratio)) scaled = false;
        }
        string starts = string.Join(", ", groups.Select(g => Num(g[0])));
        return scaled
            ? $"  All {groups.Length} groups follow the same shape, scaled together (differential learning rates); at iteration 0 they are {starts}."
            : $"  The {groups.Length} groups move differently (their ratios change); at iteration 0 they are {starts}.";
    }

    private static string Relation(double[] lr, double[] mom)
    {
        double ml = lr.Average(), mm = mom.Average(), cov = 0;
        for (int i = 0; i < lr.Length; i++) cov += (lr[i] - ml) * (mom[i] - mm);
        int lead = 0;
        int lrPeak = Array.IndexOf(lr, lr.Max()), momLow = Array.IndexOf(mom, mom.Min());
        if (cov < 0) lead = lrPeak - momLow;
        string basic = cov < 0 ? "  Momentum moves opposite to the learning rate: it is lowest while the lr is highest (Smith's cyclical momentum)."
            : cov > 0 ? "  Momentum moves with the learning rate." : "  Momentum moves independently of the learning rate.";
        if (lead > 0) basic += $" Its minimum comes {lead} iteration{(lead == 1 ? "" : "s")} before the lr peak (the reference sets momentum one batch ahead).";
        return basic;
    }

    private static string Pct(long part, long whole) => (100.0 * part / whole).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    internal static string Num(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
