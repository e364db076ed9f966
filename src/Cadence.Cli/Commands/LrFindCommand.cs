using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cadence.Data;
using Cadence.Schedules;
using Cadence.Training;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence lr-find</c>: the LR range test (fastai <c>learn.lr_find()</c>) on the same data, model and optimizer as
/// <c>cadence fit</c>; prints the loss-vs-lr curve with the suggestions, or JSON. Exit codes as <c>cadence fit</c>.
/// </summary>
internal static class LrFindCommand
{
    public const int Ok = 0, Failure = 1, Usage = 2, Cancelled = 130;

    public const string Help = """
        usage: cadence lr-find [options]
        """ + "\n" + TrainingOptions.Help + "\n" + """
        range test (fastai lr_find; defaults of fastai v2):
          --start-lr X           lr of the first batch (default 1e-7; 1e-5 with --mode fastai07)
          --end-lr X             lr the sweep heads for, never reached (default 10)
          --num-it N             batches of the sweep, over as many epochs as needed (default 100; fastai07: one epoch)
          --linear               linear instead of exponential sweep
          --no-stop-div          do not stop when the smoothed loss exceeds 4× its best
          --mode fastai2|fastai07  whose lr_find to reproduce (default fastai2)
          --group-lrs LR,LR…     differential lrs, one per layer group: the sweep keeps their ratios
          --suggest M[,M…]       minimum, steep, valley, slide, or all (default valley)
          --json                 print {"lrs", "losses", "smoothed", "suggestions", "stopped_early", …}
          --plot FILE.png|.svg   save the curve (smoothed loss by lr, log axis) with the suggestions marked
        """;

    private sealed record Options
    {
        public TrainingOptions Training { get; } = new();
        public double? StartLr { get; set; }
        public double EndLr { get; set; } = 10;
        public int NumIt { get; set; } = 100;
        public bool Linear { get; set; }
        public bool StopDiv { get; set; } = true;
        public LrFindMode Mode { get; set; } = LrFindMode.FastAi2;
        public double[]? GroupLrs { get; set; }
        public LrSuggestion[] Suggest { get; set; } = [LrSuggestion.Valley];
        public bool Json { get; set; }
        public string? Plot { get; set; }

        public LrFindOptions Find => new()
        {
            StartLr = StartLr,
            EndLr = EndLr,
            NumIt = NumIt,
            Linear = Linear,
            StopDiv = StopDiv,
            Mode = Mode,
            GroupLrs = GroupLrs,
        };
    }

