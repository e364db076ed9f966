using Cadence.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Tests.Models;

/// <summary>FastNet, dirac and whitening initialisation, training and test-time augmentation.</summary>
public sealed class FastNetTests
{
    private static Tensor Images(int n, long seed, int side = 12)
    {
        TorchRuntime.Configure(seed: seed, threads: 1);
        // Smooth-ish images (neighbouring pixels correlated), so patch covariances are far from the identity.
        var x = randn(n, 1, side + 2, side + 2);
        return nn.functional.avg_pool2d(x, 3, stride: 1).mul(3);
    }

    [Fact]
    public void Dirac_passes_the_first_channels_through()
    {
        TorchRuntime.Configure(seed: 1, threads: 1);
        var conv = nn.Conv2d(3, 5, 3, padding: 1, bias: false);
        Initialization.Dirac(conv);
        using var x = randn(2, 3, 6, 6);
        using var y = conv.forward(x);
        Assert.True(y.narrow(1, 0, 3).allclose(x, rtol: 0, atol: 1e-6));
        // The other filters keep their random initialisation.
        Assert.True(conv.weight!.narrow(0, 3, 2).abs().sum().item<float>() > 0);
        Assert.Throws<ArgumentException>(() => Initialization.Dirac(nn.Conv2d(2, 2, 2)));
    }

    [Fact]
    public void Whitening_makes_the_patch_coordinates_uncorrelated_with_unit_variance()
    {
        using var images = Images(400, seed: 2);
        var conv = nn.Conv2d(1, 18, 3, bias: false);
        Initialization.PatchWhitening(conv, images, eps: 1e-6);
        using var noGrad = no_grad();
        // Outputs 0…8 are the whitened coordinates of every 3×3 patch; 9…17 their negatives.
        using var y = conv.forward(images);
        using var z = y.narrow(1, 0, 9).permute(0, 2, 3, 1).reshape(-1, 9).to_type(ScalarType.Float64);
        using var covariance = z.t().matmul(z).div(z.shape[0]);
        Assert.True(covariance.allclose(eye(9, dtype: ScalarType.Float64), rtol: 0, atol: 1e-3));
        Assert.True(y.narrow(1, 9, 9).allclose(y.narrow(1, 0, 9).neg()));
        var e = Assert.Throws<ArgumentException>(() => Initialization.PatchWhitening(nn.Conv2d(1, 8, 3), images));
        Assert.Contains("has 18 filters, this one 8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_frozen_whitening_layer_is_in_no_layer_group_and_does_not_train()
    {
        using var images = Images(64, seed: 3, side: 28);
        var spec = FastNet.Create((1, 28, 28), 10, new FastNetOptions { Widths = [8, 16, 16], WhiteningPatch = 2, Dirac = true }, images);
        var whiten = (Conv2d)spec.Model.named_modules().Single(m => m.name == "whiten").module;
        Assert.False(whiten.weight!.requires_grad);
        var trainable = spec.LayerGroups.SelectMany(g => g).Select(p => p.Handle).ToHashSet();
        Assert.DoesNotContain(whiten.weight.Handle, trainable);
        Assert.Equal(spec.Model.parameters().Count() - 1, trainable.Count);
        using var x = images.narrow(0, 0, 4);
        using var y = spec.Model.forward(x);
        Assert.Equal([4L, 10], y.shape);

        var trainableSpec = FastNet.Create((1, 28, 28), 10, new FastNetOptions { Widths = [8], WhiteningPatch = 2, WhiteningTrainable = true }, images);
        Assert.Equal(trainableSpec.Model.parameters().Count(), trainableSpec.LayerGroups.Sum(g => g.Count));
    }

    [Fact]
    public void Bad_options_are_named_together()
    {
        var e = Assert.Throws<ArgumentException>(() => FastNet.Create((1, 28, 28), 10,
            new FastNetOptions { Widths = [8, 8, 8, 8, 8, 8], ConvsPerGroup = 3, Activation = "tanh", WhiteningPatch = 3 }));
        Assert.Contains("ConvsPerGroup: must be 1 or 2, got 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("Activation: must be relu or gelu, got 'tanh'", e.Message, StringComparison.Ordinal);
        Assert.Contains("WhiteningPatch: needs training images", e.Message, StringComparison.Ordinal);
        Assert.Contains("Widths: 6 groups halve 28×28 images below 1 pixel", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_time_augmentation_averages_the_logits_of_the_views_in_eval_mode_only()
    {
        TorchRuntime.Configure(seed: 4, threads: 1);
        var net = FastNet.Create((1, 8, 8), 3, new FastNetOptions { Widths = [4, 4] }).Model;
        var tta = new TestTimeAugmentation(net, (1, 8, 8), flip: true, shift: 1);
        Assert.Equal(10, tta.Views);
        using var x = randn(5, 1, 8, 8);
        tta.train();
        using (no_grad()) Assert.True(tta.forward(x).allclose(net.forward(x), rtol: 0, atol: 0));
        tta.eval();
        using var noGrad = no_grad();
        var padded = nn.functional.pad(x, [1, 1, 1, 1], PaddingModes.Replicate);
        var views = new List<Tensor> { x };
        foreach (var (dy, dx) in new[] { (1, 0), (-1, 0), (0, 1), (0, -1) }) views.Add(padded.narrow(2, 1 - dy, 8).narrow(3, 1 - dx, 8));
        views.AddRange(views.Select(v => v.flip(3)).ToList());
        using var expected = stack(views.Select(v => net.forward(v)).ToArray()).mean([0]);
        Assert.True(tta.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-6));
        // A shifted view is the image moved: pixel (r, c) of the "down by 1" view is pixel (r − 1, c) of the image.
        Assert.True(views[1].narrow(2, 1, 7).allclose(x.narrow(2, 0, 7), rtol: 0, atol: 0));
    }

    [Fact]
    public void Training_augmentation_mirrors_and_shifts_each_image_and_is_the_identity_in_eval_mode()
    {
        TorchRuntime.Configure(seed: 5, threads: 1);
        var aug = new RandomFlipShift((1, 6, 6), flip: true, shift: 1);
        using var x = randn(64, 1, 6, 6);
        aug.eval();
        Assert.True(aug.forward(x).allclose(x, rtol: 0, atol: 0));
        aug.train();
        using var y = aug.forward(x);
        var padded = nn.functional.pad(x, [1, 1, 1, 1], PaddingModes.Replicate);
        int flipped = 0, moved = 0;
        for (int i = 0; i < 64; i++)
        {
            // Exactly one of the 18 candidate images (9 shifts, mirrored or not) is what the augmentation produced.
            var candidates = new List<(bool Flip, int Dy, int Dx)>();
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                {
                    var shifted = padded[i].narrow(1, 1 - dy, 6).narrow(2, 1 - dx, 6);
                    if (y[i].allclose(shifted, rtol: 0, atol: 0)) candidates.Add((false, dy, dx));
                    if (y[i].allclose(shifted.flip(2), rtol: 0, atol: 0)) candidates.Add((true, dy, dx));
                }
            Assert.NotEmpty(candidates);
            if (candidates.All(c => c.Flip)) flipped++;
            if (candidates.All(c => (c.Dy, c.Dx) != (0, 0))) moved++;
        }
        // Half the images are mirrored, 8 of 9 shifted (binomial: far inside these bounds for 64 images).
        Assert.InRange(flipped, 16, 48);
        Assert.InRange(moved, 45, 64);
    }
}
