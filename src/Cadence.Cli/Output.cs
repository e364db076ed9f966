using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cadence.Cli;

/// <summary>Writes the files an option names, so that a failure says which option's file it was.</summary>
internal static class Outputs
{
    /// <summary>Runs <paramref name="write"/>; an I/O failure becomes an <see cref="OptionIOException"/> naming <paramref name="option"/> and <paramref name="path"/>.</summary>
    public static void Write(string option, string path, Action write)
    {
        try { write(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not OptionIOException)
        {
            throw new OptionIOException(option, $"could not write {path}: {ErrorHandler.OneLine(e.Message)}", e);
        }
    }

    /// <summary>Creates folder <paramref name="path"/> (and its parents) for <paramref name="option"/>.</summary>
    public static void Folder(string option, string path) => Write(option, path, () => Directory.CreateDirectory(path));
}

/// <summary>Files the user keeps are written to a temporary file beside them and renamed into place.</summary>
internal static class AtomicFile
{
    public static void Write(string path, byte[] content)
    {
        var temp = path + ".tmp";
        using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            fs.Write(content);
            fs.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>
/// JSON output, serialized from records: snake_case names, numbers in shortest round-trip form, non-finite numbers as
/// null (JSON has no NaN).
/// </summary>
internal static class Json
{
    private static readonly JsonSerializerOptions Compact = Options(indented: false);
    private static readonly JsonSerializerOptions Indented = Options(indented: true);

    private static JsonSerializerOptions Options(bool indented) => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = indented,
        Converters = { new FiniteOrNull() },
    };

    public static string Serialize<T>(T value, bool indented = false) => JsonSerializer.Serialize(value, indented ? Indented : Compact);

    public static byte[] Bytes<T>(T value, bool indented = false) => JsonSerializer.SerializeToUtf8Bytes(value, indented ? Indented : Compact);

    private static void Value(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteNullValue();
    }

    /// <summary>Doubles as numbers when finite, null otherwise.</summary>
    private sealed class FiniteOrNull : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => Value(writer, value);
    }
}
