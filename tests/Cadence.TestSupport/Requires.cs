using System.Diagnostics;
using Xunit;

namespace Cadence.TestSupport;

/// <summary>
/// Preconditions a test cannot meet on every machine (Python with torch, a GPU, Chromium). A test marked
/// <c>[SkippableFact]</c> calls one of these first: where the precondition fails the test is reported as
/// <b>skipped</b> with the reason, never as passed.
/// </summary>
public static class Requires
{
    private static readonly Lazy<(string? Python, string Why)> PythonTorch = new(FindPythonWithTorch);

    /// <summary>Skips the test unless a Python 3 with <c>torch</c> is installed; returns its path.</summary>
    public static string PythonWithTorch()
    {
        var (python, why) = PythonTorch.Value;
        Skip.If(python is null, $"needs Python 3 with torch (Debian: apt-get install python3-torch): {why}");
        return python!;
    }

    /// <summary>Skips the test unless <paramref name="file"/> exists (a dataset, a browser).</summary>
    public static string File(string file, string why)
    {
        Skip.IfNot(System.IO.File.Exists(file), $"{file} is missing: {why}");
        return file;
    }

    private static (string?, string) FindPythonWithTorch()
    {
        var reasons = new List<string>();
        foreach (var candidate in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                var psi = new ProcessStartInfo(candidate, ["-c", "import torch; print(torch.__version__)"])
                { RedirectStandardOutput = true, RedirectStandardError = true };
                using var p = Process.Start(psi)!;
                string err = p.StandardError.ReadToEnd();
                p.StandardOutput.ReadToEnd();
                if (!p.WaitForExit(60_000)) { p.Kill(); reasons.Add($"{candidate}: timed out"); continue; }
                if (p.ExitCode == 0) return (candidate, "");
                reasons.Add($"{candidate}: {err.Trim().Split('\n').LastOrDefault()}");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                reasons.Add($"{candidate}: {e.Message}");
            }
        }
        return (null, string.Join("; ", reasons));
    }
}
