using System.Diagnostics;
using System.Text.RegularExpressions;
using Cadence.TestSupport;
using Xunit.Abstractions;

namespace Cadence.Cli.Tests;

/// <summary>
/// The Kubernetes Indexed Job of docs/scale-out.md, checked against the Kubernetes schema (the <c>kubernetes-models</c>
/// npm package under Node), with a broken copy as the negative control. Skipped where Node or the packages are missing.
/// </summary>
public sealed partial class ScaleOutDocsTests(ITestOutputHelper log)
{
    /// <summary>Where the npm packages are: <c>CADENCE_K8S_MODULES</c>, else <c>~/.cache/cadence/k8s/node_modules</c>.</summary>
    private static string Modules() =>
        Environment.GetEnvironmentVariable("CADENCE_K8S_MODULES")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "cadence", "k8s", "node_modules");

    private static (int Code, string Out, string Err) Node(params string[] args)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var (stdout, stderr) = (p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
        Assert.True(p.WaitForExit(60_000), "node did not finish in 60 s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [SkippableFact]
    public void The_indexed_job_manifest_is_a_valid_Kubernetes_Job()
    {
        string modules = Modules();
        Skip.IfNot(Directory.Exists(Path.Combine(modules, "kubernetes-models")) && Directory.Exists(Path.Combine(modules, "js-yaml")),
            $"needs the npm packages kubernetes-models and js-yaml in {modules} (npm i --prefix {Path.GetDirectoryName(modules)} kubernetes-models@4.5.1 js-yaml@4, or set CADENCE_K8S_MODULES)");
        try { Node("--version"); }
        catch (System.ComponentModel.Win32Exception) { Skip.If(true, "needs node on the PATH"); }

        var manifest = YamlBlock().Match(File.ReadAllText(Repo.File("docs", "scale-out.md")));
        Assert.True(manifest.Success, "docs/scale-out.md has no ```yaml block");
        string yaml = manifest.Groups[1].Value;
        Assert.Contains("completionMode: Indexed", yaml, StringComparison.Ordinal);
        Assert.Contains("--shard\", \"auto\"", yaml, StringComparison.Ordinal);
        Assert.Matches(@"completions: (\d+)[\s\S]*name: CADENCE_SHARD_COUNT\s+value: ""\1""", yaml);   // the count the docs tell to set

        using var temp = new TempDirectory("cadence-k8s");
        string check = Repo.File("tests", "Cadence.Cli.Tests", "Node", "check-job.cjs");
        var (code, stdout, stderr) = Node(check, modules, temp.Write("job.yaml", yaml));
        Assert.True(code == 0, stderr);
        Assert.Equal("valid batch/v1 Job cadence-grid", stdout.Trim());
        log.WriteLine(stdout.Trim());

        var (broken, _, why) = Node(check, modules, temp.Write("broken.yaml", yaml.Replace("completions: 12", "completions: twelve", StringComparison.Ordinal)));
        Assert.NotEqual(0, broken);
        Assert.Contains("completions", why, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"```yaml\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();
}
