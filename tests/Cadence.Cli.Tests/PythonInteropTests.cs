using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cadence.Cli;
using Cadence.TestSupport;
using Xunit.Abstractions;

namespace Cadence.Cli.Tests;

/// <summary>
/// Runs the PyTorch snippet of docs/interop.md (copied from the page) on the JSON of <c>cadence schedule</c> and checks
/// that the optimizer used Cadence's values.
/// </summary>
public partial class PythonInteropTests(ITestOutputHelper output)
{
    private const string Harness = """
        import json, sys
        import torch
        exec(open(sys.argv[1]).read())
        torch.manual_seed(0)
        w = [torch.nn.Parameter(torch.randn(3, dtype=torch.float64)) for _ in range(2)]
        opt = torch.optim.SGD([{"params": [w[0]]}, {"params": [w[1]]}], lr=0.5, momentum=0.5)
        scheduler, set_momentum = cadence_schedule(opt, sys.argv[2])
        seen = []
        for t in range(int(sys.argv[3])):
            if set_momentum:
                set_momentum(t)
            opt.zero_grad()
            sum((p ** 2).sum() for p in w).backward()
            seen.append({"lr": [pg["lr"] for pg in opt.param_groups], "momentum": [pg["momentum"] for pg in opt.param_groups]})
            opt.step()
            scheduler.step()
        print(json.dumps(seen))
        """;

    private static (int Code, string Out, string Err) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException($"{file} did not finish in 120 s"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [SkippableFact]
    public void Docs_LambdaLR_snippet_drives_PyTorch_with_the_schedule_from_the_json()
    {
        string python = Requires.PythonWithTorch();
        const int n = 12;
        var (code, json, err) = Run("schedule", "one-cycle", "--max-lr", "0.01,0.1", "--total-steps", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
        Assert.True(code == 0, err);

        string doc = File.ReadAllText(Repo.File("docs", "interop.md"));
        var snippet = PythonBlock().Match(doc);
        Assert.True(snippet.Success, "docs/interop.md has no ```python block");

        using var temp = new TempDirectory("cadence-py");
        string dir = temp.Path;
        {
            File.WriteAllText(Path.Combine(dir, "snippet.py"), snippet.Groups[1].Value);
            File.WriteAllText(Path.Combine(dir, "harness.py"), Harness);
            File.WriteAllText(Path.Combine(dir, "schedule.json"), json);
            var (pyCode, pyOut, pyErr) = Exec(python, Path.Combine(dir, "harness.py"), Path.Combine(dir, "snippet.py"), Path.Combine(dir, "schedule.json"), n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(pyCode == 0, pyErr);

            var schedule = Schedules.Torch.OneCycle([0.01, 0.1], n);
            var seen = JsonDocument.Parse(pyOut).RootElement.EnumerateArray().ToArray();
            Assert.Equal(n, seen.Length);
            for (int t = 0; t < n; t++)
            {
                var hp = schedule.At(t);
                var lr = seen[t].GetProperty("lr").EnumerateArray().Select(x => x.GetDouble()).ToArray();
                var mom = seen[t].GetProperty("momentum").EnumerateArray().Select(x => x.GetDouble()).ToArray();
                for (int g = 0; g < 2; g++)
                {
                    double rel = Math.Abs(lr[g] - hp.Lr[g]) / hp.Lr[g];
                    Assert.True(rel <= 1e-12, $"step {t} group {g}: PyTorch used lr {lr[g]:R}, Cadence {hp.Lr[g]:R}");
                    Assert.Equal(hp.Momentum![g], mom[g]);   // written as is: exact
                }
            }
            output.WriteLine($"{python}: {n} steps × 2 groups match");
        }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = Program.Run(args, o, e, CancellationToken.None);
        return (code, o.ToString(), e.ToString());
    }

    [GeneratedRegex(@"```python\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex PythonBlock();
}
