using System.Diagnostics;
using Cadence.Cli.Training;
using Cadence.Training;

namespace Cadence.Cli.Commands;

internal sealed class LrFindSettings : TrainingSettings
{
    [CommandOption("--start-lr <X>"), Number(0, 1e6, "Lr of the first batch (default 1e-7; 1e-5 with --mode fastai07)", MinOpen = true)]
    public double? StartLr { get; set; }

    [CommandOption("--end-lr <X>"), Number(0, 1e6, "Lr the sweep heads for, never reached", MinOpen = true), DefaultValue(10.0)]
    public double EndLr { get; set; } = 10;

    [CommandOption("--num-it|--iterations <N>"), Whole(1, 1_000_000, "Batches of the sweep, over as many epochs as needed (fastai07: one epoch)"), DefaultValue(100L)]
    public long NumIt { get; set; } = 100;

    [CommandOption("--linear"), Description("Linear instead of exponential sweep")]
    public bool Linear { get; set; }

    [CommandOption("--no-stop-div"), Description("Do not stop when the smoothed loss exceeds 4× its best")]
    public bool NoStopDiv { get; set; }

    [CommandOption("--mode <MODE>"), OneOf("Whose lr_find to reproduce", "fastai2", "fastai07"), DefaultValue("fastai2")]
    public string Mode { get; set; } = "fastai2";

    [CommandOption("--group-lrs <LRS>"), Numbers("Differential lrs, one per layer group: the sweep keeps their ratios")]
    public string? GroupLrs { get; set; }

    [CommandOption("--suggest <METHODS>"), OneOf("Suggestions to print (a comma list)", "minimum", "steep", "valley", "slide", "all", List = true), DefaultValue("valley")]
    public string Suggest { get; set; } = "valley";

    public LrFindOptions Find => new()
    {
        StartLr = StartLr,
        EndLr = EndLr,
        NumIt = (int)NumIt,
        Linear = Linear,
        StopDiv = !NoStopDiv,
        Mode = Mode == "fastai07" ? LrFindMode.FastAi07 : LrFindMode.FastAi2,
        GroupLrs = GroupLrs is null ? null : NumbersAttribute.Parse(GroupLrs),
    };

    public LrSuggestion[] Suggestions => Suggest.Split(',').Contains("all") ? Enum.GetValues<LrSuggestion>()
        : [.. Suggest.Split(',').Distinct().Select(s => Enum.Parse<LrSuggestion>(s, ignoreCase: true))];

    public override void Check(Check check)
    {
        base.Check(check);
        if (GroupLrs is not null && NumbersAttribute.Parse(GroupLrs) is null) return;   // already reported by its rule
        // The library checks what the rules cannot (the end above the start); an option already refused is not named twice.
        foreach (var e in Find.Errors(Find.GroupLrs?.Count ?? 1).Where(e => check.Errors.All(x => x.Parameter != OptionNames.Of(e.Parameter))))
            check.Fail(OptionNames.Of(e.Parameter), e.Message);
    }
}

/// <summary>
/// <c>cadence lr-find</c>: the LR range test (fastai <c>learn.lr_find()</c>) on the data, model and optimizer of
/// <c>cadence fit</c>; prints the loss-vs-lr curve with the suggestions, or JSON.
/// </summary>
internal sealed class LrFindCommand(Io io) : CadenceCommand<LrFindSettings>(io)
{
    protected override int Run(CommandContext context, LrFindSettings s, CancellationToken ct)
    {
        var log = DataLog.For(Io, "lr-find", s.Json);
        using var run = TrainingRun.Create(s, s.Load(s.SeedValue, log), s.SeedValue, null, ownsData: true, log);
        var options = s.Find;
        ValidationException.ThrowIfAny([.. options.Errors(run.Learner.LayerGroups.Count).Select(e => e with { Parameter = OptionNames.Of(e.Parameter) })]);
        var live = new LiveLine(Io.Err, Io.ErrIsTerminal);
        var result = run.Learner.LrFind(options, live, ct);
        live.Done();
        var suggest = s.Suggestions;
        if (s.Json) Io.Out.WriteLine(Json.Serialize(LrFindJson.Of(result, suggest)));
        else WriteText(Io.Out, result, suggest, TerminalChart.UnicodeAllowed(Io.Out));
        if (s.PlotPath("lr-find") is { } path) SavePlot(path, result, suggest);
        return ExitCodes.Ok;
    }

    private static string Name(LrSuggestion s) => s.ToString().ToLowerInvariant();

    /// <summary>The letter marking a suggestion on the chart (steep and slide share an initial).</summary>
    private static char Mark(LrSuggestion s) => s switch { LrSuggestion.Minimum => 'M', LrSuggestion.Steep => 'S', LrSuggestion.Valley => 'V', _ => 'L' };

