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

    // With lr multipliers (OptimizerFactory.LrMultipliers) a layer group spans several optimizer groups: _first[g] …
    // _first[g + 1] − 1, each with its factor. Without them the maps are the identity and every factor is 1.
    private readonly int[] _first;
    private readonly double[] _factor;

    /// <summary>Caches the parameter groups of <paramref name="optimizer"/>, one per layer group.</summary>
    public HyperParamWriter(optim.Optimizer optimizer) : this(optimizer, null) { }

    /// <summary>
    /// Caches the parameter groups of <paramref name="optimizer"/>, laid out as <paramref name="layout"/> says (from
    /// <see cref="OptimizerFactory.Groups"/>): <see cref="Groups"/> then counts layer groups, and a write for a layer
    /// group sets each of its optimizer groups to the value times that group's <see cref="OptimizerGroup.LrMultiplier"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The layout does not match the optimizer's groups.</exception>
    public HyperParamWriter(optim.Optimizer optimizer, IReadOnlyList<OptimizerGroup>? layout)
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
        if (layout is not null && layout.Count != _options.Length)
            throw new ArgumentException($"the layout has {layout.Count} groups, the optimizer {_options.Length}", nameof(layout));
        _factor = layout?.Select(g => g.LrMultiplier).ToArray() ?? Enumerable.Repeat(1.0, _options.Length).ToArray();
        if (layout is null)
        {
            _first = Enumerable.Range(0, _options.Length + 1).ToArray();
            return;
        }
        var first = new List<int>();
        for (int o = 0; o < layout.Count; o++)
        {
            if (layout[o].LayerGroup == first.Count && layout[o].LrMultiplier == 1) first.Add(o);
            else if (layout[o].LayerGroup != first.Count - 1)
                throw new ArgumentException($"optimizer group {o}: layer groups must come in order, each starting with its ordinary parameters (multiplier 1)", nameof(layout));
        }
        first.Add(layout.Count);
        _first = [.. first];
    }

    /// <summary>Number of layer groups (the optimizer's parameter groups, unless lr multipliers split them).</summary>
    public int Groups => _first.Length - 1;

    /// <summary>Whether group <paramref name="group"/> has a momentum-like option (SGD momentum or Adam β1).</summary>
    public bool HasMomentum(int group) => _kinds[_first[group]] != Kind.Other;

    /// <summary>Sets the learning rate of one layer group (times each of its optimizer groups' multiplier).</summary>
    public void SetLr(int group, double lr)
    {
        for (int o = _first[group]; o < _first[group + 1]; o++) _options[o].LearningRate = _factor[o] == 1 ? lr : lr * _factor[o];
    }

    /// <summary>Sets SGD momentum or Adam β1 of one layer group (ignored by other optimizers).</summary>
    public void SetMomentum(int group, double momentum)
    {
        for (int o = _first[group]; o < _first[group + 1]; o++) SetOptimizerMomentum(o, momentum);
    }

    private void SetOptimizerMomentum(int o, double momentum)
    {
        switch (_kinds[o])
        {
            case Kind.Sgd: ((SGD.Options)_options[o]).momentum = momentum; break;
            case Kind.Adam: ((Adam.Options)_options[o]).beta1 = momentum; break;
            case Kind.AdamW: ((AdamW.Options)_options[o]).beta1 = momentum; break;
        }
    }

    /// <summary>
    /// The learning rate the optimizer's next step will use for one layer group (read back from its first optimizer
    /// group, the one with multiplier 1).
    /// </summary>
    public double GetLr(int group) => _options[_first[group]].LearningRate ?? double.NaN;

    /// <summary>The learning rate the next step will use for optimizer group <paramref name="optimizerGroup"/> (multiplier included).</summary>
    public double GetOptimizerGroupLr(int optimizerGroup) => _options[optimizerGroup].LearningRate ?? double.NaN;

    /// <summary>SGD momentum or Adam β1 the next step will use for one group, or NaN for other optimizers.</summary>
    public double GetMomentum(int group) => _kinds[_first[group]] switch
    {
        Kind.Sgd => ((SGD.Options)_options[_first[group]]).momentum ?? double.NaN,
        Kind.Adam => ((Adam.Options)_options[_first[group]]).beta1 ?? double.NaN,
        Kind.AdamW => ((AdamW.Options)_options[_first[group]]).beta1 ?? double.NaN,
        _ => double.NaN,
    };

    /// <summary>
    /// Writes <paramref name="lr"/> (and <paramref name="momentum"/> unless it is empty) into every group whose
    /// <paramref name="frozen"/> flag is false. Spans of length 1 apply to every group.
    /// </summary>
    public void Write(ReadOnlySpan<double> lr, ReadOnlySpan<double> momentum, ReadOnlySpan<bool> frozen)
    {
        for (int g = 0; g < _first.Length - 1; g++)
        {
            if (frozen.Length > g && frozen[g]) continue;
            SetLr(g, lr.Length == 1 ? lr[0] : lr[g]);
            if (!momentum.IsEmpty) SetMomentum(g, momentum.Length == 1 ? momentum[0] : momentum[g]);
        }
    }

    /// <summary>Writes one step of a schedule into every group (convenience form).</summary>
    public void Write(HyperParams hp) => Write(hp.Lr, hp.Momentum ?? [], []);
}
