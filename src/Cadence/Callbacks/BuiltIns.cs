using System.Globalization;
using Cadence.Training;
using TorchSharp;

namespace Cadence.Callbacks;

/// <summary>
/// Stops the fit when the loss is NaN or infinite, naming the iteration and the learning rate (fastai's
/// <c>TerminateOnNaNCallback</c>). On the CPU it stops before the bad batch's step; on a GPU, where losses are read in
/// chunks, up to <see cref="Learner.LossReadInterval"/> steps later (the lr named is then the one in use at that point).
/// It also runs during an LR range test, which then ends at the first NaN.
/// </summary>
public sealed class NanGuard : Callback
{
    /// <summary>Runs before the recorder, so a bad loss never reaches the history.</summary>
    public override int Order => -10;

    /// <inheritdoc />
    public override void AfterLossRead(Learner learner, BatchLoss loss)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (double.IsFinite(loss.Loss)) return;
        var w = learner.HyperParams;
        var lrs = string.Join(", ", Enumerable.Range(0, w.Groups).Select(g => w.GetLr(g).ToString("G6", CultureInfo.InvariantCulture)));
        learner.Cancel(Scope.Fit, string.Create(CultureInfo.InvariantCulture,
            $"loss is {(double.IsNaN(loss.Loss) ? "NaN" : loss.Loss.ToString(CultureInfo.InvariantCulture))} at iteration {loss.Iteration} (epoch {loss.Epoch + 1}, batch {loss.Batch + 1}) with lr {lrs}; training stopped (try a lower learning rate)"));
    }
}

/// <summary>Clips the gradient norm of all trainable parameters after the backward pass (<c>torch.nn.utils.clip_grad_norm_</c>).</summary>
public sealed class GradientClipping : Callback
{
    private TorchSharp.Modules.Parameter[]? _parameters;

    /// <summary>Creates the callback.</summary>
    /// <param name="maxNorm">Largest allowed total norm.</param>
    /// <param name="normType">Norm (2 = Euclidean).</param>
    public GradientClipping(double maxNorm, double normType = 2)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "must be > 0");
        (MaxNorm, NormType) = (maxNorm, normType);
    }

    /// <summary>Largest allowed total norm.</summary>
    public double MaxNorm { get; }

    /// <summary>Norm type.</summary>
    public double NormType { get; }

    /// <summary>Norm of the gradients before the last clipping.</summary>
    public double LastNorm { get; private set; }

    /// <inheritdoc />
    public override void BeforeFit(Learner learner) => _parameters = null;

    /// <inheritdoc />
    public override void AfterBackward(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        _parameters ??= learner.LayerGroups.SelectMany(g => g).ToArray();
        LastNorm = torch.nn.utils.clip_grad_norm_(_parameters.Where(p => p.requires_grad), MaxNorm, NormType);
    }
}

/// <summary>Stops the fit when the validation loss has not improved by <see cref="MinDelta"/> for <see cref="Patience"/> epochs.</summary>
public sealed class EarlyStopping : Callback, Checkpoints.ICheckpointState
{
    private double _best;
    private int _wait;

    /// <summary>Creates the callback.</summary>
    public EarlyStopping(int patience = 1, double minDelta = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        (Patience, MinDelta) = (patience, minDelta);
    }

    /// <summary>Epochs without improvement that are tolerated.</summary>
    public int Patience { get; }

    /// <summary>Smallest decrease that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Runs after the recorder has stored the epoch.</summary>
    public override int Order => 60;

    /// <summary>An LR range test runs no validation to watch.</summary>
    public override bool RunsDuringLrFind => false;

    /// <inheritdoc />
    public override void BeforeFit(Learner learner) => (_best, _wait) = (double.PositiveInfinity, 0);

    /// <inheritdoc />
    public string CheckpointKey => "early_stopping";

    /// <inheritdoc />
    public string SaveCheckpointState() => string.Create(CultureInfo.InvariantCulture, $"[\"{_best:R}\", {_wait}]");

    /// <inheritdoc />
    public void LoadCheckpointState(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        _best = double.Parse(doc.RootElement[0].GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture);
        _wait = doc.RootElement[1].GetInt32();
    }

    /// <inheritdoc />
    public override void AfterEpoch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (learner.ValidLoss < _best - MinDelta) { _best = learner.ValidLoss; _wait = 0; return; }
        if (++_wait > Patience)
            learner.Cancel(Scope.Fit, string.Create(CultureInfo.InvariantCulture,
                $"early stopping after epoch {learner.Epoch + 1}: valid loss has not improved on {_best:G6} for {_wait} epochs"));
    }
}

/// <summary>Appends one CSV line per epoch: <c>epoch,train_loss,valid_loss,&lt;metrics&gt;,time</c> (fastai's <c>CSVLogger</c>).</summary>
public sealed class CsvLogger : Callback
{
    private TextWriter? _writer;

    /// <summary>Creates the logger.</summary>
    /// <param name="path">File to write (replaced at the start of each fit).</param>
    public CsvLogger(string path) => Path = path;

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Runs after the recorder, before <see cref="EarlyStopping"/>, so the last epoch is logged.</summary>
    public override int Order => 55;

    /// <summary>An LR range test writes no log.</summary>
    public override bool RunsDuringLrFind => false;

    /// <inheritdoc />
    public override void BeforeFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        _writer?.Dispose();
        _writer = new StreamWriter(Path, append: false);
        _writer.WriteLine(string.Join(",", new[] { "epoch", "train_loss", "valid_loss" }.Concat(learner.Metrics.Select(m => m.Name)).Append("time")));
        // A resumed fit starts with the epochs its checkpoint restored into the recorder.
        if (learner.StartAt is not null) foreach (var e in learner.Recorder.Epochs) WriteEpoch(e);
        _writer.Flush();
    }

    /// <inheritdoc />
    public override void AfterEpoch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (_writer is null || learner.Recorder.Epochs.Count == 0) return;
        WriteEpoch(learner.Recorder.Epochs[^1]);
    }

    private void WriteEpoch(EpochRecord e)
    {
        var cells = new List<string> { (e.Epoch + 1).ToString(CultureInfo.InvariantCulture), F(e.TrainLoss), F(e.ValidLoss) };
        cells.AddRange(e.Metrics.Select(F));
        cells.Add(F(e.Seconds));
        _writer!.WriteLine(string.Join(",", cells));
        _writer.Flush();
    }

    /// <inheritdoc />
    public override void AfterFit(Learner learner)
    {
        _writer?.Dispose();
        _writer = null;
    }

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
