using System.Globalization;
using Cadence.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>
/// Batch augmentation for images, fastai's <c>aug_transforms</c> (GPU batch transforms) and the CIFAR crop: each image
/// of a batch draws its own horizontal flip, rotation and zoom (one affine resampling, bilinear, reflection padding,
/// <c>align_corners=True</c>, as fastai's <c>AffineCoordTfm</c>), then a random crop of the reflect-padded image.
/// Lighting and warp of <c>aug_transforms</c> are not included. Geometric transforms commute with per-channel
/// normalization, so they are applied to the normalized batch.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>Probability that an image is flipped left–right (fastai <c>Flip(p=0.5)</c>).</summary>
    public double FlipP { get; init; } = 0.5;

    /// <summary>Largest rotation in degrees, either way (fastai <c>max_rotate=10</c>); 0 turns rotation off.</summary>
    public double MaxRotate { get; init; } = 10;

    /// <summary>Smallest zoom factor (fastai <c>min_zoom=1</c>).</summary>
    public double MinZoom { get; init; } = 1;

    /// <summary>Largest zoom factor (fastai <c>max_zoom=1.1</c>); zooming also moves the image by up to the zoomed margin.</summary>
    public double MaxZoom { get; init; } = 1.1;

    /// <summary>Probability that an image is rotated, and separately zoomed (fastai <c>p_affine=0.75</c>).</summary>
    public double AffineP { get; init; } = 0.75;

    /// <summary>Pixels of reflect padding for the random crop back to the image's size (CIFAR recipe: 4); 0 turns it off.</summary>
    public int CropPadding { get; init; }

    /// <summary>fastai's <c>aug_transforms()</c> defaults without lighting and warp: flip 0.5, rotate ≤ 10°, zoom 1–1.1, p_affine 0.75.</summary>
    public static AugmentationOptions FastAi { get; } = new();

    /// <summary>The CIFAR-10 recipe of the CLR and super-convergence experiments: flip 0.5 and a random crop with 4 pixels of reflect padding.</summary>
    public static AugmentationOptions Cifar { get; } = new() { MaxRotate = 0, MaxZoom = 1, CropPadding = 4 };

    /// <summary>The presets by name: <c>fastai</c>, <c>cifar</c>.</summary>
    public static IReadOnlyDictionary<string, AugmentationOptions> Presets { get; } =
        new Dictionary<string, AugmentationOptions>(StringComparer.Ordinal) { ["fastai"] = FastAi, ["cifar"] = Cifar };

    /// <summary>Whether rotation or zoom is on (they need an affine resampling; a flip alone is exact).</summary>
    public bool NeedsResampling => MaxRotate > 0 || MaxZoom > 1 || MinZoom < 1;

    /// <summary>Every invalid option, named as on the command line.</summary>
    public IEnumerable<ValidationError> Validate()
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        if (!(FlipP is >= 0 and <= 1)) yield return new("aug-flip", $"must be in [0, 1], got {F(FlipP)}");
        if (!(MaxRotate is >= 0 and <= 180)) yield return new("aug-rotate", $"must be in [0, 180] degrees, got {F(MaxRotate)}");
        if (!(MinZoom > 0 && double.IsFinite(MinZoom))) yield return new("aug-min-zoom", $"must be a positive finite number, got {F(MinZoom)}");
        if (!(MaxZoom >= MinZoom && double.IsFinite(MaxZoom))) yield return new("aug-zoom", $"must be a finite number ≥ the smallest zoom ({F(MinZoom)}), got {F(MaxZoom)}");
        if (!(AffineP is >= 0 and <= 1)) yield return new("aug-p-affine", $"must be in [0, 1], got {F(AffineP)}");
        if (CropPadding is < 0 or > 64) yield return new("aug-pad", $"must be an integer in [0, 64], got {CropPadding}");
    }
}

