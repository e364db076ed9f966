namespace Cadence.Schedules;

/// <summary>Plain-English explanations generated from a schedule's pieces (placeholder until written).</summary>
public static class ScheduleDescription
{
    /// <summary>Explains <paramref name="schedule"/> over <paramref name="iterations"/> steps.</summary>
    public static string Describe(Schedule schedule, long? iterations = null) => schedule.Reference;
}
