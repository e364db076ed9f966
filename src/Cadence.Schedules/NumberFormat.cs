using System.Globalization;

namespace Cadence.Schedules;

/// <summary>
/// How Cadence writes numbers, in one place: <see cref="Exact"/> for machines (JSON, CSV, checkpoints' configuration,
/// error messages that echo a value), <see cref="Human"/> for people (tables, charts' axes, summaries, suggestions).
/// </summary>
public static class NumberFormat
{
    /// <summary>Significant digits of <see cref="Human"/>.</summary>
    public const int HumanDigits = 6;

    /// <summary>The shortest text that reads back as the same double (<c>0.1</c>, <c>1E-07</c>), invariant culture.</summary>
    public static string Exact(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>At most <see cref="HumanDigits"/> significant digits (<c>1.31768E-07</c>, <c>0.000352865</c>), invariant culture.</summary>
    public static string Human(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
