namespace Cadence.Schedules;

public static partial class PolicyCatalog
{
    private static IEnumerable<PolicySpec> TransformerPolicies() => [];
}
