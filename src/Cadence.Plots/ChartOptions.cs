namespace Cadence.Plots;

/// <summary>Size and content choices shared by every chart.</summary>
public sealed record ChartOptions
{
    /// <summary>Smallest accepted <see cref="Width"/> or <see cref="Height"/>, in pixels.</summary>
    public const int MinSize = 100;

    /// <summary>Largest accepted <see cref="Width"/> or <see cref="Height"/>, in pixels.</summary>
    public const int MaxSize = 10_000;

    /// <summary>Image width in pixels (PNG) or user units (SVG); default 800.</summary>
    public int Width { get; init; } = 800;

    /// <summary>Image height in pixels (PNG) or user units (SVG), all panels together; default 500.</summary>
    public int Height { get; init; } = 500;

    /// <summary>Title at the top; <see langword="null"/> for the chart's own.</summary>
    public string? Title { get; init; }

    /// <summary>
    /// Plot only the last parameter group (fastai's <c>plot_lr</c>, the head of the network) instead of every group.
    /// </summary>
    public bool LastGroupOnly { get; init; }

    /// <summary>Every invalid option (<c>width</c>, <c>height</c>), named, with the allowed range.</summary>
    public IReadOnlyList<Cadence.Schedules.ValidationError> Errors() => new Cadence.Schedules.Check()
        .That(Width is >= MinSize and <= MaxSize, "width", $"must be in [{MinSize}, {MaxSize}] pixels, got {Width}")
        .That(Height is >= MinSize and <= MaxSize, "height", $"must be in [{MinSize}, {MaxSize}] pixels, got {Height}")
        .Errors;

    /// <summary>Throws one <see cref="Cadence.Schedules.ValidationException"/> naming every invalid option.</summary>
    internal void Validate() => Cadence.Schedules.ValidationException.ThrowIfAny(Errors());
}

/// <summary>One named line of a comparison chart: a run or a schedule.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="X">X values (iterations, epochs …), as many as <paramref name="Y"/>.</param>
/// <param name="Y">Y values; non-finite values are left out of the line.</param>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    /// <summary>
    /// Half-width of a band drawn around the line (Y − Spread … Y + Spread), e.g. the standard deviation over seeds; as
    /// many values as <see cref="Y"/>, non-finite ones leave the band out at that point; <see langword="null"/>: no band.
    /// </summary>
    public IReadOnlyList<double>? Spread { get; init; }

    /// <summary>
    /// Mark each point (a few measurements, such as one per epoch, rather than a curve); when every series is marked and
    /// its x values are whole numbers, the x axis ticks whole numbers only.
    /// </summary>
    public bool Markers { get; init; }

    /// <summary>The last parameter group's learning rate of <paramref name="schedule"/> at steps 0 … <paramref name="iterations"/> − 1.</summary>
    public static Series FromSchedule(string name, Cadence.Schedules.Schedule schedule, long iterations)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        Plots.CheckIterations(iterations);
        var (lr, _) = schedule.Trace(iterations);
        return new Series(name, Enumerable.Range(0, (int)iterations).Select(i => (double)i).ToArray(), lr[^1]);
    }
}