/// <summary>What one batch drew, per image (for inspection and tests; <see cref="BatchAugmenter.Apply(Tensor, AugmentationDraw, AugmentationOptions)"/> replays it).</summary>
/// <param name="Flip">Whether image i is flipped left–right.</param>
/// <param name="Degrees">Rotation of image i (0 when not rotated).</param>
/// <param name="Zoom">Zoom factor of image i (1 when not zoomed).</param>
/// <param name="ColPct">Where the zoom centres horizontally, in [0, 1] (fastai <c>col_pct</c>).</param>
/// <param name="RowPct">Where the zoom centres vertically, in [0, 1] (fastai <c>row_pct</c>).</param>
/// <param name="CropX">Left edge of the crop in the padded image, in [0, 2·padding].</param>
/// <param name="CropY">Top edge of the crop in the padded image, in [0, 2·padding].</param>
public sealed record AugmentationDraw(bool[] Flip, double[] Degrees, double[] Zoom, double[] ColPct, double[] RowPct, int[] CropX, int[] CropY);

/// <summary>
/// Augments batches ([N, C, H, W], float, on any device) with its own random generator, seeded once, so a run is
/// reproducible and independent of torch's global generator; <see cref="GetState"/>/<see cref="SetState"/> let a
/// checkpoint resume it exactly. The random numbers are drawn on the CPU, so CPU and GPU runs draw the same.
/// </summary>
public sealed class BatchAugmenter : IDisposable
{
    private readonly Generator _generator;

    /// <summary>Creates the augmenter.</summary>
    /// <exception cref="ScheduleValidationException">An option is out of range (every bad option named).</exception>
    public BatchAugmenter(AugmentationOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate().ToArray();
        if (errors.Length > 0) throw new ScheduleValidationException(errors);
        Options = options;
        _generator = new Generator(unchecked((ulong)seed));
    }

    /// <summary>The options.</summary>
    public AugmentationOptions Options { get; }

    /// <summary>Draws the transforms of a batch of <paramref name="count"/> images (fastai's order: flip, rotation, zoom; then the crop).</summary>
    public AugmentationDraw Draw(int count)
    {
        double[] Uniform(double lo, double hi)
        {
            using var u = rand([count], dtype: ScalarType.Float64, generator: _generator);
            return [.. u.data<double>().ToArray().Select(v => lo + (hi - lo) * v)];
        }
        bool[] Bernoulli(double p) => [.. Uniform(0, 1).Select(v => v < p)];

        var flip = Options.FlipP > 0 ? Bernoulli(Options.FlipP) : new bool[count];
        var degrees = new double[count];
        var zoom = Enumerable.Repeat(1.0, count).ToArray();
        var col = Enumerable.Repeat(0.5, count).ToArray();
        var row = Enumerable.Repeat(0.5, count).ToArray();
        if (Options.MaxRotate > 0)
        {
            var angle = Uniform(-Options.MaxRotate, Options.MaxRotate);
            var on = Bernoulli(Options.AffineP);
            for (int i = 0; i < count; i++) degrees[i] = on[i] ? angle[i] : 0;
        }
        if (Options.MaxZoom > 1 || Options.MinZoom < 1)
        {
            var z = Uniform(Options.MinZoom, Options.MaxZoom);
            var on = Bernoulli(Options.AffineP);
            (col, row) = (Uniform(0, 1), Uniform(0, 1));
            for (int i = 0; i < count; i++) zoom[i] = on[i] ? z[i] : 1;
        }
        var cropX = new int[count];
        var cropY = new int[count];
        if (Options.CropPadding > 0)
        {
            int span = 2 * Options.CropPadding + 1;
            using var xy = randint(0, span, [2, count], dtype: ScalarType.Int64, generator: _generator);
            var v = xy.data<long>().ToArray();
            for (int i = 0; i < count; i++) (cropX[i], cropY[i]) = ((int)v[i], (int)v[count + i]);
        }
        return new AugmentationDraw(flip, degrees, zoom, col, row, cropX, cropY);
    }

