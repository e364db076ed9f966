using System.Globalization;
using System.Text;
using System.Text.Json;
using Cadence.Schedules;

namespace Cadence.Cli.Commands;

/// <summary><c>cadence schedule POLICY [options]</c>: a schedule's values, chart and explanation, without training.</summary>
internal static class ScheduleCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0].StartsWith('-'))
        {
            if (args is ["--help" or "-h"]) { stdout.Write(Help.Main); return ExitCodes.Ok; }
            return Usage.Fail(stderr, $"schedule needs a POLICY first; one of: {string.Join(", ", PolicyCatalog.All.Select(p => p.Name))}");
        }
        var tokens = args[1..].ToList();
        bool explain = tokens.Remove("--explain");
        try
        {
            var spec = PolicyCatalog.Find(args[0]);
            if (tokens.Contains("--help") || tokens.Contains("-h")) { stdout.Write(Help.Policy(spec)); return ExitCodes.Ok; }
            var options = PolicyCatalog.ParseTokens(tokens);
            var format = options.Remove("format", out var f) ? f : "table";
            if (format is not ("table" or "json" or "csv"))
                return Usage.Fail(stderr, $"--format must be one of table, json, csv; got '{format}'");
            string? plot = options.Remove("plot", out var plotPath) ? plotPath : null;
            if (plot is not null && !SchedulePlot.ValidPath(plot, out var plotError)) return Usage.Fail(stderr, $"--plot: {plotError}");
            var schedule = PolicyCatalog.Create(spec.Name, options);
            long? iterations = options.TryGetValue("iterations", out var it)
                ? long.Parse(it, CultureInfo.InvariantCulture) : schedule.Length;
            if (iterations is not { } n)
                return Usage.Fail(stderr, $"--iterations is required for {spec.Name} (it has no length of its own)");
            if (n > 10_000_000) return Usage.Fail(stderr, $"--iterations must be ≤ 10000000, got {n}");
            var (lr, mom) = schedule.Trace(n);
            switch (format)
            {
                case "json": WriteJson(stdout, schedule, n, lr, mom); break;
                case "csv": WriteCsv(stdout, lr, mom); break;
                default: WriteTable(stdout, schedule, n, lr, mom); break;
            }
            if (explain) { stdout.WriteLine(); stdout.WriteLine(schedule.Describe(n)); }
            return plot is null ? ExitCodes.Ok : SchedulePlot.Write(schedule, n, plot, format == "table" ? stdout : null, stderr);
        }
        catch (ScheduleValidationException e)
        {
            return Usage.Fail(stderr, string.Join("; ", e.Errors.Select(x => $"{Usage.Option(x.Parameter)}: {x.Message}")));
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "step")
        {
            return Usage.Fail(stderr, $"--iterations: {e.Message.Split(" (Parameter")[0]}");
        }
    }

    internal static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static void WriteJson(TextWriter stdout, Schedule s, long n, double[][] lr, double[][]? mom)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("policy", s.Policy);
            w.WriteNumber("iterations", n);
            // Like fastai's plot_lr, "lr" is the last group (the head); every group is in "lr_groups".
            Array(w, "lr", lr[^1]);
            if (mom is null) w.WriteNull("momentum"); else Array(w, "momentum", mom[^1]);
            if (lr.Length > 1)
            {
                Groups(w, "lr_groups", lr);
                if (mom is not null) Groups(w, "momentum_groups", mom);
            }
            w.WriteEndObject();
        }
        stdout.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void Array(Utf8JsonWriter w, string name, double[] values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteRawValue(Number(v));
        w.WriteEndArray();
    }

    private static void Groups(Utf8JsonWriter w, string name, double[][] groups)
    {
        w.WriteStartArray(name);
        foreach (var g in groups)
        {
            w.WriteStartArray();
            foreach (var v in g) w.WriteRawValue(Number(v));
            w.WriteEndArray();
        }
        w.WriteEndArray();
    }

    private static void WriteCsv(TextWriter stdout, double[][] lr, double[][]? mom)
    {
        var header = new List<string> { "step" };
        header.AddRange(lr.Length == 1 ? ["lr"] : lr.Select((_, g) => $"lr_{g}"));
        if (mom is not null) header.AddRange(mom.Length == 1 ? ["momentum"] : mom.Select((_, g) => $"momentum_{g}"));
        stdout.WriteLine(string.Join(',', header));
        for (int t = 0; t < lr[0].Length; t++)
        {
            var row = new List<string> { t.ToString(CultureInfo.InvariantCulture) };
            row.AddRange(lr.Select(g => Number(g[t])));
            if (mom is not null) row.AddRange(mom.Select(g => Number(g[t])));
            stdout.WriteLine(string.Join(',', row));
        }
    }

    private static void WriteTable(TextWriter stdout, Schedule s, long n, double[][] lr, double[][]? mom)
    {
        bool unicode = TerminalChart.UnicodeAllowed(stdout);
        var head = lr[^1];
        stdout.WriteLine($"{s.Policy} — {s.Reference}: {n} iterations" +
            (s.StepsPerEpoch is { } b ? $" ({Number((double)n / b)} epochs of {b})" : "") +
            (s.Groups > 1 ? $", {s.Groups} parameter groups (showing the last)" : ""));
        Summary(stdout, "lr", head);
        if (mom is not null) Summary(stdout, "momentum", mom[^1]);
        stdout.WriteLine();
        stdout.Write(TerminalChart.Render(head, "lr", unicode));
        if (mom is not null && mom[^1].Distinct().Count() > 1) { stdout.WriteLine(); stdout.Write(TerminalChart.Render(mom[^1], "momentum", unicode)); }
    }

    private static void Summary(TextWriter stdout, string name, double[] v)
    {
        int iMin = System.Array.IndexOf(v, v.Min()), iMax = System.Array.IndexOf(v, v.Max());
        stdout.WriteLine($"  {name,-9} first {G(v[0])}  max {G(v[iMax])} (step {iMax})  min {G(v[iMin])} (step {iMin})  last {G(v[^1])}");
    }

    internal static string G(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
