using Cadence.TestSupport;
using System.Diagnostics;
using System.Text.RegularExpressions;
using SkiaSharp;
using Xunit.Abstractions;

namespace Cadence.Plots.Tests;

/// <summary>
/// Loads the report in headless Chromium (Debian's chromium, installed by <c>make setup</c>). Where Chromium is not
/// installed the test is reported as skipped.
/// </summary>
public sealed partial class ChromiumTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("cadence-chromium");

    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static string? FindChromium() =>
        new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)))
            .FirstOrDefault(File.Exists);

    // Collects what the page shows once loaded: every image's naturalWidth × naturalHeight, and any error.
    private const string Probe = """
        <script>
        var cadenceErrors = 0;
        window.addEventListener('error', function () { cadenceErrors++; }, true);
        window.addEventListener('load', function () {
          var sizes = Array.prototype.map.call(document.images, function (i) { return i.complete ? i.naturalWidth + 'x' + i.naturalHeight : 'pending'; });
          document.title = 'probe images=' + sizes.join(',') + ' errors=' + cadenceErrors;
        });
        </script>
        """;

    [GeneratedRegex(@"<title>probe images=([^ ]*) errors=(\d+)</title>")]
    private static partial Regex ProbeTitle();

    [SkippableFact]
    public void Report_loads_in_headless_chromium_with_every_image_decoded()
    {
        var chromium = FindChromium();
        Skip.If(chromium is null, "chromium is not installed (run 'make setup' as root on Debian to install it)");
        var report = ReportTests.FitReport();
        var html = report.ToHtml();
        var page = Path.Combine(_dir, "report.html");
        File.WriteAllText(page, html);
        var probe = Path.Combine(_dir, "probe.html");
        File.WriteAllText(probe, html.Replace("</body>", Probe + "\n</body>", StringComparison.Ordinal));

        var (dom, log) = Run(chromium, "--dump-dom", new Uri(probe).AbsoluteUri);
        var m = ProbeTitle().Match(dom);
        Assert.True(m.Success, $"the probe did not run; DOM starts: {dom[..Math.Min(300, dom.Length)]}");
        var sizes = m.Groups[1].Value.Split(',');
        Assert.Equal(report.ChartTitles.Count, sizes.Length);
        Assert.All(sizes, s => Assert.Matches(@"^[1-9]\d*x[1-9]\d*$", s));
        Assert.Equal("0", m.Groups[2].Value);
        Assert.DoesNotContain(log.Split('\n'), line => line.Contains(":CONSOLE", StringComparison.Ordinal));

        var shot = Path.Combine(_dir, "shot.png");
        Run(chromium, $"--screenshot={shot}", "--window-size=1000,1600", new Uri(page).AbsoluteUri);
        using var bitmap = SKBitmap.Decode(shot);
        Assert.NotNull(bitmap);
        Assert.Equal(1000, bitmap.Width);
        double spread = Images.LuminanceSpread(bitmap);
        output.WriteLine($"images {m.Groups[1].Value}; screenshot luminance spread {spread:F1}");
        Assert.True(spread > 10, $"the screenshot looks blank (luminance standard deviation {spread:F2})");
    }

    private (string Stdout, string Stderr) Run(string chromium, params string[] args)
    {
        var psi = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                     "--no-first-run", "--enable-logging=stderr", "--v=0", $"--user-data-dir={Path.Combine(_dir, "profile")}" }.Concat(args))
            psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"chromium {string.Join(' ', args)} did not finish in 30 s");
        }
        output.WriteLine($"chromium {args[0]}: exit {p.ExitCode} in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(p.ExitCode == 0, $"chromium exited {p.ExitCode}: {stderr.Result}");
        return (stdout.Result, stderr.Result);
    }
}
