using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Cadence.Checkpoints;

/// <summary>Another process holds the run directory's lock: it is training into it right now.</summary>
public sealed class RunInUseException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="directory">The run directory.</param>
    /// <param name="processId">The holder's process id, when it wrote one.</param>
    /// <param name="since">When the holder took the lock, when it wrote it.</param>
    public RunInUseException(string directory, int? processId, DateTimeOffset? since)
        : base(processId is { } pid
            ? string.Create(CultureInfo.InvariantCulture, $"{directory} is in use by process {pid} (since {since:yyyy-MM-dd HH:mm:ss}Z)")
            : $"{directory} is in use by another process")
        => (Directory, ProcessId, Since) = (directory, processId, since);

    /// <summary>The run directory.</summary>
    public string Directory { get; }

    /// <summary>The process that holds the lock (null when it wrote no owner line, e.g. a shell's <c>flock</c>).</summary>
    public int? ProcessId { get; }

    /// <summary>When it took the lock (UTC), or null.</summary>
    public DateTimeOffset? Since { get; }
}

/// <summary>
/// The run directory's writer lock: an exclusive <c>flock(2)</c> on <c>DIR/.cadence-lock</c>, held until disposed.
/// The kernel releases it when the process ends in any way (<c>kill -9</c> included), so a lock is never stale and
/// nothing has to be cleaned up. The file itself stays (deleting a lock file races with a process about to lock it);
/// it holds the owner's process id and start time, which the refusal message quotes. The descriptor is opened
/// close-on-exec, so child processes never inherit the lock. Readers (predict, report) take no lock.
/// On Windows the same file is held open without sharing, which the system also releases at process exit.
/// </summary>
public sealed class RunLock : IDisposable
{
    /// <summary>Name of the lock file inside the run directory.</summary>
    public const string FileName = ".cadence-lock";

    private SafeHandle? _handle;
    private FileStream? _stream;

    private RunLock(string directory, SafeHandle handle, DateTimeOffset since, FileStream? stream = null) =>
        (Directory, _handle, Since, _stream) = (directory, handle, since, stream);

    /// <summary>The locked directory.</summary>
    public string Directory { get; }

    /// <summary>When this process took the lock (UTC).</summary>
    public DateTimeOffset Since { get; }

    /// <summary>Takes the lock of <paramref name="directory"/> (which must exist), without waiting.</summary>
    /// <exception cref="RunInUseException">Another process (or another <see cref="RunLock"/> of this one) holds it.</exception>
    /// <exception cref="IOException">The lock file cannot be created (e.g. a read-only directory).</exception>
    /// <exception cref="UnauthorizedAccessException">The lock file cannot be created (permissions).</exception>
    public static RunLock Acquire(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(directory, FileName);
        var since = DateTimeOffset.UtcNow;
        since = since.AddTicks(-(since.Ticks % TimeSpan.TicksPerSecond));
        string owner = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId} {since:yyyy-MM-ddTHH:mm:ssZ}\n");
        return OperatingSystem.IsWindows() ? AcquireWindows(directory, path, owner, since) : AcquireUnix(directory, path, owner, since);
    }

    /// <summary>Releases the lock (the kernel does the same if the process dies first), emptying the owner line first.</summary>
    public void Dispose()
    {
        if (_handle is null) return;
        if (_stream is not null)
        {
            _stream.SetLength(0);
            _stream.Dispose();
        }
        else _ = Native.ftruncate((int)_handle.DangerousGetHandle(), 0);
        _handle.Dispose();
        _handle = null;
    }

    /// <summary>Parses the owner line "PID yyyy-MM-ddTHH:mm:ssZ".</summary>
    internal static (int? Pid, DateTimeOffset? Since) ParseOwner(string text)
    {
        var parts = text.Trim().Split(' ', 2);
        int? pid = parts.Length > 0 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : null;
        DateTimeOffset? since = parts.Length > 1 && DateTimeOffset.TryParseExact(parts[1], "yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var s) ? s : null;
        return (pid, pid is null ? null : since);
    }

    private static RunLock AcquireWindows(string directory, string path, string owner, DateTimeOffset since)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (IOException) when (File.Exists(path))
        {
            string text;
            try
            {
                using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                text = new StreamReader(reader).ReadToEnd();
            }
            catch (IOException) { text = ""; }
            var (pid, when) = ParseOwner(text);
            throw new RunInUseException(directory, pid, when);
        }
        stream.SetLength(0);
        stream.Write(Encoding.UTF8.GetBytes(owner));
        stream.Flush();
        return new RunLock(directory, stream.SafeFileHandle, since, stream);
    }

    private static RunLock AcquireUnix(string directory, string path, string owner, DateTimeOffset since)
    {
        int fd = Native.open(path, Native.ReadWrite | Native.Create | Native.CloseOnExec, 0b110_100_100);   // rw-r--r--
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string why = Marshal.GetPInvokeErrorMessage(errno);
            if (errno is 13 or 1) throw new UnauthorizedAccessException($"cannot create the lock file {path}: {why}");   // EACCES, EPERM
            throw new IOException($"cannot create the lock file {path}: {why}");
        }
        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Native.flock(fd, Native.LockExclusive | Native.LockNonBlocking) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Native.WouldBlock) throw new IOException($"cannot lock {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
                var (pid, when) = ParseOwner(ReadAll(fd));
                // The line may be a previous holder's (the lock was just taken and the line not yet written, or the
                // holder is not Cadence): name a process only while it exists.
                bool alive = pid is { } p && (Native.kill(p, 0) == 0 || Marshal.GetLastPInvokeError() == Native.NotPermitted);
                throw alive ? new RunInUseException(directory, pid, when) : new RunInUseException(directory, null, null);
            }
            // The lock is ours: the owner line is written after it, so a reader that fails to lock sees the holder's.
            byte[] bytes = Encoding.UTF8.GetBytes(owner);
            if (Native.ftruncate(fd, 0) != 0 || Native.pwrite(fd, bytes, bytes.Length, 0) != bytes.Length)
                throw new IOException($"cannot write {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return new RunLock(directory, handle, since);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static string ReadAll(int fd)
    {
        var buffer = new byte[256];
        long n = Native.pread(fd, buffer, buffer.Length, 0);
        return n > 0 ? Encoding.UTF8.GetString(buffer, 0, (int)n) : "";
    }

    /// <summary>libc, called directly: .NET's own <c>FileShare</c> locking can be switched off by an environment variable and would make readers of the owner line fail.</summary>
    private static class Native
    {
        public const int ReadWrite = 2, LockExclusive = 2, LockNonBlocking = 4, NotPermitted = 1;
        public static readonly int Create = OperatingSystem.IsMacOS() ? 0x200 : 0x40;
        public static readonly int CloseOnExec = OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000;
        public static readonly int WouldBlock = OperatingSystem.IsMacOS() ? 35 : 11;

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

        [DllImport("libc", SetLastError = true)]
        public static extern int flock(int fd, int operation);

        [DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int signal);

        [DllImport("libc", SetLastError = true)]
        public static extern int ftruncate(int fd, long length);

        [DllImport("libc", SetLastError = true)]
        public static extern nint pwrite(int fd, byte[] buffer, nint count, long offset);

        [DllImport("libc", SetLastError = true)]
        public static extern nint pread(int fd, byte[] buffer, nint count, long offset);
    }
}
