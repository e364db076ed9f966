namespace Cadence.Data;

/// <summary>A data file is missing, truncated or malformed. The message names the file, what was expected and what was found.</summary>
public sealed class DataFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="file">The file concerned.</param>
    /// <param name="message">What was expected and what was found.</param>
    public DataFormatException(string file, string message) : base($"{file}: {message}") => File = file;

    /// <summary>Creates the exception with an inner cause.</summary>
    /// <param name="file">The file concerned.</param>
    /// <param name="message">What was expected and what was found.</param>
    /// <param name="inner">The underlying error.</param>
    public DataFormatException(string file, string message, Exception inner) : base($"{file}: {message}", inner) => File = file;

    /// <summary>The file concerned.</summary>
    public string File { get; }
}
