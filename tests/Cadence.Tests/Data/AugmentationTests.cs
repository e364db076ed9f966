using Cadence.Data;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Tests.Data;

public sealed class AugmentationTests
{
    public AugmentationTests() => TorchRuntime.Configure(threads: 1);

    private static readonly AugmentationOptions FlipOnly = new() { FlipP = 1, MaxRotate = 0, MaxZoom = 1 };

    /// <summary>[n, c, h, w] with value <c>1000·i + 100·ch + 10·y + x</c>: every pixel says where it came from.</summary>
    private static Tensor Coded(int n, int c, int h, int w) =>
        tensor(Enumerable.Range(0, n * c * h * w).Select(k =>
        {
            int x = k % w, y = k / w % h, ch = k / (w * h) % c, i = k / (w * h * c);
            return (float)(1000 * i + 100 * ch + 10 * y + x);
        }).ToArray(), [n, c, h, w]);

    private static AugmentationDraw Identity(int n) =>
        new(new bool[n], new double[n], [.. Enumerable.Repeat(1.0, n)], [.. Enumerable.Repeat(0.5, n)], [.. Enumerable.Repeat(0.5, n)], new int[n], new int[n]);

    [Fact]
    public void Same_seed_same_draws_and_a_restored_state_continues_them()
    {
        using var a = new BatchAugmenter(AugmentationOptions.FastAi with { CropPadding = 2 }, seed: 7);
        using var b = new BatchAugmenter(AugmentationOptions.FastAi with { CropPadding = 2 }, seed: 7);
        using var c = new BatchAugmenter(AugmentationOptions.FastAi with { CropPadding = 2 }, seed: 8);
        var first = a.Draw(64);
        Assert.Equal(first.Degrees, b.Draw(64).Degrees);
        Assert.NotEqual(first.Degrees, c.Draw(64).Degrees);
        // The draws follow the options: about 75% rotated within ±10°, zoom in [1, 1.1], crops in [0, 4].
        Assert.All(first.Degrees, d => Assert.InRange(d, -10, 10));
        Assert.InRange(first.Degrees.Count(d => d != 0), 36, 60);
        Assert.All(first.Zoom, z => Assert.InRange(z, 1, 1.1));
        Assert.All(first.CropX.Concat(first.CropY), v => Assert.InRange(v, 0, 4));
        Assert.InRange(first.Flip.Count(f => f), 20, 44);

        var state = a.GetState();
        var next = a.Draw(16);
        a.Draw(16);
        a.SetState(state);
        var replay = a.Draw(16);
        Assert.Equal(next.Flip, replay.Flip);
        Assert.Equal(next.Zoom, replay.Zoom);
        Assert.Equal(next.CropY, replay.CropY);
    }

    [Fact]
    public void Flip_alone_is_an_exact_mirror_of_the_drawn_images()
    {
        using var x = Coded(3, 2, 4, 5);
        var draw = Identity(3) with { Flip = [true, false, true] };
        using var y = BatchAugmenter.Apply(x, draw, FlipOnly);
        Assert.True(y[0].equal(x[0].flip(2)).all().item<bool>());
        Assert.True(y[1].equal(x[1]).all().item<bool>());
        Assert.True(y[2].equal(x[2].flip(2)).all().item<bool>());
        Assert.Equal(0f, x[0, 0, 0, 0].item<float>());        // the input is untouched
    }

    [Fact]
    public void Random_crop_shifts_the_reflect_padded_image()
    {
        using var x = Coded(2, 1, 5, 6);
        var options = new AugmentationOptions { FlipP = 0, MaxRotate = 0, MaxZoom = 1, CropPadding = 2 };
        var draw = Identity(2) with { CropX = [2, 0], CropY = [2, 4] };
        using var y = BatchAugmenter.Apply(x, draw, options);
        Assert.True(y[0].equal(x[0]).all().item<bool>());     // crop at (2, 2) of a 2-padded image: the image itself
        // Image 1: output (r, c) is padded (r + 4, c + 0); reflect padding maps padded index p to |p − 2| mirrored at the far edge.
        static int Reflect(int p, int n) { int i = p - 2; return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; }
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 6; c++)
                Assert.Equal(1000 + 10 * Reflect(r + 4, 5) + Reflect(c, 6), y[1, 0, r, c].item<float>());
    }

    [Fact]
    public void Affine_resampling_reproduces_identity_flip_zoom_and_rotation_geometry()
    {
        var options = AugmentationOptions.FastAi;
        using var x = Coded(1, 1, 7, 7);
        using var same = BatchAugmenter.Apply(x, Identity(1), options);
        Assert.True(same.allclose(x, rtol: 0, atol: 1e-3));
        using var mirrored = BatchAugmenter.Apply(x, Identity(1) with { Flip = [true] }, options);
        Assert.True(mirrored.allclose(x.flip(3), rtol: 0, atol: 1e-3));

        // 90°: fastai's rotation matrix [[cos, sin], [−sin, cos]] samples output (r, c) from input (n−1−c, r).
        using var turned = BatchAugmenter.Apply(x, Identity(1) with { Degrees = [90] }, options);
        for (int r = 0; r < 7; r++)
            for (int c = 0; c < 7; c++)
                Assert.Equal(10 * (6 - c) + r, turned[0, 0, r, c].item<float>(), 2);

        // Zoom 2 about the centre of a horizontal ramp I(x) = x: output x maps to x/2 + (w−1)/4 (bilinear is exact on a ramp).
        using var ramp = arange(9, dtype: ScalarType.Float32).expand(1, 1, 5, 9).contiguous();
        using var zoomed = BatchAugmenter.Apply(ramp, Identity(1) with { Zoom = [2] }, options);
        for (int c = 0; c < 9; c++) Assert.Equal(c / 2.0 + 2, zoomed[0, 0, 2, c].item<float>(), 3);
        // Zoom centred on the left edge (col_pct 0): fastai's col_c = (1 − 1/z)(2·0 − 1) shifts the window to the left half.
        using var left = BatchAugmenter.Apply(ramp, Identity(1) with { Zoom = [2], ColPct = [0] }, options);
        for (int c = 0; c < 9; c++) Assert.Equal(c / 2.0, left[0, 0, 2, c].item<float>(), 3);
    }

    [Fact]
    public void Options_are_validated_all_at_once()
    {
        var bad = new AugmentationOptions { FlipP = 2, MaxRotate = -1, MinZoom = 1.2, MaxZoom = 1.1, AffineP = double.NaN, CropPadding = -1 };
        var e = Assert.Throws<ScheduleValidationException>(() => new BatchAugmenter(bad, 0));
        Assert.Equal(["aug-flip", "aug-rotate", "aug-zoom", "aug-p-affine", "aug-pad"], e.Errors.Select(x => x.Parameter));
        Assert.Empty(AugmentationOptions.Cifar.Validate());
        Assert.False(AugmentationOptions.Cifar.NeedsResampling);
    }

    [Fact]
    public void The_callback_saves_and_restores_its_generator()
    {
        using var a = new BatchAugmenter(AugmentationOptions.Cifar, 3);
        var cb = new AugmentationCallback(a);
        a.Draw(10);
        string json = cb.SaveCheckpointState();
        var expected = a.Draw(10);
        using var b = new BatchAugmenter(AugmentationOptions.Cifar, 99);
        new AugmentationCallback(b).LoadCheckpointState(json);
        Assert.Equal(expected.CropX, b.Draw(10).CropX);
    }
}
