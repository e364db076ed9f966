
namespace Cadence.Cli.Commands;

/// <summary>
/// The shape of every command: remaining options read (a policy's) or refused, every rule checked at once and the
/// output paths probed — before any data is loaded — then <see cref="Run"/>. Errors propagate to the one handler.
/// </summary>
internal abstract class CadenceCommand<TSettings>(Io io) : Command<TSettings> where TSettings : CommandSettings
{
    protected Io Io { get; } = io;

    public sealed override int Execute(CommandContext context, TSettings settings, CancellationToken cancellationToken)
    {
        if (settings is IPolicySettings policy) policy.Read(context.Remaining, context.Name);
        else RefuseRemaining(context, settings);
        OptionRules.Validate(settings);
        return Run(context, settings, cancellationToken);
    }

    protected abstract int Run(CommandContext context, TSettings settings, CancellationToken ct);

    private static void RefuseRemaining(CommandContext context, TSettings settings)
    {
        if (context.Remaining.Parsed.FirstOrDefault() is { } unknown)
        {
            var known = settings.GetType().GetProperties()
                .Select(p => p.GetCustomAttributes(typeof(CommandOptionAttribute), true).OfType<CommandOptionAttribute>().FirstOrDefault())
                .Where(o => o is { IsHidden: false }).Select(o => "--" + o!.LongNames[0]);
            throw new UsageException(unknown.Key, $"unknown option{OptionNames.DidYouMean(unknown.Key, known)} (see cadence {context.Name} --help)");
        }
        if (context.Remaining.Raw.Count > 0) throw new UsageException(null, $"unexpected arguments after '--': {string.Join(' ', context.Remaining.Raw)}");
    }
}

/// <summary>Settings that take a policy's options as their remaining options (<c>--max-lr 0.1</c>).</summary>
internal interface IPolicySettings
{
    /// <summary>Reads the policy's options from what the parser left; a usage error for anything that is not one.</summary>
    void Read(IRemainingArguments remaining, string command);
}
