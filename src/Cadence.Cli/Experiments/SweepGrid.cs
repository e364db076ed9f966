
namespace Cadence.Cli.Experiments;

/// <summary>
/// One parameter of a sweep: a policy option, or one component of a tuple option (<c>use-clr</c>'s <c>div</c>), with
/// its values (one: fixed; several: an axis of the grid). <see cref="Name"/> is how tables and cell labels call it.
/// </summary>
internal sealed record SweepParameter(string Name, string Option, string? Component, IReadOnlyList<string> Values)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Varies => Values.Count > 1;
}

/// <summary>
/// A cell of the grid: the value of each axis, a label (<c>div=10 cut-div=3</c>), and the policy options it runs
/// with, also as the compact spec text (<c>fit lr=0.1 cycle-len=3 use-clr=10,3</c>) that identifies it in the results CSV.
/// </summary>
internal sealed record SweepCell(IReadOnlyList<string> AxisValues, string Label, PolicyChoice Schedule);

/// <summary>
/// The grid of <c>cadence sweep</c>: which options vary and how, parsed so that no value can be read two ways.
/// <list type="bullet">
/// <item>Options that take one value (a number, whole number, choice, true/false): <c>1,3,10</c> is an axis.</item>
/// <item>Options that take a list (<c>lr</c>, <c>max-lr</c> … one value per parameter group; <c>milestones</c>): a bare
/// comma list is refused; <c>grid:0.05,0.1</c> is an axis of single values, <c>"grid:30,60;40,80"</c> an axis of
/// lists (alternatives separated by <c>;</c>) and <c>list:0.01,0.1</c> one fixed list.</item>
/// <item>Tuple options (<c>use-clr</c>, <c>use-clr-beta</c>, <c>moms</c>): by component, <c>"div=10,20 cut-div=3,5"</c>;
/// a plain <c>32,5</c> is one fixed tuple.</item>
/// </list>
/// </summary>
internal sealed class SweepGrid
{
    /// <summary>Tuple options: their components in order, and how many of them may be given.</summary>
    public static readonly IReadOnlyDictionary<string, (string[] Components, int[] Counts)> Tuples =
        new Dictionary<string, (string[], int[])>
        {
            ["use-clr"] = (["div", "cut-div", "max-mom", "min-mom"], [2, 4]),
            ["use-clr-beta"] = (["div", "pct", "max-mom", "min-mom"], [2, 4]),
            ["moms"] = (["start", "middle", "end"], [3]),
        };

    private SweepGrid(string policy, List<SweepParameter> parameters, List<string> optionOrder)
    {
        Policy = policy;
        Parameters = parameters;
        _optionOrder = optionOrder;
    }

    private readonly List<string> _optionOrder;

    /// <summary>The policy swept.</summary>
    public string Policy { get; }

    /// <summary>Every parameter given, fixed or varying, in command-line order.</summary>
    public IReadOnlyList<SweepParameter> Parameters { get; }

    /// <summary>The varying parameters: the axes of the grid, first axis slowest.</summary>
    public IReadOnlyList<SweepParameter> Axes => [.. Parameters.Where(p => p.Varies)];

