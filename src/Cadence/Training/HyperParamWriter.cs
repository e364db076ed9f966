using Cadence.Schedules;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// The one seam between schedules and TorchSharp: writes the learning rate and momentum (SGD momentum, Adam β1) of
/// every parameter group, per group (TorchSharp's optimizer-level <c>Momentum</c>/<c>Betas</c> setters only change
/// the defaults, not existing groups). The groups are cached, so a write allocates nothing.
/// </summary>
public sealed class HyperParamWriter
{
    private readonly OptimizerOptions[] _options;
    private readonly Kind[] _kinds;

    private enum Kind { Other, Sgd, Adam, AdamW }

    /// <summary>Caches the parameter groups of <paramref name="optimizer"/>.</summary>
    public HyperParamWriter(optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var groups = optimizer.ParamGroups.Cast<ParamGroup>().ToArray();
        _options = groups.Select(g => g.Options).ToArray();
        _kinds = _options.Select(o => o switch
        {
            SGD.Options => Kind.Sgd,
            Adam.Options => Kind.Adam,
            AdamW.Options => Kind.AdamW,
            _ => Kind.Other,
        }).ToArray();
    }

    /// <summary>Number of parameter groups.</summary>
    public int Groups => _options.Length;

    /// <summary>Whether group <paramref name="group"/> has a momentum-like option (SGD momentum or Adam β1).</summary>
    public bool HasMomentum(int group) => _kinds[group] != Kind.Other;

    /// <summary>Sets the learning rate of one group.</summary>
    public void SetLr(int group, double lr) => _options[group].LearningRate = lr;

    /// <summary>Sets SGD momentum or Adam β1 of one group (ignored by other optimizers).</summary>
    public void SetMomentum(int group, double momentum)
    {
        switch (_kinds[group])
        {
            case Kind.Sgd: ((SGD.Options)_options[group]).momentum = momentum; break;
            case Kind.Adam: ((Adam.Options)_options[group]).beta1 = momentum; break;
            case Kind.AdamW: ((AdamW.Options)_options[group]).beta1 = momentum; break;
        }
    }

    /// <summary>The learning rate the optimizer's next step will use for one group (read back from the group).</summary>
    public double GetLr(int group) => _options[group].LearningRate ?? double.NaN;

    /// <summary>SGD momentum or Adam β1 the next step will use for one group, or NaN for other optimizers.</summary>
    public double GetMomentum(int group) => _kinds[group] switch
    {
        Kind.Sgd => ((SGD.Options)_options[group]).momentum ?? double.NaN,
        Kind.Adam => ((Adam.Options)_options[group]).beta1 ?? double.NaN,
        Kind.AdamW => ((AdamW.Options)_options[group]).beta1 ?? double.NaN,
        _ => double.NaN,
    };

    /// <summary>
    /// Writes <paramref name="lr"/> (and <paramref name="momentum"/> unless it is empty) into every group whose
    /// <paramref name="frozen"/> flag is false. Spans of length 1 apply to every group.
    /// </summary>
    public void Write(ReadOnlySpan<double> lr, ReadOnlySpan<double> momentum, ReadOnlySpan<bool> frozen)
    {
        for (int g = 0; g < _options.Length; g++)
        {
            if (frozen.Length > g && frozen[g]) continue;
            _options[g].LearningRate = lr.Length == 1 ? lr[0] : lr[g];
            if (!momentum.IsEmpty) SetMomentum(g, momentum.Length == 1 ? momentum[0] : momentum[g]);
        }
    }

    /// <summary>Writes one step of a schedule into every group (convenience form).</summary>
    public void Write(HyperParams hp) => Write(hp.Lr, hp.Momentum ?? [], []);
}
