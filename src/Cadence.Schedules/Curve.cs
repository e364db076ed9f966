namespace Cadence.Schedules;

/// <summary>Which piece of a curve a step falls in: the unit <see cref="ScheduleDescription"/> talks about.</summary>
/// <param name="Id">Equal for consecutive steps of the same piece; differs between pieces (and between cycles).</param>
/// <param name="Shape">A short name of the shape ("linear", "cosine", …).</param>
public readonly record struct Piece(long Id, string Shape);

/// <summary>
/// One hyper-parameter of one parameter group as a pure function of the optimizer step: the value the
/// optimizer uses at step <c>t</c> (0-based), with no hidden state, so any step can be evaluated in O(1).
/// </summary>
public abstract record Curve
{
    /// <summary>The value used by optimizer step <paramref name="step"/> (0-based).</summary>
    public abstract double At(long step);

    /// <summary>The piece (phase, cycle) that <paramref name="step"/> belongs to.</summary>
    public abstract Piece PieceAt(long step);

    /// <summary>A constant value.</summary>
    public static Curve Constant(double value) => new ConstantCurve(value);

    /// <summary><paramref name="shape"/> stretched over <paramref name="steps"/> steps: step t uses progress t/steps.</summary>
    public static Curve Over(Anneal shape, long steps) => new AnnealedCurve(shape, steps);

    /// <summary>Phases one after another, each with its own clock starting at 0; the last one runs on forever.</summary>
    public static Curve Concat(params (long Steps, Curve Part)[] parts) => new ConcatCurve(parts);

    /// <summary>This curve repeated every <paramref name="period"/> steps.</summary>
    public Curve Repeat(long period) => new RepeatCurve(this, period);

    /// <summary>
    /// <paramref name="shape"/> restarted in cycles of <c>firstLength·mult^c</c> steps (SGDR): step j of a cycle of
    /// length n uses <c>shape.At(j, n)</c>.
    /// </summary>
    public static Curve Restarts(Anneal shape, long firstLength, long mult) => new RestartCurve(shape, firstLength, mult);

    /// <summary>The value this curve has <paramref name="lead"/> steps later (fastai 0.7's momentum runs one batch ahead).</summary>
    public Curve Lead(long lead) => new LeadCurve(this, lead);

    /// <summary>This curve, with the first <paramref name="steps"/> steps replaced by <paramref name="head"/> (on the same clock).</summary>
    public Curve WithHead(long steps, Curve head) => new HeadCurve(head, steps, this);

    /// <summary>Mixes a child's piece id into a parent's, so pieces stay distinct after composition.</summary>
    private protected static long Mix(long parent, long child) => unchecked((parent + 1) * 1_000_003L + child);
}

internal sealed record ConstantCurve(double Value) : Curve
{
    public override double At(long step) => Value;
    public override Piece PieceAt(long step) => new(0, "constant");
}

internal sealed record AnnealedCurve(Anneal Shape, long Steps) : Curve
{
    public override double At(long step) => Shape.At(step, Steps);
    public override Piece PieceAt(long step) => new(0, Shape.Shape);
}

internal sealed record ConcatCurve((long Steps, Curve Part)[] Parts) : Curve
{
    private (long Start, Curve Part)[] Starts { get; } = StartsOf(Parts);

    private static (long, Curve)[] StartsOf((long Steps, Curve Part)[] parts)
    {
        var starts = new (long, Curve)[parts.Length];
        long at = 0;
        for (int i = 0; i < parts.Length; i++) { starts[i] = (at, parts[i].Part); at += parts[i].Steps; }
        return starts;
    }

    private int IndexOf(long step)
    {
        int i = Starts.Length - 1;
        while (i > 0 && step < Starts[i].Start) i--;
        return i;
    }

    public override double At(long step)
    {
        var (start, part) = Starts[IndexOf(step)];
        return part.At(step - start);
    }

    public override Piece PieceAt(long step)
    {
        int i = IndexOf(step);
        var piece = Starts[i].Part.PieceAt(step - Starts[i].Start);
        return piece with { Id = Mix(i, piece.Id) };
    }
}

internal sealed record RepeatCurve(Curve Cycle, long Period) : Curve
{
    public override double At(long step) => Cycle.At(step % Period);
    public override Piece PieceAt(long step)
    {
        var piece = Cycle.PieceAt(step % Period);
        return piece with { Id = Mix(step / Period, piece.Id) };
    }
}

internal sealed record RestartCurve(Anneal Shape, long FirstLength, long Mult) : Curve
{
    /// <summary>Cycle index, its first step and its length, in closed form (no replay).</summary>
    internal (long Cycle, long Start, long Length) Locate(long step)
    {
        if (Mult == 1) return (step / FirstLength, step / FirstLength * FirstLength, FirstLength);
        long start = 0, length = FirstLength, cycle = 0;
        // At most ~63 iterations: lengths grow geometrically, so this is O(log step), not a replay.
        while (step >= start + length) { start += length; length *= Mult; cycle++; }
        return (cycle, start, length);
    }

    public override double At(long step)
    {
        var (_, start, length) = Locate(step);
        return Shape.At(step - start, length);
    }

    public override Piece PieceAt(long step) => new(Locate(step).Cycle, Shape.Shape);
}

internal sealed record LeadCurve(Curve Inner, long Offset) : Curve
{
    public override double At(long step) => Inner.At(step + Offset);
    public override Piece PieceAt(long step) => Inner.PieceAt(step + Offset);
}

internal sealed record HeadCurve(Curve Head, long Steps, Curve Tail) : Curve
{
    public override double At(long step) => step < Steps ? Head.At(step) : Tail.At(step);
    public override Piece PieceAt(long step) =>
        step < Steps ? Head.PieceAt(step) with { Id = -1 } : Tail.PieceAt(step);
}