    /// <summary>Draws and applies this batch's transforms; the result is a new tensor on the batch's device.</summary>
    public Tensor Apply(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.ndim != 4) throw new ArgumentException($"expected a batch of images [N, C, H, W], got [{string.Join(", ", batch.shape)}]", nameof(batch));
        return Apply(batch, Draw((int)batch.shape[0]), Options);
    }

    /// <summary>
    /// Applies drawn transforms (a pure function): the affine part as fastai's <c>Flip</c>·<c>Rotate</c>·<c>Zoom</c>
    /// matrix product (<c>_prepare_mat</c> scales the off-diagonal terms by the aspect ratio) sampled with
    /// <c>grid_sample</c>, or, with no rotation or zoom, exact flips; then the crop of the reflect-padded images.
    /// </summary>
    public static Tensor Apply(Tensor batch, AugmentationDraw draw, AugmentationOptions options)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(draw);
        ArgumentNullException.ThrowIfNull(options);
        int n = (int)batch.shape[0];
        long h = batch.shape[2], w = batch.shape[3];
        if (draw.Flip.Length != n) throw new ArgumentException($"the draw is for {draw.Flip.Length} images, the batch has {n}", nameof(draw));
        using var scope = NewDisposeScope();
        var x = batch;
        if (options.NeedsResampling)
        {
            var theta = new float[n * 6];
            for (int i = 0; i < n; i++)
            {
                double f = draw.Flip[i] ? -1 : 1;
                double a = draw.Degrees[i] * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a);
                double s = 1 / draw.Zoom[i];
                double colC = (1 - s) * (2 * draw.ColPct[i] - 1), rowC = (1 - s) * (2 * draw.RowPct[i] - 1);
                // flip · rotate · zoom, fastai's matrices: flip diag(f, 1); rotate [[cos, sin], [−sin, cos]]; zoom [[s, 0, colC], [0, s, rowC]].
                double m00 = f * cos * s, m01 = f * sin * s, m02 = f * (cos * colC + sin * rowC);
                double m10 = -sin * s, m11 = cos * s, m12 = -sin * colC + cos * rowC;
                // _prepare_mat: mat[0,1] *= h/w, mat[1,0] *= w/h.
                theta[6 * i] = (float)m00;
                theta[6 * i + 1] = (float)(m01 * h / w);
                theta[6 * i + 2] = (float)m02;
                theta[6 * i + 3] = (float)(m10 * w / h);
                theta[6 * i + 4] = (float)m11;
                theta[6 * i + 5] = (float)m12;
            }
            var t = tensor(theta, [n, 2, 3]).to(x.device);
            var grid = nn.functional.affine_grid(t, [n, batch.shape[1], h, w], align_corners: true);
            x = nn.functional.grid_sample(x, grid.to_type(x.dtype), mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Reflection, align_corners: true);
        }
        else if (draw.Flip.Any(f => f))
        {
            var idx = tensor(Enumerable.Range(0, n).Where(i => draw.Flip[i]).Select(i => (long)i).ToArray()).to(x.device);
            x = x.index_copy(0, idx, x.index_select(0, idx).flip(3));
        }
        if (options.CropPadding > 0)
        {
            long p = options.CropPadding;
            if (p >= h || p >= w) throw new ArgumentException($"crop padding {p} needs images larger than {p} pixels, got {h}×{w}", nameof(options));
            var padded = nn.functional.pad(x, [p, p, p, p], PaddingModes.Reflect);
            var rows = (tensor(draw.CropY.Select(v => (long)v).ToArray()).unsqueeze(1) + arange(h)).to(x.device);   // [N, H]
            var cols = (tensor(draw.CropX.Select(v => (long)v).ToArray()).unsqueeze(1) + arange(w)).to(x.device);   // [N, W]
            long c = x.shape[1];
            var byRow = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2 * p));
            x = byRow.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w));
        }
        if (ReferenceEquals(x, batch)) x = batch.clone();
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>The generator's state (what a checkpoint stores to resume the same draws).</summary>
    public byte[] GetState()
    {
        using var state = _generator.get_state();
        return state.data<byte>().ToArray();
    }

    /// <summary>Restores what <see cref="GetState"/> returned.</summary>
    public void SetState(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var t = tensor(state, ScalarType.Byte);
        _generator.set_state(t);
    }

    /// <inheritdoc />
    public void Dispose() => _generator.Dispose();
}
