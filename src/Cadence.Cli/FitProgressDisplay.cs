using System.Diagnostics;
using Cadence.Training;
using Spectre.Console;

namespace Cadence.Cli;

/// <summary>fastai's per-epoch table: <c>epoch  train_loss  valid_loss  accuracy  time</c>.</summary>
internal static class EpochTable
{
    /// <summary>The header; with <paramref name="phases"/>, a <c>phase</c> column after the epoch (a fine-tune's frozen and unfrozen epochs).</summary>
    public static string Header(IEnumerable<string> metrics, bool phases = false) =>
        Join(new[] { "epoch" }.Concat(phases ? ["phase"] : []).Concat(["train_loss", "valid_loss"]).Concat(metrics).Append("time"));

    /// <summary>One epoch's row; <paramref name="phase"/> fills the phase column of a header with phases.</summary>
    public static string Row(EpochRecord e, string? phase = null)
    {
        var cells = new List<string> { (e.Epoch + 1).ToString(CultureInfo.InvariantCulture) };
        if (phase is not null) cells.Add(phase);
        cells.AddRange([F(e.TrainLoss), F(e.ValidLoss)]);
        cells.AddRange(e.Metrics.Select(F));
        var t = TimeSpan.FromSeconds(e.Seconds);
        cells.Add($"{(int)t.TotalMinutes:00}:{t.Seconds:00}");
        return Join(cells);
    }

    private static string Join(IEnumerable<string> cells) => string.Join("  ", cells.Select(c => c.PadRight(10))).TrimEnd();

    private static string F(double v) => double.IsFinite(v) ? v.ToString("F6", CultureInfo.InvariantCulture) : "nan";
}

/// <summary>
/// Shows a fit's progress: a live Spectre.Console progress bar (batches of the whole fit, with the epoch, smoothed
/// loss and lr) on an interactive terminal, or a plain line every tenth of an epoch when the output is redirected;
/// the epoch table is written as each epoch ends.
/// </summary>
internal static class FitProgressDisplay
{
    /// <summary>
    /// Runs <paramref name="fit"/> with a live progress bar on <paramref name="console"/>; table rows go above it, with
    /// the phase of each epoch when <paramref name="phaseOf"/> is given (a fine-tune).
    /// </summary>
    public static FitResult Live(IAnsiConsole console, IReadOnlyList<string> metrics, long totalBatches, Func<IProgress<FitProgress>, FitResult> fit,
        Func<int, string>? phaseOf = null)
    {
        console.WriteLine(EpochTable.Header(metrics, phaseOf is not null));
        return console.Progress()
            .AutoClear(true)
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("starting", maxValue: Math.Max(1, totalBatches));
                return fit(new LiveReporter(console, task, phaseOf));
            });
    }

    /// <summary>
    /// Runs <paramref name="fit"/> writing the table to <paramref name="table"/> (with each epoch's phase when
    /// <paramref name="phaseOf"/> is given) and a plain progress line every tenth of an epoch to <paramref name="lines"/>.
    /// </summary>
    public static FitResult Plain(TextWriter table, TextWriter lines, IReadOnlyList<string> metrics, Func<IProgress<FitProgress>, FitResult> fit,
        Func<int, string>? phaseOf = null)
    {
        table.WriteLine(EpochTable.Header(metrics, phaseOf is not null));
        return fit(new PlainReporter(table, lines, phaseOf));
    }

    private static string Describe(FitProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {p.Epoch + 1}/{p.Epochs}  batch {p.Batch}/{p.Batches}  loss {p.SmoothLoss:F4}  lr {Cadence.Schedules.NumberFormat.Human(p.Lr)}");

    private sealed class LiveReporter(IAnsiConsole console, ProgressTask task, Func<int, string>? phaseOf) : IProgress<FitProgress>
    {
        private readonly Stopwatch _throttle = Stopwatch.StartNew();

        public void Report(FitProgress p)
        {
            if (p.Finished is { } e)
            {
                console.WriteLine(EpochTable.Row(e, phaseOf?.Invoke(e.Epoch)));
                return;
            }
            task.Value = (double)p.Epoch * p.Batches + p.Batch;
            // The description is text the user cannot inject markup into, but it still has to be escaped.
            if (_throttle.ElapsedMilliseconds >= 100 || p.Batch == p.Batches)
            {
                _throttle.Restart();
                task.Description = Markup.Escape(Describe(p));
            }
        }
    }

    private sealed class PlainReporter(TextWriter table, TextWriter lines, Func<int, string>? phaseOf) : IProgress<FitProgress>
    {
        private long _lastTenth = -1;

        public void Report(FitProgress p)
        {
            if (p.Finished is { } e)
            {
                table.WriteLine(EpochTable.Row(e, phaseOf?.Invoke(e.Epoch)));
                table.Flush();
                _lastTenth = -1;
                return;
            }
            long tenth = p.Batch * 10 / p.Batches;
            if (tenth == _lastTenth || tenth == 10) return;
            _lastTenth = tenth;
            if (tenth > 0) { lines.WriteLine(Describe(p)); lines.Flush(); }
        }
    }
}