    /// <summary>Runs <c>cadence lr-find</c>; <paramref name="args"/> are the arguments after <c>lr-find</c>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        try
        {
            if (args.Contains("--help") || args.Contains("-h")) { stdout.WriteLine(Help); return Ok; }
            return Find(Parse(args), stdout, stderr, ct);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"cadence lr-find: {e.Message}");
            return Usage;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("cadence lr-find: cancelled");
            return Cancelled;
        }
        catch (DataFormatException e)
        {
            stderr.WriteLine($"cadence lr-find: {e.Message}");
            return Failure;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or IOException or UnauthorizedAccessException
                                       or DllNotFoundException or TypeInitializationException or System.Runtime.InteropServices.ExternalException)
        {
            stderr.WriteLine($"cadence lr-find: {e.Message.Replace("\n", "; ", StringComparison.Ordinal)}");
            return Failure;
        }
    }

    private static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => OptionValues.ValueAfter(args, ref i);
            if (o.Training.TryParse(a, Next)) continue;
            switch (a)
            {
                case "--start-lr": o.StartLr = OptionValues.Number(a, Next(), 0, 1e6, exclusive: true); break;
                case "--end-lr": o.EndLr = OptionValues.Number(a, Next(), 0, 1e6, exclusive: true); break;
                case "--num-it": o.NumIt = OptionValues.Integer(a, Next(), 1, 1_000_000); break;
                case "--linear": o.Linear = true; break;
                case "--no-stop-div": o.StopDiv = false; break;
                case "--json": o.Json = true; break;
                case "--plot": o.Plot = PlotFile(a, Next()); break;
                case "--mode":
                    o.Mode = Next() switch
                    {
                        "fastai2" => LrFindMode.FastAi2,
                        "fastai07" => LrFindMode.FastAi07,
                        var m => throw new UsageException($"--mode: expected fastai2 or fastai07, got '{m}'"),
                    };
                    break;
                case "--group-lrs":
                    o.GroupLrs = Next().Split(',').Select(s => OptionValues.Number(a, s, 0, 1e6, exclusive: true)).ToArray();
                    break;
                case "--suggest":
                    string list = Next();
                    o.Suggest = list == "all" ? Enum.GetValues<LrSuggestion>() : list.Split(',').Select(s => Method(s)).Distinct().ToArray();
                    break;
                default:
                    throw new UsageException($"unknown option '{a}' (see cadence lr-find --help)");
            }
        }
        o.Training.Validate();
        if (o.Find.Validate(o.GroupLrs?.Length ?? 1).FirstOrDefault() is { } error) throw new UsageException(OptionName(error));
        return o;
    }

    private static LrSuggestion Method(string s) => s switch
    {
        "minimum" => LrSuggestion.Minimum,
        "steep" => LrSuggestion.Steep,
        "valley" => LrSuggestion.Valley,
        "slide" => LrSuggestion.Slide,
        _ => throw new UsageException($"--suggest: expected minimum, steep, valley, slide or all, got '{s}'"),
    };

    private static string Name(LrSuggestion s) => s.ToString().ToLowerInvariant();

    /// <summary>The letter marking a suggestion on the chart (steep and slide share an initial).</summary>
    private static char Mark(LrSuggestion s) => s switch { LrSuggestion.Minimum => 'M', LrSuggestion.Steep => 'S', LrSuggestion.Valley => 'V', _ => 'L' };

    /// <summary>The library names its parameters (startLr: …); the command line names its options (--start-lr: …).</summary>
    internal static string OptionName(string message) => message
        .Replace("startLr", "--start-lr", StringComparison.Ordinal).Replace("endLr", "--end-lr", StringComparison.Ordinal)
        .Replace("numIt", "--num-it", StringComparison.Ordinal).Replace("groupLrs", "--group-lrs", StringComparison.Ordinal);

    private static int Find(Options o, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var loaded = o.Training.Load();
        using var run = o.Training.Build(loaded);
        var learn = run.Learner;
        if (o.Find.Validate(learn.LayerGroups.Count).FirstOrDefault() is { } error)
            throw new UsageException($"{OptionName(error)} ({run.ModelName})");
        var live = new LiveLine(stderr, !Console.IsErrorRedirected);
        var result = learn.LrFind(o.Find, live, ct);
        live.Done();
        if (o.Json) WriteJson(stdout, result, o.Suggest);
        else WriteText(stdout, result, o.Suggest, TerminalChart.UnicodeAllowed(stdout));
        if (o.Plot is not null) SavePlot(o.Plot, result, o.Suggest, stderr);
        return Ok;
    }

    /// <summary>The --plot file: .png or .svg, in a folder that exists, checked before the sweep runs.</summary>
    private static string PlotFile(string option, string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is not (".png" or ".svg")) throw new UsageException($"{option}: expected a .png or .svg file, got '{path}'");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new UsageException($"{option}: the folder {dir} does not exist");
        return path;
    }

    /// <summary>fastai's plot_lr_find: the smoothed loss without the last points (the divergence), suggestions marked.</summary>
    private static void SavePlot(string path, LrFindResult r, LrSuggestion[] suggest, TextWriter stderr)
    {
        int skipEnd = r.Mode == LrFindMode.FastAi07 ? 6 : 5;
        int count = Math.Max(0, r.Lrs.Count - skipEnd);
        var marks = suggest.Where(r.Suggestions.ContainsKey).ToDictionary(Name, m => r.Suggestions[m].Lr);
        if (Enumerable.Range(0, count).Count(i => double.IsFinite(r.Smoothed[i])) < 2)
        {
            stderr.WriteLine($"cadence lr-find: --plot: too few points to draw ({r.Lrs.Count} recorded); {path} not written");
            return;
        }
        Cadence.Plots.Plots.LrFind(r.Lrs.Take(count).ToArray(), r.Smoothed.Take(count).ToArray(), marks, path);
    }

    private static void WriteText(TextWriter w, LrFindResult r, LrSuggestion[] suggest, bool unicode)
    {
        string mode = r.Mode == LrFindMode.FastAi07 ? "fastai 0.7" : "fastai v2";
        w.WriteLine(Say($"LR range test ({mode}): {r.Lrs.Count} points, lr {r.Lrs.FirstOrDefault():G4} to {r.Lrs.LastOrDefault():G4} in {r.Seconds:F1} s; {r.Reason}."));
        // fastai's plot_lr_find leaves out the last 5 points (0.7's plot the first 10 and last 6): the divergence would flatten the curve.
        int from = r.Mode == LrFindMode.FastAi07 ? Math.Min(10, r.Lrs.Count) : 0;
        int to = Math.Max(from, r.Lrs.Count - (r.Mode == LrFindMode.FastAi07 ? 6 : 5));
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
                w.WriteLine(Say($"  {Mark(m)} {Name(m),-8} {s.Lr,-11:G4} {s.Why}"));
            else
                w.WriteLine(Say($"    {Name(m),-8} {"-",-11} too few points: the suggestions read {r.WindowCount} (from point {r.WindowStart}; the last {(r.Mode == LrFindMode.FastAi07 ? 6 : 5)} and any from the first NaN on are left out)"));
        }
    }

    private static void WriteJson(TextWriter stdout, LrFindResult r, LrSuggestion[] suggest)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            WriteArray(w, "lrs", r.Lrs);
            WriteArray(w, "losses", r.Losses);
            WriteArray(w, "smoothed", r.Smoothed);
            w.WriteStartObject("suggestions");
            foreach (var m in suggest)
            {
                if (r.Suggestions.TryGetValue(m, out var s)) w.WriteNumber(Name(m), s.Lr);
                else w.WriteNull(Name(m));
            }
            w.WriteEndObject();
            w.WriteBoolean("stopped_early", r.StoppedEarly);
            w.WriteString("reason", r.Reason);
            w.WriteString("mode", r.Mode == LrFindMode.FastAi07 ? "fastai07" : "fastai2");
            w.WriteNumber("batches", r.Batches);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }

    private static void WriteArray(Utf8JsonWriter w, string name, IReadOnlyList<double> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) { if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue(); }
        w.WriteEndArray();
    }

    private static string Say(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>A throttled progress line on stderr when it is a terminal.</summary>
    private sealed class LiveLine(TextWriter stderr, bool enabled) : IProgress<LrFindProgress>
    {
        private readonly Stopwatch _throttle = Stopwatch.StartNew();
        private bool _open;

        public void Report(LrFindProgress p)
        {
            if (!enabled || (_throttle.ElapsedMilliseconds < 250 && p.Iteration != p.Total)) return;
            _throttle.Restart();
            stderr.Write("\r" + Say($"lr-find batch {p.Iteration}/{p.Total}  lr {p.Lr:G4}  loss {p.SmoothLoss:F4}").PadRight(70));
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

/// <summary><c>--lr auto</c> for <c>cadence fit</c>: runs the range test and puts its valley suggestion in place of "auto".</summary>
internal static class LrAuto
{
    private static readonly string[] LrKeys = ["lr", "max-lr", "lr-max"];

    /// <summary>
    /// Replaces "auto" in the lr options of a policy (<paramref name="policyOptions"/>), or else passes the suggestion to
    /// <paramref name="setFitLr"/>; says on <paramref name="stderr"/> which lr it chose and why.
    /// </summary>
    public static void Resolve(Dictionary<string, string> policyOptions, Action<double> setFitLr, Learner learn, TextWriter stderr, CancellationToken ct)
    {
        var auto = policyOptions.Where(kv => kv.Value == "auto").Select(kv => kv.Key).ToArray();
        if (auto.FirstOrDefault(k => !LrKeys.Contains(k)) is { } bad)
            throw new UsageException($"--{bad}: auto is only for --lr, --max-lr and --lr-max");
        double lr = learn.Resolve(Lr.Auto, new Say(stderr), cancellationToken: ct);
        foreach (var key in auto) policyOptions[key] = lr.ToString("R", CultureInfo.InvariantCulture);
        if (auto.Length == 0) setFitLr(lr);
    }

    private sealed class Say(TextWriter stderr) : IProgress<string>
    {
        public void Report(string value) => stderr.WriteLine($"cadence fit: {value}");
    }
}