    /// <summary>Points fastai's plot_lr_find leaves out at the end (0.7's plot also the first 10): the divergence would flatten the curve.</summary>
    private static int SkipEnd(LrFindResult r) => r.Mode == LrFindMode.FastAi07 ? 6 : 5;

    private void SavePlot(string path, LrFindResult r, LrSuggestion[] suggest)
    {
        int count = Math.Max(0, r.Lrs.Count - SkipEnd(r));
        if (Enumerable.Range(0, count).Count(i => double.IsFinite(r.Smoothed[i])) < 2)
        {
            Io.Err.WriteLine($"cadence lr-find: --plots: too few points to draw ({r.Lrs.Count} recorded); {path} not written");
            return;
        }
        var marks = suggest.Where(r.Suggestions.ContainsKey).ToDictionary(Name, m => r.Suggestions[m].Lr);
        Outputs.Folder("--plots", Path.GetDirectoryName(Path.GetFullPath(path))!);
        Outputs.Write("--plots", path, () => Plots.Plots.LrFind(r.Lrs.Take(count).ToArray(), r.Smoothed.Take(count).ToArray(), marks, path));
    }

    private static void WriteText(TextWriter w, LrFindResult r, LrSuggestion[] suggest, bool unicode)
    {
        string H(double v) => NumberFormat.Human(v);
        string mode = r.Mode == LrFindMode.FastAi07 ? "fastai 0.7" : "fastai v2";
        w.WriteLine(Say($"LR range test ({mode}): {r.Lrs.Count} points, lr {H(r.Lrs.FirstOrDefault())} to {H(r.Lrs.LastOrDefault())} in {r.Seconds:F1} s; {r.Reason}."));
        int from = r.Mode == LrFindMode.FastAi07 ? Math.Min(10, r.Lrs.Count) : 0;
        int to = Math.Max(from, r.Lrs.Count - SkipEnd(r));
        var xs = new List<double>();
        var ys = new List<double>();
        for (int i = from; i < to; i++)
            if (double.IsFinite(r.Smoothed[i]) && r.Lrs[i] > 0) { xs.Add(r.Lrs[i]); ys.Add(r.Smoothed[i]); }
        var marks = suggest.Where(r.Suggestions.ContainsKey).Select(m => (r.Suggestions[m].PointLr, Mark(m))).ToArray();
        if (xs.Count >= 2) w.Write(TerminalChart.RenderXY(xs, ys, logX: true, marks, "smoothed loss by lr (log)", unicode));
        else w.WriteLine("(too few points to draw the curve)");
        foreach (var m in suggest)
        {
            if (r.Suggestions.TryGetValue(m, out var s))
                w.WriteLine(Say($"  {Mark(m)} {Name(m),-8} {H(s.Lr),-11} {s.Why}"));
            else
                w.WriteLine(Say($"    {Name(m),-8} {"-",-11} too few points: the suggestions read {r.WindowCount} (from point {r.WindowStart}; the last {SkipEnd(r)} and any from the first NaN on are left out)"));
        }
    }

    private static string Say(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>cadence lr-find --json</c>.</summary>
    private sealed record LrFindJson(IReadOnlyList<double> Lrs, IReadOnlyList<double> Losses, IReadOnlyList<double> Smoothed,
        Dictionary<string, double?> Suggestions, bool StoppedEarly, string Reason, string Mode, int Batches, double Seconds)
    {
        public static LrFindJson Of(LrFindResult r, LrSuggestion[] suggest) =>
            new(r.Lrs, r.Losses, r.Smoothed, suggest.ToDictionary(Name, m => r.Suggestions.TryGetValue(m, out var s) ? s.Lr : (double?)null),
                r.StoppedEarly, r.Reason, r.Mode == LrFindMode.FastAi07 ? "fastai07" : "fastai2", r.Batches, Math.Round(r.Seconds, 3));
    }

    /// <summary>A throttled progress line on stderr when it is a terminal.</summary>
    private sealed class LiveLine(TextWriter stderr, bool enabled) : IProgress<LrFindProgress>
    {
        private readonly Stopwatch _throttle = Stopwatch.StartNew();
        private bool _open;

        public void Report(LrFindProgress p)
        {
            if (!enabled || (_throttle.ElapsedMilliseconds < 250 && p.Iteration != p.Total)) return;
            _throttle.Restart();
            stderr.Write("\r" + Say($"lr-find batch {p.Iteration}/{p.Total}  lr {NumberFormat.Human(p.Lr)}  loss {p.SmoothLoss:F4}").PadRight(70));
            stderr.Flush();
            _open = true;
        }

        public void Done()
        {
            if (!_open) return;
            stderr.Write("\r" + new string(' ', 70) + "\r");
            stderr.Flush();
        }
    }
}
