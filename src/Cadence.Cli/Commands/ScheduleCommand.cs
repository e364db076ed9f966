
namespace Cadence.Cli.Commands;

internal sealed class ScheduleSettings : OutputSettings, IPolicySettings, ICheckedSettings
{
    [CommandArgument(0, "<POLICY>"), Description("The policy (cadence policies lists them)")]
    public string Policy { get; set; } = "";

    [CommandOption("--csv"), Description("Print CSV rows (step, lr and momentum per group) instead of the chart")]
    public bool Csv { get; set; }

    [CommandOption("--explain"), Description("Also explain the schedule in plain words")]
    public bool Explain { get; set; }

    /// <summary>Hidden spelling of one release ago: --format table|json|csv.</summary>
    [CommandOption("--format <FORMAT>", IsHidden = true), OneOf("Old spelling of --json / --csv", "table", "json", "csv")]
    public string? Format { get; set; }

    public IReadOnlyDictionary<string, string> Options { get; private set; } = new Dictionary<string, string>();

    public void Read(IRemainingArguments remaining, string command) =>
        Options = PolicyChoice.FromRemaining(remaining, PolicyChoice.Find(Policy, "POLICY", training: false), command, training: false);

    public void Check(Check check)
    {
        if (Format == "json") Json = true;
        if (Format == "csv") Csv = true;
        if (Json && Csv) check.Fail("--csv", "give --json or --csv, not both");
    }
}

/// <summary><c>cadence schedule POLICY [options]</c>: a schedule's values, chart and explanation, without training.</summary>
internal sealed class ScheduleCommand(Io io) : CadenceCommand<ScheduleSettings>(io)
{
    private const long MaxIterations = 10_000_000;

    protected override int Run(CommandContext context, ScheduleSettings s, CancellationToken ct)
    {
        var schedule = PolicyCatalog.Create(s.Policy, s.Options);
        long n = s.Options.TryGetValue("iterations", out var it) ? long.Parse(it, System.Globalization.CultureInfo.InvariantCulture)
            : schedule.Length ?? throw new UsageException("--iterations", $"required for {s.Policy} (it has no length of its own)");
        if (n > MaxIterations) throw new UsageException("--iterations", $"must be ≤ {MaxIterations}, got {n}");
        double[][] lr;
        double[][]? mom;
        try { (lr, mom) = schedule.Trace(n); }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "step") { throw new UsageException("--iterations", e.Message.Split(" (Parameter")[0]); }
        var output = Io.Out;
        if (s.Json) output.WriteLine(Json.Serialize(ScheduleJson.Of(schedule, n, lr, mom)));
        else if (s.Csv) WriteCsv(output, lr, mom);
        else ScheduleText.Write(output, schedule, n, lr, mom);
        if (s.Explain) { output.WriteLine(); output.WriteLine(schedule.Describe(n)); }
        if (s.PlotPath("schedule") is { } path)
        {
            Outputs.Folder("--plots", Path.GetDirectoryName(Path.GetFullPath(path))!);
            Outputs.Write("--plots", path, () => Plots.Plots.Schedule(schedule, n, path));
            if (!s.Json && !s.Csv) output.WriteLine($"\nChart written to {path}.");
        }
        return ExitCodes.Ok;
    }

    private static void WriteCsv(TextWriter output, double[][] lr, double[][]? mom)
    {
        var header = new List<string> { "step" };
        header.AddRange(lr.Length == 1 ? ["lr"] : lr.Select((_, g) => $"lr_{g}"));
        if (mom is not null) header.AddRange(mom.Length == 1 ? ["momentum"] : mom.Select((_, g) => $"momentum_{g}"));
        output.WriteLine(string.Join(',', header));
        for (int t = 0; t < lr[0].Length; t++)
        {
            var row = new List<string> { t.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            row.AddRange(lr.Select(g => NumberFormat.Exact(g[t])));
            if (mom is not null) row.AddRange(mom.Select(g => NumberFormat.Exact(g[t])));
            output.WriteLine(string.Join(',', row));
        }
    }
}

/// <summary><c>cadence schedule --json</c>: "lr" is the last group (the head, as fastai plots it); every group in "lr_groups" when several.</summary>
internal sealed record ScheduleJson(string Policy, long Iterations, double[] Lr, double[]? Momentum,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] double[][]? LrGroups,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] double[][]? MomentumGroups)
{
    public static ScheduleJson Of(Schedule s, long n, double[][] lr, double[][]? mom) =>
        new(s.Policy, n, lr[^1], mom?[^1], lr.Length > 1 ? lr : null, lr.Length > 1 ? mom : null);
}

/// <summary>The default output of <c>cadence schedule</c>: a summary and the chart.</summary>
internal static class ScheduleText
{
    public static void Write(TextWriter output, Schedule s, long n, double[][] lr, double[][]? mom)
    {
        bool unicode = TerminalChart.UnicodeAllowed(output);
        output.WriteLine($"{s.Policy} — {s.Reference}: {n} iterations" +
            (s.StepsPerEpoch is { } b ? $" ({NumberFormat.Human((double)n / b)} epochs of {b})" : "") +
            (s.Groups > 1 ? $", {s.Groups} parameter groups (showing the last)" : ""));
        Summary(output, "lr", lr[^1]);
        if (mom is not null) Summary(output, "momentum", mom[^1]);
        output.WriteLine();
        output.Write(TerminalChart.Render(lr[^1], "lr", unicode));
        if (mom is not null && mom[^1].Distinct().Count() > 1) { output.WriteLine(); output.Write(TerminalChart.Render(mom[^1], "momentum", unicode)); }
    }

    private static void Summary(TextWriter output, string name, double[] v)
    {
        int iMin = Array.IndexOf(v, v.Min()), iMax = Array.IndexOf(v, v.Max());
        string H(double x) => NumberFormat.Human(x);
        output.WriteLine($"  {name,-9} first {H(v[0])}  max {H(v[iMax])} (step {iMax})  min {H(v[iMin])} (step {iMin})  last {H(v[^1])}");
    }
}

internal sealed class PoliciesCommand(Io io) : CadenceCommand<EmptyCommandSettings>(io)
{
    protected override int Run(CommandContext context, EmptyCommandSettings settings, CancellationToken ct)
    {
        foreach (var p in PolicyCatalog.All) Io.Out.WriteLine($"{p.Name,-24} {p.Reference,-40} {p.Summary}");
        return ExitCodes.Ok;
    }
}