    /// <summary>
    /// Parses the values of the policy options given to <c>sweep</c> (<paramref name="given"/>: option name without
    /// dashes and its text, in command-line order; the names are the policy's, each once, as <see cref="PolicyChoice.FromRemaining"/> checks).
    /// </summary>
    /// <exception cref="UsageException">A value that could be read two ways, or a bad tuple; the message names the option.</exception>
    public static SweepGrid Parse(string policy, IReadOnlyList<(string Option, string Value)> given)
    {
        var spec = PolicyChoice.Find(policy, "POLICY");
        var parameters = new List<SweepParameter>();
        var order = new List<string>();
        foreach (var (name, value) in given)
        {
            string flag = "--" + name;
            var option = spec.Options.Concat(PolicyCatalog.Common).First(p => p.Name == name);
            order.Add(name);
            if (Tuples.TryGetValue(name, out var tuple) && value.Contains('=', StringComparison.Ordinal))
                parameters.AddRange(Components(flag, name, value, tuple.Components, tuple.Counts));
            else
                parameters.Add(new SweepParameter(name, name, null, Alternatives(flag, option, value, isTuple: Tuples.ContainsKey(name))));
        }
        // Components are called by their own names (div, cut-div) unless that would make two axes look alike.
        var names = parameters.GroupBy(p => p.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        parameters = [.. parameters.Select(p => names.Contains(p.Name) && p.Component is not null ? p with { Name = $"{p.Option}.{p.Component}" } : p)];
        return new SweepGrid(spec.Name, parameters, order);
    }

    /// <summary>The values of one option: an axis when it has several.</summary>
    internal static IReadOnlyList<string> Alternatives(string flag, PolicyOption option, string value, bool isTuple)
    {
        bool takesList = option.Kind is OptionKind.Numbers or OptionKind.Integers;
        if (value.Length == 0) throw new UsageException(flag, $"missing value");
        if (option.Kind == OptionKind.Text)
        {
            if (value.StartsWith("grid:", StringComparison.Ordinal)) throw new UsageException(flag, $"takes free text and cannot be swept; give one value");
            return [value];
        }
        List<string> values;
        if (value.StartsWith("grid:", StringComparison.Ordinal))
        {
            var body = value[5..];
            values = [.. body.Split(body.Contains(';', StringComparison.Ordinal) ? ';' : ',').Select(v => v.Trim())];
            if (!takesList && values.Any(v => v.Contains(',', StringComparison.Ordinal)))
                throw new UsageException(flag, $"takes one value, so a grid alternative cannot be the list '{values.First(v => v.Contains(',', StringComparison.Ordinal))}'");
        }
        else if (value.StartsWith("list:", StringComparison.Ordinal))
        {
            if (!takesList) throw new UsageException(flag, $"takes one value, not a list; write 1,2,3 (or grid:1,2,3) to sweep it");
            values = [value[5..]];
        }
        else if (takesList && !isTuple && value.Contains(',', StringComparison.Ordinal))
            throw new UsageException(flag, $"takes a list itself (X[,X…]), so '{value}' could be a grid or one list; write grid:{value} to sweep single values, or list:{value} for one fixed list");
        else values = takesList ? [value] : [.. value.Split(',').Select(v => v.Trim())];
        if (values.FirstOrDefault(v => v.Length == 0) is not null) throw new UsageException(flag, $"an empty value in '{value}'");
        if (values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice) throw new UsageException(flag, $"the value {twice.Key} is given twice");
        return values;
    }

    /// <summary>A tuple option given by component: <c>div=10,20 cut-div=3,5</c>.</summary>
    private static IEnumerable<SweepParameter> Components(string flag, string option, string value, string[] components, int[] counts)
    {
        var given = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var word in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            string component = eq < 0 ? word : word[..eq];
            if (eq <= 0 || !components.Contains(component))
                throw new UsageException(flag, $"expected {string.Join(" ", components.Select(c => c + "=V[,V…]"))}, got '{word}'");
            if (given.ContainsKey(component)) throw new UsageException(flag, $"{component} is given twice");
            var values = word[(eq + 1)..].Split(',').Select(v => v.Trim()).ToList();
            if (values.Any(v => v.Length == 0)) throw new UsageException(flag, $"an empty value in '{word}'");
            if (values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice) throw new UsageException(flag, $"{component}={twice.Key} is given twice");
            given[component] = values;
        }
        int n = given.Count;
        if (!counts.Contains(n) || components.Take(n).Any(c => !given.ContainsKey(c)))
            throw new UsageException(flag, $"give {string.Join(" or ", counts.Select(k => string.Join(" ", components.Take(k))))}, got {string.Join(" ", given.Keys)}");
        return components.Take(n).Select(c => new SweepParameter(c, option, c, given[c]));
    }

    /// <summary>Every combination of the axes' values, the first axis varying slowest.</summary>
    public IReadOnlyList<SweepCell> Cells()
    {
        var cells = new List<SweepCell>();
        var pick = new int[Parameters.Count];
        while (true)
        {
            cells.Add(Cell(pick));
            int k = Parameters.Count - 1;
            while (k >= 0 && ++pick[k] == Parameters[k].Values.Count) pick[k--] = 0;
            if (k < 0) return cells;
        }
    }

    private SweepCell Cell(int[] pick)
    {
        var options = new Dictionary<string, string>();
        var words = new List<string> { Policy };
        foreach (var name in _optionOrder)
        {
            var parts = Parameters.Select((p, i) => (p, i)).Where(x => x.p.Option == name).Select(x => x.p.Values[pick[x.i]]);
            string value = string.Join(',', parts);
            options[name] = value;
            words.Add($"{name}={value}");
        }
        var axisValues = Parameters.Select((p, i) => (p, i)).Where(x => x.p.Varies).Select(x => x.p.Values[pick[x.i]]).ToList();
        var labels = Parameters.Select((p, i) => (p, i)).Where(x => x.p.Varies).Select(x => $"{x.p.Name}={x.p.Values[pick[x.i]]}").ToList();
        string spec = string.Join(' ', words);
        string label = labels.Count == 0 ? spec : string.Join(' ', labels);
        return new SweepCell(axisValues, label, new PolicyChoice(label, spec, Policy, options));
    }
}
