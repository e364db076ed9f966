using System.Diagnostics;
using System.Text.RegularExpressions;
using Cadence.TestSupport;
using Xunit.Abstractions;

namespace Cadence.Cli.Tests;

/// <summary>
/// The documentation's commands, run as written so they cannot drift from the tool: every ```sh block after a
/// <c>&lt;!-- runs in DocsTests --&gt;</c> line runs in bash (with <c>./cadence</c> and <c>samples/</c> as in the
/// repository), and every ```text block after <c>&lt;!-- output checked by DocsTests --&gt;</c> is the exact output of
/// its <c>$ ./cadence …</c> line.
/// </summary>
[Collection(TrainingCollection.Name)]
public sealed partial class DocsTests(ITestOutputHelper log)
{
    private const string RunsMarker = "<!-- runs in DocsTests -->";
    private const string OutputMarker = "<!-- output checked by DocsTests -->";

    private static IEnumerable<string> AllPages() =>
        new[] { "README.md" }.Concat(Directory.GetFiles(Repo.File("docs"), "*.md").Order(StringComparer.Ordinal).Select(f => Path.Combine("docs", Path.GetFileName(f))));

    /// <summary>The pages with at least one block marked to run (a page without one has nothing to test, not a skip).</summary>
    public static IEnumerable<object[]> PagesToRun() => AllPages().Where(p => Blocks(p, RunsMarker, "sh").Count > 0).Select(p => new object[] { p });

    /// <summary>The pages with at least one output marked to check.</summary>
    public static IEnumerable<object[]> PagesToCheck() => AllPages().Where(p => Blocks(p, OutputMarker, "text").Count > 0).Select(p => new object[] { p });

    private static List<string> Blocks(string page, string marker, string language)
    {
        var text = File.ReadAllText(Repo.File(page)).Replace("\r\n", "\n", StringComparison.Ordinal);
        return [.. MarkedBlock().Matches(text).Where(m => m.Groups[1].Value == marker && m.Groups[2].Value == language).Select(m => m.Groups[3].Value)];
    }

    [Fact]
    public void The_readme_tour_is_marked_to_run()
    {
        Assert.NotEmpty(Blocks("README.md", RunsMarker, "sh"));
        Assert.NotEmpty(Blocks("README.md", OutputMarker, "text"));
    }

    [SkippableTheory]
    [MemberData(nameof(PagesToRun))]
    public void Marked_sh_blocks_run_as_written(string page)
    {
        var blocks = Blocks(page, RunsMarker, "sh");
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "needs bash");
        using var work = new TempDirectory("cadence-docs");
        string app = Path.Combine(AppContext.BaseDirectory, "cadence");
        File.CreateSymbolicLink(Path.Combine(work.Path, "cadence"), app);
        File.CreateSymbolicLink(Path.Combine(work.Path, "samples"), Repo.File("samples"));
        for (int i = 0; i < blocks.Count; i++)
        {
            var script = work.Write($"block{i}.sh", "set -euo pipefail\n" + blocks[i]);
            var info = new ProcessStartInfo("bash", [script]) { WorkingDirectory = work.Path, RedirectStandardOutput = true, RedirectStandardError = true };
            info.Environment["PATH"] = work.Path + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
            info.Environment["CADENCE_ASCII"] = "1";
            info.Environment["XDG_CACHE_HOME"] = Path.Combine(work.Path, ".cache");   // the image decode cache: not the user's
            using var bash = Process.Start(info)!;
            var stdout = bash.StandardOutput.ReadToEndAsync();
            var stderr = bash.StandardError.ReadToEndAsync();
            Assert.True(bash.WaitForExit(300_000), $"{page} block {i} did not finish within 5 minutes");
            log.WriteLine($"{page} block {i}: exit {bash.ExitCode}, {stdout.Result.Length} characters of output");
            Assert.True(bash.ExitCode == 0, $"{page} block {i} exited {bash.ExitCode}:\n{blocks[i]}\n--- stderr ---\n{stderr.Result}");
        }
    }

    [Theory]
    [MemberData(nameof(PagesToCheck))]
    public void Marked_outputs_are_what_the_command_prints(string page)
    {
        var blocks = Blocks(page, OutputMarker, "text");
        foreach (var block in blocks)
        {
            var lines = block.TrimEnd('\n').Split('\n');
            var command = CommandLine().Match(lines[0]);
            Assert.True(command.Success, $"{page}: a checked output starts with '$ ./cadence …', not '{lines[0]}'");
            string[] args = command.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var (stdout, stderr) = (new StringWriter(), new StringWriter());
            Program.Run(args, stdout, stderr, CancellationToken.None);
            Assert.Equal(Normal(string.Join('\n', lines[1..])), Normal(stdout.ToString() + stderr));
        }
    }

    /// <summary>Line ends, trailing spaces and the final newline do not count.</summary>
    private static string Normal(string text) =>
        string.Join('\n', text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd().Split('\n').Select(l => l.TrimEnd()));

    [GeneratedRegex(@"^(<!-- [a-z ]+ DocsTests -->)\n```(\w+)\n(.*?)```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex MarkedBlock();

    [GeneratedRegex(@"^\$ (?:\./)?cadence (.*)$")]
    private static partial Regex CommandLine();
}
