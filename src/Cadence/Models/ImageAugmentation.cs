using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Cadence.Models;

/// <summary>Shifts a batch of images [N, C, H, W] by whole pixels, filling the uncovered border by replicating the edge.</summary>
internal static class ImageShift
{
    /// <summary>The images moved <paramref name="dy"/> pixels down and <paramref name="dx"/> right (|dy|, |dx| ≤ <paramref name="pad"/>).</summary>
    public static Tensor Shift(Tensor padded, long h, long w, int pad, int dy, int dx) =>
        padded.narrow(2, pad - dy, h).narrow(3, pad - dx, w);

    /// <summary>Pads by <paramref name="pad"/> pixels on every side, replicating the edge.</summary>
    public static Tensor Pad(Tensor images, int pad) =>
        functional.pad(images, [pad, pad, pad, pad], PaddingModes.Replicate);
}

/// <summary>
/// Test-time augmentation: in evaluation mode the wrapped model's logits are averaged over the image, its horizontal
/// mirror (when <see cref="Flip"/>) and, with <see cref="Shift"/> = s, copies shifted by ±s pixels in both
/// directions (and their mirrors), as airbench evaluates. In training mode it is the wrapped model. Its state
/// (weights, buffers) is the wrapped model's, under the prefix <c>model.</c>.
/// </summary>
public sealed class TestTimeAugmentation : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> model;
    private readonly long[] _imageShape;

    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">A model taking batches of images.</param>
    /// <param name="imageShape">Channels, height, width of one image (batches are reshaped to [N, C, H, W] for the views).</param>
    /// <param name="flip">Average over the horizontal mirror too.</param>
    /// <param name="shift">Also average over copies shifted by this many pixels (0: none).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shift"/> is negative or not smaller than the image.</exception>
    public TestTimeAugmentation(Module<Tensor, Tensor> model, (long C, long H, long W) imageShape, bool flip = true, int shift = 0)
        : base(nameof(TestTimeAugmentation))
    {
        ArgumentNullException.ThrowIfNull(model);
        if (shift < 0 || shift >= Math.Min(imageShape.H, imageShape.W))
            throw new ArgumentOutOfRangeException(nameof(shift), shift, $"must be in [0, {Math.Min(imageShape.H, imageShape.W) - 1}]");
        this.model = model;
        _imageShape = [-1, imageShape.C, imageShape.H, imageShape.W];
        (Flip, Shift) = (flip, shift);
        RegisterComponents();
    }

    /// <summary>Whether mirrored images are averaged in.</summary>
    public bool Flip { get; }

    /// <summary>Pixels of the shifted copies (0: none).</summary>
    public int Shift { get; }

    /// <summary>The number of forward passes per evaluation batch.</summary>
    public int Views => (Flip ? 2 : 1) * (Shift > 0 ? 5 : 1);

    /// <summary>The wrapped model.</summary>
    public Module<Tensor, Tensor> Model => model;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (training || Views == 1) return model.forward(input);
        using var scope = NewDisposeScope();
        var x = input.reshape(_imageShape);
        var views = new List<Tensor> { x };
        if (Shift > 0)
        {
            long h = x.shape[2], w = x.shape[3];
            var padded = ImageShift.Pad(x, Shift);
            foreach (var (dy, dx) in new[] { (Shift, 0), (-Shift, 0), (0, Shift), (0, -Shift) })
                views.Add(ImageShift.Shift(padded, h, w, Shift, dy, dx));
        }
        if (Flip) views.AddRange(views.Select(v => v.flip(3)).ToArray());
        // One forward pass over all views (larger batches run faster than several small ones).
        var logits = model.forward(cat(views, 0));
        return logits.reshape(views.Count, x.shape[0], -1).mean([0]).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Training-time augmentation for image batches: each image is mirrored horizontally with probability ½ (when
/// <see cref="Flip"/>) and shifted by a random whole number of pixels in [−s, s] in each direction (when
/// <see cref="Shift"/> = s &gt; 0), drawing from TorchSharp's global generator (which checkpoints restore). The
/// identity in evaluation mode. Put it first in the model.
/// </summary>
public sealed class RandomFlipShift : Module<Tensor, Tensor>
{
    private readonly long[] _imageShape;

    /// <summary>Creates the augmentation.</summary>
    /// <param name="imageShape">Channels, height, width of one image.</param>
    /// <param name="flip">Mirror half the images.</param>
    /// <param name="shift">Largest shift in pixels (0: none).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shift"/> is negative or not smaller than the image.</exception>
    public RandomFlipShift((long C, long H, long W) imageShape, bool flip = true, int shift = 0) : base(nameof(RandomFlipShift))
    {
        if (shift < 0 || shift >= Math.Min(imageShape.H, imageShape.W))
            throw new ArgumentOutOfRangeException(nameof(shift), shift, $"must be in [0, {Math.Min(imageShape.H, imageShape.W) - 1}]");
        _imageShape = [-1, imageShape.C, imageShape.H, imageShape.W];
        (Flip, Shift) = (flip, shift);
    }

    /// <summary>Whether images are mirrored.</summary>
    public bool Flip { get; }

    /// <summary>Largest shift in pixels.</summary>
    public int Shift { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!training || (!Flip && Shift == 0)) return input;
        using var scope = NewDisposeScope();
        var x = input.reshape(_imageShape);
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        if (Flip)
        {
            var mirror = rand(n).lt(0.5).reshape(n, 1, 1, 1);
            x = where(mirror, x.flip(3), x);
        }
        if (Shift > 0)
        {
            // Every image draws (dy, dx); images with the same draw are cut from the padded batch together.
            int side = 2 * Shift + 1;
            var draw = randint(0, side * side, [n]).data<long>().ToArray();
            var padded = ImageShift.Pad(x, Shift);
            var shifted = empty_like(x);
            for (int d = 0; d < side * side; d++)
            {
                var rows = Enumerable.Range(0, (int)n).Where(i => draw[i] == d).Select(i => (long)i).ToArray();
                if (rows.Length == 0) continue;
                var index = tensor(rows);
                shifted.index_copy_(0, index, ImageShift.Shift(padded, h, w, Shift, d / side - Shift, d % side - Shift).index_select(0, index));
            }
            x = shifted;
        }
        return x.MoveToOuterDisposeScope();
    }
}
