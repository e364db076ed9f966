using Spectre.Console;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace Cadence.Cli;

/// <summary>
/// Spectre's generated help (options with their defaults and ranges), plus what the parser cannot know: a policy's
/// options from <see cref="PolicyCatalog"/> (<c>schedule POLICY --help</c>, <c>sweep POLICY --help</c>,
/// <c>fit [--schedule POLICY] --help</c>), the list of policies, and the exit codes.
/// </summary>
internal sealed class CadenceHelp(ICommandAppSettings settings, IReadOnlyList<string> args) : HelpProvider(settings)
{
    /// <summary>Options a training command fills from its data and --epochs (not shown as the policy's own there).</summary>
    private static readonly string[] FilledByTraining = ["batches-per-epoch", "steps-per-epoch", "iterations"];

    /// <summary>What <c>fit --fine-tune</c> fills from its model, data and EPOCHS, or does not take.</summary>
    private static readonly string[] FilledByFineTune = ["epochs", "groups", "momentum", "optimizer"];

    public override IEnumerable<IRenderable> GetDescription(ICommandModel model, ICommandInfo? command)
    {
        if (command is null)
            return [new Text("cadence — learning-rate schedules that make training fast, and what they do. 'cadence COMMAND --help' for a command's options.\n\n")];
        if (Policy(command) is { } spec)
            return [new Text($"\n{spec.Name} — {spec.Reference}: {spec.Summary}\n")];
        return base.GetDescription(model, command);
    }

    public override IEnumerable<IRenderable> GetOptions(ICommandModel model, ICommandInfo? command)
    {
        foreach (var r in base.GetOptions(model, command)) yield return r;
        if (Policy(command) is not { } spec) yield break;
        bool training = command!.Name != "schedule";
        string title = command.Name switch
        {
            "fit" when spec.Name == "fine-tune" => "\nFine-tune options (with --fine-tune EPOCHS; the model gives the layer groups, the data the batches per epoch):",
            "fit" => spec.Name == "fit"
                ? "\nSchedule options (the default --schedule fit: fastai 0.7's learn.fit; --lr 0.01 unless given; auto: an LR range test first):"
                : $"\nSchedule options (--schedule {spec.Name}; the data fills batches per epoch, --epochs the length):",
            "sweep" => $"\nOptions of {spec.Name} (VALUES: one value is fixed, a comma list of values an axis; see above):",
            _ => $"\nOptions of {spec.Name}:",
        };
        yield return new Text(title + "\n");
        var grid = new Grid();
        grid.AddColumn(new GridColumn { Padding = new Padding(4, 0, 4, 0), NoWrap = true });
        grid.AddColumn(new GridColumn { Padding = new Padding(0, 0, 4, 0), NoWrap = true });
        grid.AddColumn();
        grid.AddRow(new Text(""), new Text("DEFAULT"), new Text(""));
        var filled = training ? new Cadence.Cli.Options.PolicyChoice(spec.Name, spec.Name, spec.Name, new Dictionary<string, string>()).Defaults(1, null) : [];
        foreach (var o in spec.Options.Concat(PolicyCatalog.Common).Where(o => !training || !FilledByTraining.Contains(o.Name))
                     .Where(o => !(training && spec.Name == "fine-tune" && FilledByFineTune.Contains(o.Name))))
        {
            string shown = filled.GetValueOrDefault(o.Name) ?? (o.Required ? "required" : o.Default ?? "");
            grid.AddRow(new Text($"--{o.Name} {Value(o)}"), new Text(shown), new Text(o.Help));
        }
        yield return grid;
    }

    public override IEnumerable<IRenderable> GetFooter(ICommandModel model, ICommandInfo? command)
    {
        var lines = new List<string>();
        if (command?.Name is "schedule" or "sweep" && Policy(command) is null)
            lines.Add($"POLICY: {string.Join(", ", PolicyCatalog.All.Select(p => p.Name))}; 'cadence {command.Name} POLICY --help' lists its options.");
        if (command?.Name == "fit")
        {
            lines.Add("Any other policy: --schedule POLICY, then the options of 'cadence schedule POLICY' ('cadence fit --schedule POLICY --help').");
            lines.Add("fastai's fine_tune: --fine-tune EPOCHS and its options ('cadence fit --fine-tune 1 --help'; 'cadence schedule fine-tune' previews it).");
        }
        lines.Add("Exit codes: 0 success, 1 failure (data, files, diverged training), 2 usage error, 130 interrupted.");
        return [new Text("\n" + string.Join("\n", lines) + "\n")];
    }

    /// <summary>The policy whose options this help shows: the POLICY argument, or fit's --schedule (default fit).</summary>
    private PolicySpec? Policy(ICommandInfo? command)
    {
        string? name = command?.Name switch
        {
            "schedule" or "sweep" => args.Count > 1 && !args[1].StartsWith('-') ? args[1] : null,
            "fit" => args.Contains("--fine-tune") ? "fine-tune" : args.SkipWhile(a => a != "--schedule").Skip(1).FirstOrDefault() ?? "fit",
            _ => null,
        };
        return PolicyCatalog.All.FirstOrDefault(p => p.Name == name);
    }

    private static string Value(PolicyOption o) => o.Kind switch
    {
        OptionKind.Boolean => "true|false",
        OptionKind.Choice => string.Join("|", o.Choices!),
        OptionKind.Numbers => "X[,X…]",
        OptionKind.Integers => "N[,N…]",
        OptionKind.Integer => "N",
        OptionKind.Text => "TEXT",
        _ => "X",
    };
}
