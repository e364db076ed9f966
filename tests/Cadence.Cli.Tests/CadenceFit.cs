using System.Diagnostics;

namespace Cadence.Cli.Tests;

/// <summary>A <c>cadence fit</c> child process (optionally started through a wrapper command such as bash with ulimit).</summary>
internal sealed class CadenceFit : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stdout, _stderr;

    private CadenceFit(Process process) =>
        (_process, _stdout, _stderr) = (process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());

    public static string Host => Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "cadence.exe" : "cadence");

    public static CadenceFit Start(IEnumerable<string> args, Dictionary<string, string>? environment = null, string[]? wrapper = null)
    {
        string[] command = [.. wrapper ?? [], Host, "fit", .. args];
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command[1..]) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? []) info.Environment[k] = v;
        return new CadenceFit(Process.Start(info)!);
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public (int Code, string Out, string Err) Wait()
    {
        Assert.True(_process.WaitForExit(120_000), "cadence fit did not finish within 120 s");
        return (_process.ExitCode, _stdout.Result, _stderr.Result);
    }

    /// <summary>SIGKILL, and waits until the process is gone (its lock released, its files as it left them).</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }
}
