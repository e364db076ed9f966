using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// A learning-rate multiplier for a set of parameters (<see cref="OptimizerFactory.LrMultipliers"/>): at every step
/// those parameters get <c>Factor ×</c> the lr the schedule gives their layer group. airbench trains BatchNorm biases
/// at 64× the lr of the weights (<see cref="ParameterKinds.BatchNormBiases"/>).
/// </summary>
/// <param name="Name">What the parameters are, for headers and errors (e.g. <c>batchnorm-bias</c>).</param>
/// <param name="Parameters">The parameters (compared by their native tensor).</param>
/// <param name="Factor">The multiplier, finite and &gt; 0.</param>
public sealed record LrMultiplier(string Name, IReadOnlyCollection<Parameter> Parameters, double Factor)
{
    /// <summary>The parameters (checked: a name, finite positive factor).</summary>
    public IReadOnlyCollection<Parameter> Parameters { get; } = Check(Name, Parameters, Factor);

    private static IReadOnlyCollection<Parameter> Check(string name, IReadOnlyCollection<Parameter> parameters, double factor)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(factor > 0) || double.IsInfinity(factor))
            throw new ArgumentOutOfRangeException(nameof(factor), factor, $"lr multiplier '{name}': must be a finite number > 0");
        return parameters;
    }
}

/// <summary>
/// One parameter group of the optimizer: a layer group's parameters of one kind. The schedule's lr for
/// <see cref="LayerGroup"/> times <see cref="LrMultiplier"/> is what its step uses.
/// </summary>
/// <param name="LayerGroup">The layer group (the schedule's group) these parameters belong to.</param>
/// <param name="LrMultiplier">Factor on the schedule's lr (1 for the layer group's ordinary parameters).</param>
/// <param name="Parameters">The parameters.</param>
/// <param name="Kind">Name of the multiplier, or null for the ordinary parameters.</param>
public sealed record OptimizerGroup(int LayerGroup, double LrMultiplier, IReadOnlyList<Parameter> Parameters, string? Kind)
{
    /// <summary>
    /// Splits layer groups by multiplier: per layer group (in order) the parameters no multiplier names (always a
    /// group, possibly empty), then one group per multiplier that names some of its parameters. A parameter named by
    /// two multipliers gets the first.
    /// </summary>
    public static IReadOnlyList<OptimizerGroup> Split(IReadOnlyList<IReadOnlyList<Parameter>> layerGroups, IReadOnlyList<LrMultiplier> multipliers)
    {
        ArgumentNullException.ThrowIfNull(layerGroups);
        ArgumentNullException.ThrowIfNull(multipliers);
        var sets = multipliers.Select(m => m.Parameters.Select(p => p.Handle).ToHashSet()).ToArray();
        var groups = new List<OptimizerGroup>();
        for (int g = 0; g < layerGroups.Count; g++)
        {
            var byKind = new List<Parameter>[multipliers.Count + 1];
            for (int k = 0; k < byKind.Length; k++) byKind[k] = [];
            foreach (var p in layerGroups[g])
            {
                int kind = Array.FindIndex(sets, s => s.Contains(p.Handle));
                byKind[kind + 1].Add(p);
            }
            groups.Add(new OptimizerGroup(g, 1, byKind[0], null));
            for (int k = 0; k < multipliers.Count; k++)
                if (byKind[k + 1].Count > 0) groups.Add(new OptimizerGroup(g, multipliers[k].Factor, byKind[k + 1], multipliers[k].Name));
        }
        return groups;
    }
}

/// <summary>Finds kinds of parameters in a model, for <see cref="LrMultiplier"/>.</summary>
public static class ParameterKinds
{
    /// <summary>The biases (β) of every BatchNorm layer of <paramref name="model"/>.</summary>
    public static IReadOnlyCollection<Parameter> BatchNormBiases(nn.Module model) => BatchNorm(model, weights: false);

    /// <summary>The weights (γ) of every BatchNorm layer of <paramref name="model"/>.</summary>
    public static IReadOnlyCollection<Parameter> BatchNormWeights(nn.Module model) => BatchNorm(model, weights: true);

    private static Parameter[] BatchNorm(nn.Module model, bool weights)
    {
        ArgumentNullException.ThrowIfNull(model);
        var found = new List<Parameter>();
        foreach (var m in model.modules())
        {
            Parameter? p = m switch
            {
                BatchNorm1d b => weights ? b.weight : b.bias,
                BatchNorm2d b => weights ? b.weight : b.bias,
                BatchNorm3d b => weights ? b.weight : b.bias,
                _ => null,
            };
            if (p is not null) found.Add(p);
        }
        return [.. found];
    }
}
