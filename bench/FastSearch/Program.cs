// FastSearch: the experiments behind the `fast` recipe (issue 17), on the library (the CLI is being rewritten).
//   FastSearch train [options]   one training run on Fashion-MNIST → one JSON line (accuracy after every epoch, timings)
//   FastSearch speed [options]   ms per training step of several models, interleaved in one process → one JSON line
// Options: see Config below and bench/results/fast/README.md.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cadence.Bench.Fast;

var started = Stopwatch.GetTimestamp();
try
{
    if (args.Length == 0) throw new ArgumentException("usage: FastSearch train|speed [--option value …]");
    var options = Options.Parse(args[1..]);
    Cadence.TorchRuntime.Configure(seed: options.Long("seed", 0), threads: (int)options.Long("threads", 2));
    object result = args[0] switch
    {
        "train" => Runs.Train(options, started),
        "speed" => Runs.Speed(options),
        _ => throw new ArgumentException($"unknown mode '{args[0]}'"),
    };
    string line = JsonSerializer.Serialize(result);
    Console.WriteLine(line);
    if (options.String("out", "") is { Length: > 0 } path) File.AppendAllText(path, line + "\n");
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"FastSearch: {e.Message}");
    return 2;
}

namespace Cadence.Bench.Fast
{
    /// <summary>--name value pairs and --flag switches; every option must be read (typos are errors).</summary>
    internal sealed class Options
    {
        private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
        private readonly HashSet<string> _used = [];

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"expected --option, got '{args[i]}'");
                string name = args[i][2..];
                string? value = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
                o._values[name] = value;
            }
            return o;
        }

        public IReadOnlyDictionary<string, string?> All => _values;

        /// <summary>--name (true), --name 1|true|0|false, or the fallback when absent.</summary>
        public bool Bool(string name, bool fallback)
        {
            _used.Add(name);
            if (!_values.TryGetValue(name, out var v)) return fallback;
            return v switch
            {
                null or "1" or "true" => true,
                "0" or "false" => false,
                _ => throw new ArgumentException($"--{name}: expected 0, 1, true or false, got '{v}'"),
            };
        }

        public string String(string name, string fallback)
        {
            _used.Add(name);
            return _values.TryGetValue(name, out var v) && v is not null ? v : fallback;
        }

        public double Double(string name, double fallback) =>
            double.Parse(String(name, fallback.ToString("R", CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

        public long Long(string name, long fallback) =>
            long.Parse(String(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

        public int[] Ints(string name, string fallback) =>
            String(name, fallback).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();

        public void CheckAllUsed()
        {
            var unused = _values.Keys.Where(k => !_used.Contains(k)).ToArray();
            if (unused.Length > 0) throw new ArgumentException($"unknown options: --{string.Join(", --", unused)}");
        }
    }
}
