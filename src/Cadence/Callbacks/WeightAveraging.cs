using System.Globalization;
using System.Text.Json;
using Cadence.Checkpoints;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Callbacks;

/// <summary>How <see cref="WeightAveraging"/> uses its average.</summary>
public enum AveragingMode
{
    /// <summary>Exponential moving average (Polyak): training continues on the raw weights; the average is evaluated.</summary>
    Ema,
    /// <summary>Lookahead (Zhang et al. 2019, airbench): after each update the raw weights are reset to the average.</summary>
    Lookahead,
}

/// <summary>
/// Weight averaging: every <see cref="Every"/> optimizer steps the average a of the model's parameters and floating
/// buffers (BatchNorm statistics) moves towards the weights w: a ← d·a + (1 − d)·w. Validation runs on the averaged
/// weights (swapped in before it, swapped back after), and at the end of the fit they become the model's weights
/// (<see cref="UseAverageAtEnd"/>), so what is saved afterwards is the average. The average is part of every
/// checkpoint (<see cref="ICheckpointState"/>, bit for bit), so a resumed fit continues exactly.
/// </summary>
public sealed class WeightAveraging : Callback, ICheckpointState
{
    private Tensor[] _weights = [], _average = [], _backup = [];
    private long _updates;
    private bool _swapped;

    /// <summary>Creates the callback.</summary>
    /// <param name="decay">d, in [0, 1).</param>
    /// <param name="every">Steps between updates, ≥ 1.</param>
    /// <param name="mode">EMA or Lookahead.</param>
    /// <param name="warmup">Use min(d, (1 + n)/(10 + n)) at the n-th update, so the early average is not dominated by the initial weights.</param>
    /// <param name="useAverageAtEnd">Copy the average into the model when the fit ends.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public WeightAveraging(double decay = 0.99, int every = 1, AveragingMode mode = AveragingMode.Ema, bool warmup = true, bool useAverageAtEnd = true)
    {
        if (!(decay >= 0 && decay < 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "must be in [0, 1)");
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "must be ≥ 1");
        (Decay, Every, Mode, Warmup, UseAverageAtEnd) = (decay, every, mode, warmup, useAverageAtEnd);
    }

    /// <summary>d.</summary>
    public double Decay { get; }

    /// <summary>Steps between updates.</summary>
    public int Every { get; }

    /// <summary>EMA or Lookahead.</summary>
    public AveragingMode Mode { get; }

    /// <summary>Whether the decay warms up as (1 + n)/(10 + n).</summary>
    public bool Warmup { get; }

    /// <summary>Whether the average becomes the model's weights at the end of the fit.</summary>
    public bool UseAverageAtEnd { get; }

    /// <summary>Updates made in this fit.</summary>
    public long Updates => _updates;

    /// <summary>Before the recorder (50) and the checkpoint callback (58), so a checkpoint sees this step's average and the raw weights.</summary>
    public override int Order => 40;

    /// <summary>The decay of the n-th update (from 0).</summary>
    public double DecayAt(long update) => Warmup ? Math.Min(Decay, (1.0 + update) / (10.0 + update)) : Decay;

    /// <inheritdoc />
    public override void BeforeFit(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        Release();
        _weights = learner.Model.parameters().Cast<Tensor>().Concat(learner.Model.buffers().Where(b => b.is_floating_point())).ToArray();
        using var noGrad = no_grad();
        _average = _weights.Select(w => w.detach().clone().DetachFromDisposeScope()).ToArray();
        _updates = 0;
    }

    /// <inheritdoc />
    public override void AfterStep(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (learner.Iteration % Every != 0) return;
        double d = DecayAt(_updates++);
        using var noGrad = no_grad();
        for (int i = 0; i < _weights.Length; i++)
        {
            _average[i].lerp_(_weights[i], 1 - d);
            if (Mode == AveragingMode.Lookahead) _weights[i].copy_(_average[i]);
        }
    }

    /// <inheritdoc />
    public override void BeforeValidate(Learner learner) => SwapIn();

    /// <inheritdoc />
    public override void AfterValidate(Learner learner) => SwapOut();

    /// <inheritdoc />
    public override void AfterCancelEpoch(Learner learner) => SwapOut();

    /// <inheritdoc />
    public override void AfterCancelFit(Learner learner) => SwapOut();

    /// <inheritdoc />
    public override void AfterFit(Learner learner)
    {
        SwapOut();
        if (UseAverageAtEnd)
        {
            using var noGrad = no_grad();
            for (int i = 0; i < _weights.Length; i++) _weights[i].copy_(_average[i]);
        }
    }

    private void SwapIn()
    {
        if (_swapped) return;
        using var noGrad = no_grad();
        _backup = _weights.Select(w => w.detach().clone().DetachFromDisposeScope()).ToArray();
        for (int i = 0; i < _weights.Length; i++) _weights[i].copy_(_average[i]);
        _swapped = true;
    }

    private void SwapOut()
    {
        if (!_swapped) return;
        using (no_grad())
            for (int i = 0; i < _weights.Length; i++) _weights[i].copy_(_backup[i]);
        foreach (var b in _backup) b.Dispose();
        _backup = [];
        _swapped = false;
    }

    private void Release()
    {
        SwapOut();
        foreach (var a in _average) a.Dispose();
        _average = [];
    }

    /// <inheritdoc />
    public string CheckpointKey => "weight_averaging";

    /// <inheritdoc />
    public string SaveCheckpointState()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("updates", _updates);
            w.WriteStartArray("average");   // raw bytes of every tensor, base64: bit-exact
            foreach (var a in _average) w.WriteBase64StringValue(a.bytes);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <inheritdoc />
    public void LoadCheckpointState(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var saved = doc.RootElement.GetProperty("average").EnumerateArray().Select(e => e.GetBytesFromBase64()).ToArray();
        if (saved.Length != _average.Length)
            throw new CheckpointException(CheckpointKey, string.Create(CultureInfo.InvariantCulture,
                $"the checkpoint averages {saved.Length} tensors, this model has {_average.Length}"));
        for (int i = 0; i < saved.Length; i++)
        {
            if (saved[i].Length != _average[i].bytes.Length)
                throw new CheckpointException(CheckpointKey, string.Create(CultureInfo.InvariantCulture,
                    $"averaged tensor {i} has {saved[i].Length} bytes in the checkpoint, {_average[i].bytes.Length} in this model"));
            _average[i].bytes = saved[i];
        }
        _updates = doc.RootElement.GetProperty("updates").GetInt64();
    }
}
