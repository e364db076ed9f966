#:project ../src/Cadence/Cadence.csproj
#:package libtorch-cpu-linux-x64
#:property PublishAot=false
#:property JsonSerializerIsReflectionEnabledByDefault=true
// Decode benchmark of image folders (issue 14's targets: ≥ 5,000 images/s into the cache on 2 cores; a cached start
// ≥ 20× faster than a cold one). Usage: dotnet run scripts/bench_decode.cs -- FOLDER CACHE_DIR [THREADS]
// Run on a quiet machine (scripts/bench-decode.sh makes the Fashion-MNIST folder and runs both starts).
using System.Diagnostics;
using System.Globalization;
using Cadence;
using Cadence.Data;

if (args.Length < 2) { Console.Error.WriteLine("usage: bench_decode.cs FOLDER CACHE_DIR [THREADS]"); return 2; }
string folder = args[0], cache = args[1];
int threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
TorchRuntime.Configure(threads: threads);
var options = new ImageFolderOptions { CacheDirectory = cache, Parallelism = threads };
string Run(string label)
{
    var clock = Stopwatch.StartNew();
    using var data = ImageFolder.Load(folder, options);
    double s = clock.Elapsed.TotalSeconds;
    long n = data.TrainImages.shape[0] + data.ValidImages.shape[0];
    return string.Create(CultureInfo.InvariantCulture,
        $"{label}: {n} images [{data.Channels}×{data.Height}×{data.Width}] in {s:F3} s = {n / s:F0} images/s (from cache: {data.FromCache})|{s}");
}
if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
var cold = Run("cold start (decode + write cache)").Split('|');
var warm = Run("cached start").Split('|');
Console.WriteLine(cold[0]);
Console.WriteLine(warm[0]);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"cached start is {double.Parse(cold[1], CultureInfo.InvariantCulture) / double.Parse(warm[1], CultureInfo.InvariantCulture):F1}× faster than the cold one ({threads} threads)"));
return 0;
