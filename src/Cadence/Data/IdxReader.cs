using System.IO.Compression;

namespace Cadence.Data;

/// <summary>An IDX array (the MNIST file format): dimensions and the raw unsigned bytes.</summary>
/// <param name="Dimensions">Size of each dimension (first = samples).</param>
/// <param name="Data">The values, row-major.</param>
public sealed record IdxArray(int[] Dimensions, byte[] Data);

/// <summary>Reads IDX files of unsigned bytes (MNIST, Fashion-MNIST), gzip-compressed (<c>.gz</c>, detected by content) or raw.</summary>
public static class IdxReader
{
    /// <summary>Reads one file.</summary>
    /// <exception cref="DataFormatException">The file is missing, not an IDX file of unsigned bytes, or truncated.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
            if (bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            {
                using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var ms = new MemoryStream();
                gz.CopyTo(ms);
                bytes = ms.ToArray();
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(path, $"expected a gzip stream, found corrupt data ({e.Message})", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new DataFormatException(path, $"cannot read: {e.Message}", e);
        }
        return Parse(path, bytes);
    }

    private static IdxArray Parse(string path, byte[] b)
    {
        if (b.Length < 4) throw new DataFormatException(path, $"expected a 4-byte IDX header, found {b.Length} bytes");
        if (b[0] != 0 || b[1] != 0)
            throw new DataFormatException(path, $"expected an IDX file (magic 0x0000…), found bytes 0x{b[0]:x2}{b[1]:x2}");
        if (b[2] != 0x08)
            throw new DataFormatException(path, $"expected IDX type 0x08 (unsigned byte), found type 0x{b[2]:x2}");
        int ndim = b[3];
        if (ndim < 1) throw new DataFormatException(path, "expected at least one dimension, found 0");
        if (b.Length < 4 + 4 * ndim)
            throw new DataFormatException(path, $"truncated header: expected {4 + 4 * ndim} bytes for {ndim} dimensions, found {b.Length}");
        var dims = new int[ndim];
        long count = 1;
        for (int i = 0; i < ndim; i++)
        {
            int o = 4 + 4 * i;
            long d = ((long)b[o] << 24) | ((long)b[o + 1] << 16) | ((long)b[o + 2] << 8) | b[o + 3];
            if (d > int.MaxValue) throw new DataFormatException(path, $"dimension {i} is {d}, too large");
            dims[i] = (int)d;
            count *= d;
        }
        long offset = 4 + 4 * ndim;
        long have = b.Length - offset;
        if (have < count)
            throw new DataFormatException(path, $"truncated: expected {count} data bytes for shape [{string.Join(", ", dims)}], found {have}");
        if (have > count)
            throw new DataFormatException(path, $"corrupt: expected {count} data bytes for shape [{string.Join(", ", dims)}], found {have} (trailing data)");
        return new IdxArray(dims, b[(int)offset..]);
    }
}
