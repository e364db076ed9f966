using System.Globalization;
using System.Text.Json;
using Cadence.TestSupport;

namespace Cadence.Cli.Tests;

/// <summary>
/// A schedule exported with <c>cadence schedule --json --launcher L --processes 2</c> drives a two-process PyTorch DDP
/// job (gloo, CPU) through the docs/interop.md snippet: each rank's optimizer uses Cadence's values at every step.
/// </summary>
public partial class PythonInteropTests
{
    private const int DdpSteps = 10;

    /// <summary>The lr and momentum each rank's optimizer used, per step (Python's harness, Python/ddp_schedule.py).</summary>
    private static double[][][][] RunDdp(string python, string launcher, bool accelerateLoop, TempDirectory dir)
    {
        var (code, json, err) = Run("schedule", "one-cycle", "--max-lr", "0.01,0.1", "--total-steps", DdpSteps.ToString(CultureInfo.InvariantCulture),
            "--json", "--launcher", launcher, "--processes", "2");
        Assert.True(code == 0, err);
        var snippet = PythonBlock().Match(File.ReadAllText(Repo.File("docs", "interop.md")));
        Assert.True(snippet.Success, "docs/interop.md has no ```python block");
        string snippetPath = dir.Write("snippet.py", snippet.Groups[1].Value), schedulePath = dir.Write($"schedule-{launcher}.json", json);
        string outPath = dir[$"seen-{launcher}-{accelerateLoop}.json"];
        var (pyCode, _, pyErr) = Exec(python, [Repo.File("tests", "Cadence.Cli.Tests", "Python", "ddp_schedule.py"), snippetPath, schedulePath,
            DdpSteps.ToString(CultureInfo.InvariantCulture), outPath, .. accelerateLoop ? new[] { "accelerate" } : []]);
        Assert.True(pyCode == 0, pyErr);
        using var doc = JsonDocument.Parse(File.ReadAllText(outPath));
        var ranks = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(2, ranks.Length);
        foreach (var rank in ranks) Assert.True(rank.GetProperty("weights_agree").GetBoolean(), "DDP left the ranks' weights apart");
        return [.. ranks.Select(r => r.GetProperty("seen").EnumerateArray().Select(s => new[] { "lr", "momentum" }
            .Select(k => s.GetProperty(k).EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray()).ToArray())];
    }

    /// <summary>The first step where a rank's lr or momentum is not Cadence's, in words; null when every one matches.</summary>
    private static string? FirstMismatch(double[][][][] seen)
    {
        var schedule = Schedules.Torch.OneCycle([0.01, 0.1], DdpSteps);
        for (int r = 0; r < seen.Length; r++)
        {
            if (seen[r].Length != DdpSteps) return $"rank {r} took {seen[r].Length} steps";
            for (int t = 0; t < DdpSteps; t++)
            {
                var hp = schedule.At(t);
                for (int g = 0; g < 2; g++)
                {
                    if (Math.Abs(seen[r][t][0][g] - hp.Lr[g]) > 1e-12 * hp.Lr[g]) return $"rank {r} step {t} group {g}: lr {seen[r][t][0][g]:R}, Cadence {hp.Lr[g]:R}";
                    if (seen[r][t][1][g] != hp.Momentum![g]) return $"rank {r} step {t} group {g}: momentum {seen[r][t][1][g]:R}, Cadence {hp.Momentum[g]:R}";
                }
            }
        }
        return null;
    }

    [SkippableTheory]
    [InlineData("ddp", false)]
    [InlineData("accelerate", true)]   // AcceleratedScheduler: 2 scheduler.step() calls per optimizer step with 2 processes
    public void Exported_schedule_drives_a_two_process_gloo_job_step_for_step(string launcher, bool accelerateLoop)
    {
        string python = Requires.PythonWithTorch();
        using var dir = new TempDirectory("cadence-ddp");
        Assert.Null(FirstMismatch(RunDdp(python, launcher, accelerateLoop, dir)));
        output.WriteLine($"{python}: {launcher}, 2 ranks × {DdpSteps} steps × 2 groups match");
    }

    [SkippableFact]
    public void An_export_for_the_wrong_launcher_is_caught()
    {
        // Negative control: exported for DDP (k = 1) but stepped as accelerate steps it (2 calls per step): the lr runs ahead.
        string python = Requires.PythonWithTorch();
        using var dir = new TempDirectory("cadence-ddp");
        string? mismatch = FirstMismatch(RunDdp(python, "ddp", accelerateLoop: true, dir));
        Assert.NotNull(mismatch);
        Assert.StartsWith("rank 0 step 1 group 0: lr", mismatch, StringComparison.Ordinal);
    }
}
