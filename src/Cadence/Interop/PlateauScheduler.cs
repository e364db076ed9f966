using Cadence.Schedules;
using Cadence.Training;
using static TorchSharp.torch;

namespace Cadence.Interop;

/// <summary>
/// PyTorch's <c>ReduceLROnPlateau</c> for any TorchSharp optimizer, on Cadence's <see cref="ReduceLrOnPlateau"/>:
/// call <see cref="step(double, int?)">step(metric)</see> after each validation; the learning rate of every parameter
/// group is divided by 1/<c>factor</c> when the metric stops improving. Its whole state saves to a file and resumes
/// exactly.
/// </summary>
/// <remarks>Momentum is left to the optimizer. The initial learning rate of each group is the group's current one,
/// as in PyTorch.</remarks>
public sealed class PlateauScheduler : optim.lr_scheduler.LRScheduler
{
    private readonly HyperParamWriter _writer;
    private ReduceLrOnPlateau _plateau;

    /// <summary>Wraps <paramref name="optimizer"/>; nothing is written until the first <see cref="step(double, int?)"/>.</summary>
    /// <param name="optimizer">Any TorchSharp optimizer.</param>
    /// <param name="options">PyTorch's options, or null for its defaults; <c>min_lr</c> has one value or one per group.</param>
    /// <exception cref="ScheduleValidationException">Invalid options, or a group's lr is not positive and finite.</exception>
    public PlateauScheduler(optim.Optimizer optimizer, PlateauOptions? options = null)
        : base(optimizer ?? throw new ArgumentNullException(nameof(optimizer)), last_epoch: -1, verbose: false)
    {
        _writer = new HyperParamWriter(optimizer);
        _plateau = new ReduceLrOnPlateau(Enumerable.Range(0, _writer.Groups).Select(_writer.GetLr).ToArray(), options);
    }

    /// <summary>The options in use.</summary>
    public PlateauOptions Options => _plateau.Options;

    /// <summary>The whole state (PyTorch's <c>state_dict()</c> minus the options).</summary>
    public PlateauState State => _plateau.State;

    /// <summary>The current learning rate of each group.</summary>
    public IReadOnlyList<double> LastLr => _plateau.Lr;

    /// <summary>Records one value of the monitored metric and writes the resulting learning rate of every group.</summary>
    /// <param name="current">The metric (a validation loss in mode min, an accuracy in mode max). NaN counts as not improving.</param>
    /// <param name="epoch">Ignored (PyTorch deprecated it); must be null.</param>
    public override void step(double current, int? epoch = null)
    {
        if (epoch is not null)
            throw new ArgumentException("ReduceLROnPlateau counts its own steps; call step(metric) without an epoch", nameof(epoch));
        Write(_plateau.Step(current));
    }

    /// <summary>Refused: a plateau scheduler needs the metric.</summary>
    /// <exception cref="InvalidOperationException">Always; call <see cref="step(double, int?)">step(metric)</see>.</exception>
    public override void step(int? epoch) =>
        throw new InvalidOperationException("ReduceLROnPlateau needs the monitored metric: call step(metric) after each validation");

    /// <summary>Resumes from a saved <paramref name="state"/> (same options) and writes its learning rates.</summary>
    /// <exception cref="ScheduleValidationException">A state no run could have reached.</exception>
    /// <exception cref="InvalidDataException">Its number of groups differs from the optimizer's.</exception>
    public void Restore(PlateauState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var restored = ReduceLrOnPlateau.Restore(_plateau.Options, state);
        if (restored.Groups != _writer.Groups)
            throw new InvalidDataException($"the plateau state has {restored.Groups} parameter group(s) but the optimizer has {_writer.Groups}");
        _plateau = restored;
        Write(restored.Lr);
    }

    /// <summary>Writes <see cref="State"/> as JSON (PyTorch's key names) through a temporary file and a rename.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, State.ToJson());

    /// <summary>Reads a file written by <see cref="Save"/> and resumes from it.</summary>
    /// <exception cref="InvalidDataException">The file is not JSON.</exception>
    /// <exception cref="ScheduleValidationException">A key is missing or has an impossible value.</exception>
    public void Load(string path)
    {
        PlateauState state;
        try { state = PlateauState.FromJson(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e); }
        Restore(state);
    }

    /// <summary>The current learning rate of each group (what TorchSharp's base <c>step</c> writes).</summary>
    protected override IEnumerable<double> get_lr() => _plateau.Lr;

    private void Write(double[] lr)
    {
        for (int g = 0; g < lr.Length; g++) _writer.SetLr(g, lr[g]);
        // Keeps get_last_lr() current: the base step writes get_lr() (the same values) and records them.
        base.step((int?)null);
    }
}
