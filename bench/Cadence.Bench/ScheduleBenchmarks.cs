using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Cadence.Schedules;

BenchmarkRunner.Run<ScheduleBenchmarks>(args: args);

/// <summary>
/// Cost of one training step's schedule work: evaluate lr and momentum of every group at a step and write them
/// into per-group slots (what the Learner does before each optimizer step). Target ≤ 1 µs for 10 groups.
/// </summary>
[MemoryDiagnoser]
public class ScheduleBenchmarks
{
    private readonly double[] _lr = new double[10], _mom = new double[10];
    private Schedule _oneCycle = null!, _clr = null!, _fastAi = null!, _wsd = null!;
    private long _step;

    [Params(1, 10)]
    public int Groups { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var lrs = Enumerable.Range(1, Groups).Select(g => 0.01 * g).ToArray();
        _oneCycle = Torch.OneCycle(lrs, 100_000);
        _clr = FastAi07.Fit(lrs, 1000, 1, 100, useClr: new UseClr(10, 10, 0.95, 0.85));
        _fastAi = FastAi.FitOneCycle(lrs, 100, 1000);
        _wsd = Transformers.Wsd(lrs, 1000, 20_000, totalSteps: 100_000);
    }

    private long Next() => _step = (_step + 7919) % 99_000;

    [Benchmark(Baseline = true)] public void OneCycleLR() => _oneCycle.At(Next(), _lr, _mom);
    [Benchmark] public void FastAi07UseClr() => _clr.At(Next(), _lr, _mom);
    [Benchmark] public void FastAiFitOneCycle() => _fastAi.At(Next(), _lr, _mom);
    [Benchmark] public void TransformersWsd() => _wsd.At(Next(), _lr, _mom);
}
