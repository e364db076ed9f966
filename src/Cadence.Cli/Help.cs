using Cadence.Schedules;

namespace Cadence.Cli;

internal static class Help
{
    public const string Commands = "schedule, fit, lr-find, compare, sweep, policies";

    public static string Main => """
        cadence — learning-rate schedules that make training fast, and what they do.

        Usage:
          cadence schedule POLICY [options] [--format table|json|csv] [--explain] [--plot FILE.png|FILE.svg]
                                    Preview a schedule without training: numbers, a chart, plain words.
          cadence schedule POLICY --help
                                    The options of one policy, with the reference's defaults.
          cadence fit [options]     Train a model with a schedule (fastai's fit options, or --schedule POLICY …);
                                    see 'cadence fit --help'.
          cadence lr-find [options] LR range test (fastai's lr_find): the loss-vs-lr curve and suggested lrs;
                                    see 'cadence lr-find --help'. 'cadence fit --lr auto' runs it first.
          cadence compare [options] "POLICY key=value …" …
                                    Train the same model, data and seeds under several schedules; mean ± std of
                                    accuracy, when each reached a target, time; see 'cadence compare --help'.
          cadence sweep POLICY [options] --OPTION v1,v2 …
                                    A grid over one policy's options; a table (and results) per cell, resumable;
                                    see 'cadence sweep --help'.
          cadence policies          Every policy and what it reproduces.

        Example (the fastai call learn.fit(0.01, 1, cycle_len=3, use_clr=(32,5)) with 100 batches an epoch):
          cadence schedule fit --lr 0.01 --cycle-len 3 --use-clr 32,5 --batches-per-epoch 100 --explain

        Exit codes: 0 success, 1 failure, 2 usage error.

        """;

    public static string Policy(PolicySpec spec)
    {
        var w = new StringWriter();
        w.WriteLine($"cadence schedule {spec.Name} — {spec.Reference}");
        w.WriteLine($"  {spec.Summary}");
        w.WriteLine();
        w.WriteLine("Options:");
        foreach (var o in spec.Options.Concat(PolicyCatalog.Common)) Line(w, o);
        w.WriteLine("  --format table|json|csv    Output (default table)");
        w.WriteLine("  --explain                  Print a plain-English explanation of the schedule");
        w.WriteLine("  --plot FILE.png|FILE.svg   Also save the chart (lr, and momentum when it varies) as an image");
        return w.ToString();
    }

    private static void Line(TextWriter w, PolicyOption o)
    {
        var value = o.Kind switch
        {
            OptionKind.Boolean => " true|false",
            OptionKind.Choice => " " + string.Join("|", o.Choices!),
            OptionKind.Numbers => " X[,X…]",
            OptionKind.Integers => " N[,N…]",
            OptionKind.Integer => " N",
            OptionKind.Text => " TEXT",
            _ => " X",
        };
        var tail = o.Required ? " (required)" : o.Default is null ? "" : $" (default {o.Default})";
        w.WriteLine($"  --{o.Name}{value}".PadRight(29) + $"  {o.Help}{tail}");
    }
}
