using System.Globalization;

namespace Cadence.Schedules;

/// <summary>The four ways fastai v2 reads a learning rate off an LR range test (<c>SuggestionMethod</c>).</summary>
public enum LrSuggestion
{
    /// <summary>The lr at the minimum of the loss, divided by 10 (fastai <c>minimum</c>).</summary>
    Minimum,
    /// <summary>The left end of the steepest descent of the loss against ln(lr) (fastai <c>steep</c>).</summary>
    Steep,
    /// <summary>About halfway into the longest decreasing stretch of the loss (fastai <c>valley</c>, the default).</summary>
    Valley,
    /// <summary>A window slid back from the divergent end until the slope is the same at both its ends (fastai <c>slide</c>).</summary>
    Slide,
}

/// <summary>One suggested learning rate and the point to mark on the loss-vs-lr curve.</summary>
/// <param name="Method">How it was found.</param>
/// <param name="Lr">The suggested learning rate.</param>
/// <param name="PointLr">x of the point to mark (for <see cref="LrSuggestion.Minimum"/> the lr at the minimum, 10 × <paramref name="Lr"/>).</param>
/// <param name="PointLoss">y of the point to mark.</param>
/// <param name="Why">One sentence saying how the value was read off the curve.</param>
public sealed record SuggestedLr(LrSuggestion Method, double Lr, double PointLr, double PointLoss, string Why);

/// <summary>
/// fastai v2's learning-rate suggestions as pure functions of the recorded (lr, smoothed loss) points
/// (<c>fastai.callback.schedule</c>; reference/schedules.md §3.5). Every function expects the points in the order
/// they were recorded (increasing lr), already cut to the window of <see cref="Window"/>, and returns null when the
/// curve has too few points to answer — where fastai raises an IndexError.
/// </summary>
public static class LrSuggestions
{
    /// <summary>
    /// The points fastai's <c>lr_find</c> hands to the suggestion functions: <c>[numIt // 10 : −5]</c> (Python slice
    /// semantics: empty when fewer than <c>numIt // 10 + 5</c> points were recorded), then cut at the first NaN loss
    /// (fastai PR #3477), so a run that went NaN cannot produce an absurd suggestion.
    /// </summary>
    /// <param name="lrs">Recorded learning rates (last parameter group).</param>
    /// <param name="losses">Recorded smoothed losses, one per lr.</param>
    /// <param name="skipStart">Points dropped at the start (fastai v2: <c>num_it // 10</c>; fastai 0.7's plot: 10).</param>
    /// <param name="skipEnd">Points dropped at the end (fastai v2: 5; fastai 0.7's plot: 6).</param>
    public static (double[] Lrs, double[] Losses) Window(IReadOnlyList<double> lrs, IReadOnlyList<double> losses, int skipStart, int skipEnd = 5)
    {
        CheckPair(lrs, losses);
        ArgumentOutOfRangeException.ThrowIfNegative(skipStart);
        ArgumentOutOfRangeException.ThrowIfNegative(skipEnd);
        int end = lrs.Count - skipEnd;
        if (end <= skipStart) return ([], []);
        int stop = skipStart;
        while (stop < end && !double.IsNaN(losses[stop])) stop++;
        var l = new double[stop - skipStart];
        var y = new double[stop - skipStart];
        for (int i = skipStart; i < stop; i++) (l[i - skipStart], y[i - skipStart]) = (lrs[i], losses[i]);
        return (l, y);
    }

    /// <summary>Every suggestion that the curve allows, by method (a method is absent when its result would be undefined).</summary>
    public static IReadOnlyDictionary<LrSuggestion, SuggestedLr> All(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        var result = new Dictionary<LrSuggestion, SuggestedLr>();
        foreach (var method in Enum.GetValues<LrSuggestion>())
            if (Suggest(method, lrs, losses) is { } s) result[method] = s;
        return result;
    }

