using System.Diagnostics;
using Cadence.Training;

namespace Cadence.Bench.Training;

/// <summary>
/// Splits a training batch of the Learner into phases with two callbacks, one that runs before every other callback
/// (<see cref="First"/>) and one after (<see cref="Last"/>). The Learner's batch is: BeforeBatch, get batch, forward,
/// loss, AfterLoss, zero_grad, backward, AfterBackward, schedule At + hyper-parameter write, BeforeStep, optimizer
/// step, AfterStep, AfterBatch, dispose scope. Training is synchronous on the CPU, so wall-clock marks are exact
/// phase times; a mark costs ~30 ns.
/// </summary>
internal sealed class PhaseMarks
{
    private long _batchStart, _lossFirst, _lossLast, _backwardFirst, _stepStart, _stepEnd;
    private double _forward, _lossCallbacks, _backward, _hyper, _step, _afterStep;
    private long _batches, _tails;

    public PhaseMarks()
    {
        First = new Mark(this, int.MinValue);
        Last = new Mark(this, int.MaxValue);
    }

    public Callback First { get; }
    public Callback Last { get; }

    /// <summary>Milliseconds per batch by phase; <paramref name="dataMs"/> (replayed GetBatch) is split off the forward phase.</summary>
    public Dictionary<string, double> Summary(double dataMs)
    {
        double Per(double ticks, long n) => n == 0 ? 0 : ticks * 1000.0 / Stopwatch.Frequency / n;
        double forward = Per(_forward, _batches);
        return new Dictionary<string, double>
        {
            ["data_ms"] = Math.Round(dataMs, 4),
            ["forward_ms"] = Math.Round(forward - dataMs, 4),
            ["backward_ms"] = Math.Round(Per(_backward, _batches), 4),
            ["optimizer_ms"] = Math.Round(Per(_step, _batches), 4),
            ["schedule_writes_callbacks_ms"] = Math.Round(Per(_lossCallbacks + _hyper, _batches), 4),
            ["after_step_ms"] = Math.Round(Per(_afterStep, _tails), 4),
            ["batches"] = _batches,
        };
    }

    private sealed class Mark(PhaseMarks p, int order) : Callback
    {
        private readonly bool _first = order == int.MinValue;
        public override int Order => order;

        public override void BeforeEpoch(Learner learner) { if (_first) p._stepEnd = 0; }

        public override void BeforeBatch(Learner learner)
        {
            if (!_first) return;
            long now = Stopwatch.GetTimestamp();
            if (p._stepEnd != 0) { p._afterStep += now - p._stepEnd; p._tails++; }
            p._batchStart = now;
        }

        public override void AfterLoss(Learner learner)
        {
            long now = Stopwatch.GetTimestamp();
            if (_first) { p._lossFirst = now; p._forward += now - p._batchStart; }
            else { p._lossLast = now; p._lossCallbacks += now - p._lossFirst; }
        }

        public override void AfterBackward(Learner learner)
        {
            if (!_first) return;
            long now = Stopwatch.GetTimestamp();
            p._backwardFirst = now;
            p._backward += now - p._lossLast;
        }

        public override void BeforeStep(Learner learner)
        {
            if (_first) return;
            long now = Stopwatch.GetTimestamp();
            p._stepStart = now;
            p._hyper += now - p._backwardFirst;
        }

        public override void AfterStep(Learner learner)
        {
            if (!_first) return;
            long now = Stopwatch.GetTimestamp();
            p._stepEnd = now;
            p._step += now - p._stepStart;
            p._batches++;
        }
    }
}
