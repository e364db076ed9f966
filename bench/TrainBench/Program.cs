// TrainBench: `learner` (Cadence's Learner on Fashion-MNIST: throughput, optional phase profile), `memory` (RSS after
// every epoch) and `floor` (FLOPs of a training step from the architecture, the machine's measured rates).
// Each mode prints one JSON line for bench/harness.py.
using System.Text.Json;
using Cadence.Bench.Training;

try
{
    if (args.Length == 0) throw new ArgumentException("usage: TrainBench learner|memory|floor [options] (see bench/README.md)");
    var o = BenchArgs.Parse(args[1..]);
    Cadence.TorchRuntime.Configure(seed: o.Seed, threads: o.Threads);
    object result = args[0] switch
    {
        "learner" => LearnerRunner.Run(o),
        "memory" => LearnerRunner.Memory(o),
        "floor" => Floor.Run(o),
        _ => throw new ArgumentException($"unknown mode '{args[0]}' (learner, memory or floor)"),
    };
    Console.WriteLine(JsonSerializer.Serialize(result));
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"TrainBench: {e.Message}");
    return 2;
}
