using System.Diagnostics;
using System.Text;

namespace Cadence.Cli.Tests;

/// <summary>
/// The built <c>cadence</c> binary in a process of its own (what a cluster scheduler starts): its output collected, its
/// error output also line by line, so a test can act (kill it) at a known line.
/// </summary>
internal sealed class CadenceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();
    private readonly Action<string>? _onErrorLine;
    private readonly TaskCompletionSource _outDone = new(), _errDone = new();

    /// <summary>Starts <c>cadence ARGS…</c>, with <paramref name="environment"/> added to this process's environment.</summary>
    public CadenceProcess(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, Action<string>? onErrorLine = null)
    {
        string host = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "cadence.exe" : "cadence");
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        _onErrorLine = onErrorLine;
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => { if (e.Data is null) _outDone.TrySetResult(); else lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { _errDone.TrySetResult(); return; }
            lock (_stderr) _stderr.AppendLine(e.Data);
            _onErrorLine?.Invoke(e.Data);
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the end (at most <paramref name="seconds"/>) and returns the exit code and both outputs.</summary>
    public (int Code, string Out, string Err) Wait(int seconds = 120)
    {
        Assert.True(_process.WaitForExit(seconds * 1000), $"cadence did not finish within {seconds} s");
        Task.WaitAll([_outDone.Task, _errDone.Task], TimeSpan.FromSeconds(10));
        lock (_stdout) lock (_stderr) return (_process.ExitCode, _stdout.ToString(), _stderr.ToString());
    }

    /// <summary>SIGKILL (<c>kill -9</c>): the process gets no chance to clean up.</summary>
    public void Kill() => _process.Kill();

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
