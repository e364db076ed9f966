using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// Layer groups that survive a move to another device. TorchSharp's <c>Module.to(device)</c> (and a dtype change)
/// replaces every <c>Parameter</c> object of the module and disposes the old ones, so groups taken before the move
/// would hand the optimizer dead tensors. Groups are therefore remembered by parameter name, the model is moved, and
/// the groups are read again from the moved model.
/// </summary>
internal static class ParameterGroups
{
    /// <summary>Moves <paramref name="model"/> to <paramref name="device"/> (when it is not there) and returns <paramref name="groups"/> re-read from it.</summary>
    /// <exception cref="ArgumentException">A group holds a tensor that is not one of the model's parameters (named: group and position).</exception>
    public static IReadOnlyList<IReadOnlyList<Parameter>> MoveTo(nn.Module model, IReadOnlyList<IReadOnlyList<Parameter>> groups, Device device) =>
        Rebind(model, groups, m =>
        {
            if (m.parameters().Any(p => !SameDevice(p.device, device)) || m.buffers().Any(b => !SameDevice(b.device, device))) m.to(device);
        });

    /// <summary>Runs <paramref name="change"/> on the model (a move, a dtype change) and returns <paramref name="groups"/> re-read from it by name.</summary>
    public static IReadOnlyList<IReadOnlyList<Parameter>> Rebind(nn.Module model, IReadOnlyList<IReadOnlyList<Parameter>> groups, Action<nn.Module> change)
    {
        var names = Names(model, groups);
        change(model);
        return Read(model, names);
    }

    /// <summary>The parameter names of every group.</summary>
    public static string[][] Names(nn.Module model, IReadOnlyList<IReadOnlyList<Parameter>> groups)
    {
        var byParameter = new Dictionary<Parameter, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, p) in model.named_parameters()) byParameter.TryAdd(p, name);
        var names = new string[groups.Count][];
        for (int g = 0; g < groups.Count; g++)
        {
            names[g] = new string[groups[g].Count];
            for (int i = 0; i < groups[g].Count; i++)
                names[g][i] = byParameter.GetValueOrDefault(groups[g][i]) ?? throw new ArgumentException(
                    $"layer group {g}, parameter {i} is not one of the model's parameters (were the groups taken before the model was moved with " +
                    ".to()? TorchSharp replaces parameters when it moves them: take the groups after the move, or let the Learner move the model)", nameof(groups));
        }
        return names;
    }

    /// <summary>The groups of <paramref name="names"/>, read from <paramref name="model"/> as it is now.</summary>
    public static IReadOnlyList<IReadOnlyList<Parameter>> Read(nn.Module model, string[][] names)
    {
        var byName = model.named_parameters().ToDictionary(np => np.name, np => np.parameter, StringComparer.Ordinal);
        return names.Select(g => (IReadOnlyList<Parameter>)g.Select(n => byName[n]).ToArray()).ToArray();
    }

    /// <summary>Whether a tensor on <paramref name="actual"/> is on <paramref name="wanted"/> (<c>cuda</c> without an index is GPU 0).</summary>
    public static bool SameDevice(Device actual, Device wanted) =>
        actual.type == wanted.type && (actual.type != DeviceType.CUDA || Math.Max(actual.index, 0) == Math.Max(wanted.index, 0));
}
