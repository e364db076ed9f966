using Cadence.Schedules;

namespace Cadence.Schedules.Tests;

/// <summary>fastai v2's lr_find suggestions on the worked example of reference/schedules.md §3.5.</summary>
public class LrSuggestionsTests
{
    private static readonly double[] Lrs = Enumerable.Range(0, 12).Select(k => 1e-4 * Math.Pow(2, k)).ToArray();
    private static readonly double[] Losses = [2.30, 2.31, 2.28, 2.20, 2.05, 1.85, 1.70, 1.62, 1.60, 1.66, 1.90, 2.60];

    [Fact]
    public void Minimum_is_the_lr_at_the_lowest_loss_over_ten()
    {
        var s = LrSuggestions.Minimum(Lrs, Losses)!;
        Assert.Equal(0.00256, s.Lr, 15);
        Assert.Equal(0.0256, s.PointLr, 15);
        Assert.Equal(1.60, s.PointLoss);
    }

    [Fact]
    public void Steep_is_the_left_end_of_the_steepest_segment_in_log_lr()
    {
        var s = LrSuggestions.Steep(Lrs, Losses)!;
        Assert.Equal(0.0016, s.Lr, 15);   // k = 4 → 5: a drop of 0.20 per ln 2
        Assert.Equal(2.05, s.PointLoss);
    }

    [Fact]
    public void Valley_is_about_halfway_into_the_longest_decreasing_run()
    {
        // lds = [1,1,2,3,4,5,6,7,8,7,5,1]: max_end = 8, max_start = 0, sections = 2.67, idx = 0 + 2 + 1 = 3.
        var s = LrSuggestions.Valley(Lrs, Losses)!;
        Assert.Equal(0.0008, s.Lr, 15);
        Assert.Equal(2.20, s.PointLoss);
        Assert.Contains("8 falling points", s.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Slide_stops_where_the_gradient_agrees_at_both_window_ends()
    {
        // g = [.01, −.01, −.055, −.115, −.175, −.175, −.115, −.05, .02, .15, .47, .70]; stops at g[−6] = g[−9].
        var s = LrSuggestions.Slide(Lrs, Losses, lrDiff: 3, thresh: 0.05)!;
        Assert.Equal(0.0016, s.Lr, 15);
        Assert.Equal(2.05, s.PointLoss, 12);   // interpolated in log10(lr), at a recorded point
        Assert.Equal(0.0032, LrSuggestions.Slide(Lrs, Losses, lrDiff: 3, thresh: 0.05, adjustValue: 2)!.Lr, 15);
    }

    [Fact]
    public void Slide_marks_an_adjusted_value_by_interpolating_in_log_lr()
    {
        // adjust 2^0.5 puts the suggestion halfway (in log lr) between k = 4 and k = 5.
        var s = LrSuggestions.Slide(Lrs, Losses, lrDiff: 3, thresh: 0.05, adjustValue: Math.Sqrt(2))!;
        Assert.Equal((2.05 + 1.85) / 2, s.PointLoss, 12);
    }

    [Fact]
    public void Slide_with_fastai_defaults_needs_more_points_than_the_window()
    {
        Assert.Null(LrSuggestions.Slide(Lrs, Losses));                 // 12 points, lr_diff 15: fastai raises IndexError
        Assert.False(LrSuggestions.All(Lrs, Losses).ContainsKey(LrSuggestion.Slide));
        Assert.Equal(3, LrSuggestions.All(Lrs, Losses).Count);
    }

    [Fact]
    public void Slide_runs_to_the_first_point_when_the_gradient_never_settles()
    {
        double[] lrs = [1, 2, 4, 8, 16];
        double[] losses = [0, 1, 4, 9, 16];   // g = [1, 2, 4, 6, 7]: never within 0.5
        Assert.Equal(1, LrSuggestions.Slide(lrs, losses, lrDiff: 2, thresh: 0.5)!.Lr);
    }

    [Fact]
    public void Window_is_fastais_slice_then_cut_at_the_first_NaN()
    {
        var lrs = Enumerable.Range(0, 30).Select(i => (double)i + 1).ToArray();
        var losses = lrs.Select(v => 10 - v / 10).ToArray();
        var (l, y) = LrSuggestions.Window(lrs, losses, skipStart: 30 / 10);
        Assert.Equal(lrs[3..25], l);   // [num_it//10 : −5]
        Assert.Equal(losses[3..25], y);
        losses[12] = double.NaN;
        (l, y) = LrSuggestions.Window(lrs, losses, skipStart: 3);
        Assert.Equal(lrs[3..12], l);
        Assert.DoesNotContain(y, double.IsNaN);
        Assert.Empty(LrSuggestions.Window(lrs[..7], losses[..7], skipStart: 3).Lrs);   // Python: [3:-5] of 7 points is empty
        losses[3] = double.NaN;
        Assert.Empty(LrSuggestions.All(LrSuggestions.Window(lrs, losses, 3).Lrs, LrSuggestions.Window(lrs, losses, 3).Losses));
    }

    [Fact]
    public void Valley_of_a_strictly_decreasing_curve_uses_pythons_negative_start()
    {
        // lds[i] = i + 1, max_end = n − 1, max_start = −1 (fastai's arithmetic, kept): sections = n/3.
        double[] lrs = [1, 2, 3, 4, 5, 6];
        double[] losses = [6, 5, 4, 3, 2, 1];
        Assert.Equal(lrs[-1 + 2 + 1], LrSuggestions.Valley(lrs, losses)!.Lr);
        Assert.Equal(2.0, LrSuggestions.Valley([1.0, 2.0], [2.0, 1.0])!.Lr);   // idx −1 + 0 + 0: Python's lrs[−1]
    }

    [Fact]
    public void Mismatched_lengths_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => LrSuggestions.Valley([1.0, 2.0], [1.0]));
        Assert.Contains("same length", e.Message, StringComparison.Ordinal);
        Assert.Null(LrSuggestions.Minimum([], []));
        Assert.Null(LrSuggestions.Steep([1.0], [1.0]));
    }
}