    /// <summary>One suggestion, by method, with the defaults of fastai's functions.</summary>
    public static SuggestedLr? Suggest(LrSuggestion method, IReadOnlyList<double> lrs, IReadOnlyList<double> losses) => method switch
    {
        LrSuggestion.Minimum => Minimum(lrs, losses),
        LrSuggestion.Steep => Steep(lrs, losses),
        LrSuggestion.Valley => Valley(lrs, losses),
        LrSuggestion.Slide => Slide(lrs, losses),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "not a suggestion method"),
    };

    /// <summary>fastai <c>minimum</c>: <c>lrs[argmin(losses)] / 10</c> (the first minimum on ties); null for an empty curve.</summary>
    public static SuggestedLr? Minimum(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        CheckPair(lrs, losses);
        if (lrs.Count == 0) return null;
        int best = 0;
        for (int i = 1; i < losses.Count; i++) if (losses[i] < losses[best]) best = i;
        return new SuggestedLr(LrSuggestion.Minimum, lrs[best] / 10, lrs[best], losses[best],
            $"the smoothed loss is lowest ({F(losses[best])}) at lr {F(lrs[best])}; one tenth of that");
    }

    /// <summary>
    /// fastai <c>steep</c>: with <c>g_i = (loss_{i+1} − loss_i) / (ln lr_{i+1} − ln lr_i)</c>, returns <c>lrs[argmin g]</c>,
    /// the left end of the steepest segment; null with fewer than 2 points.
    /// </summary>
    public static SuggestedLr? Steep(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        CheckPair(lrs, losses);
        if (lrs.Count < 2) return null;
        int best = -1;
        double steepest = double.PositiveInfinity;
        for (int i = 0; i + 1 < lrs.Count; i++)
        {
            double g = (losses[i + 1] - losses[i]) / (Math.Log(lrs[i + 1]) - Math.Log(lrs[i]));
            if (g < steepest || best < 0) (steepest, best) = (g, i);
        }
        return new SuggestedLr(LrSuggestion.Steep, lrs[best], lrs[best], losses[best],
            $"the smoothed loss falls fastest ({F(-steepest)} per unit of ln lr) between lr {F(lrs[best])} and {F(lrs[best + 1])}");
    }

    /// <summary>
    /// fastai <c>valley</c>: <c>lds[i]</c> is the length of the longest strictly decreasing subsequence of the losses
    /// ending at i; <c>max_end</c> is the first i with the largest <c>lds</c>, <c>max_start = max_end − lds[max_end]</c>,
    /// and the suggestion is <c>lrs[max_start + int(s) + int(s / 2)]</c> with <c>s = (max_end − max_start) / 3</c>. A
    /// negative index counts from the end, as in Python (it happens only for a strictly decreasing curve of 2 points).
    /// Null for an empty curve.
    /// </summary>
    public static SuggestedLr? Valley(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        CheckPair(lrs, losses);
        int n = losses.Count;
        if (n == 0) return null;
        var lds = new int[n];
        int maxEnd = 0;
        for (int i = 0; i < n; i++)
        {
            lds[i] = 1;
            for (int j = 0; j < i; j++)
                if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
            if (lds[i] > lds[maxEnd]) maxEnd = i;
        }
        int maxStart = maxEnd - lds[maxEnd];
        double sections = (maxEnd - maxStart) / 3.0;
        int idx = maxStart + (int)sections + (int)(sections / 2);
        if (idx < 0) idx += n;
        int from = Math.Max(maxStart, 0);
        return new SuggestedLr(LrSuggestion.Valley, lrs[idx], lrs[idx], losses[idx],
            $"the longest descent of the smoothed loss ({lds[maxEnd]} falling points) runs from lr {F(lrs[from])} to {F(lrs[maxEnd])}; this lr is about halfway into it");
    }

    /// <summary>
    /// fastai <c>slide(lr_diff=15, thresh=.005, adjust_value=1.)</c>: with g the central-difference gradient of the
    /// losses (numpy <c>gradient</c>: one-sided at the ends), a window of <paramref name="lrDiff"/> points is slid back
    /// from the divergent end while <c>|g[right] − g[left]| &gt; thresh</c>; the suggestion is the lr at the window's
    /// left end where it stopped, times <paramref name="adjustValue"/>. The marked loss is interpolated in log10(lr).
    /// Null when the curve has no more than <paramref name="lrDiff"/> points.
    /// </summary>
    public static SuggestedLr? Slide(IReadOnlyList<double> lrs, IReadOnlyList<double> losses, int lrDiff = 15, double thresh = 0.005, double adjustValue = 1.0)
    {
        CheckPair(lrs, losses);
        ArgumentOutOfRangeException.ThrowIfLessThan(lrDiff, 1);
        int n = losses.Count;
        if (n <= lrDiff || n < 2) return null;
        var g = new double[n];
        g[0] = losses[1] - losses[0];
        g[n - 1] = losses[n - 1] - losses[n - 2];
        for (int i = 1; i < n - 1; i++) g[i] = (losses[i + 1] - losses[i - 1]) / 2;
        int right = n - 1, left = right - lrDiff;
        double localMin = lrs[left];
        while (left >= 0 && Math.Abs(g[right] - g[left]) > thresh)
        {
            localMin = lrs[left];
            right--;
            left--;
        }
        double lr = localMin * adjustValue;
        return new SuggestedLr(LrSuggestion.Slide, lr, lr, Interpolate(Math.Log10(lr), lrs, losses),
            string.Create(CultureInfo.InvariantCulture,
                $"sliding a {lrDiff}-point window back from the divergent end, the slope of the smoothed loss first agrees at both ends (within {thresh}) with its left end at lr {F(localMin)}"));
    }

    /// <summary>numpy <c>interp(x, log10(lrs), losses)</c>: linear, clamped to the end values outside the range.</summary>
    private static double Interpolate(double x, IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        int n = lrs.Count;
        if (x <= Math.Log10(lrs[0])) return losses[0];
        if (x >= Math.Log10(lrs[n - 1])) return losses[n - 1];
        for (int i = 1; i < n; i++)
        {
            double x0 = Math.Log10(lrs[i - 1]), x1 = Math.Log10(lrs[i]);
            if (x <= x1) return x1 == x0 ? losses[i] : losses[i - 1] + (x - x0) / (x1 - x0) * (losses[i] - losses[i - 1]);
        }
        return losses[n - 1];
    }

    private static void CheckPair(IReadOnlyList<double> lrs, IReadOnlyList<double> losses)
    {
        ArgumentNullException.ThrowIfNull(lrs);
        ArgumentNullException.ThrowIfNull(losses);
        if (lrs.Count != losses.Count)
            throw new ArgumentException($"lrs and losses must have the same length, got {lrs.Count} and {losses.Count}", nameof(losses));
    }

    private static string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
