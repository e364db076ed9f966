using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Data;

/// <summary>A tabular classification dataset read from CSV.</summary>
/// <param name="Train">Training samples (standardized with the training split's statistics).</param>
/// <param name="Valid">Validation samples (standardized with the same statistics).</param>
/// <param name="FeatureNames">Feature columns, in order.</param>
/// <param name="ClassNames">Class names; class i is the i-th in sorted order (numeric order for integer labels).</param>
public sealed record CsvData(InMemoryDataset Train, InMemoryDataset Valid, IReadOnlyList<string> FeatureNames, IReadOnlyList<string> ClassNames)
{
    /// <summary>Mean of each feature over the training rows (subtracted before training and prediction).</summary>
    public IReadOnlyList<double> FeatureMean { get; init; } = [];

    /// <summary>Standard deviation of each feature over the training rows (1 for a constant feature).</summary>
    public IReadOnlyList<double> FeatureStd { get; init; } = [];
}

/// <summary>
/// Reads a CSV file with a header row: the <c>target</c> column holds the class (integers or strings), every other
/// column must be numeric. Errors name the file, the row (1-based, the header is row 1) and the column.
/// </summary>
public static class CsvTabular
{
    /// <summary>Loads <paramref name="path"/>, splitting off a seeded validation fraction (or reading <paramref name="validPath"/>).</summary>
    /// <param name="path">CSV file.</param>
    /// <param name="target">Name of the label column.</param>
    /// <param name="validPct">Fraction of rows held out for validation when <paramref name="validPath"/> is null.</param>
    /// <param name="seed">Seed of the split.</param>
    /// <param name="validPath">Optional separate validation file with the same columns.</param>
    /// <exception cref="DataFormatException">Missing file, no such column, a ragged row or a non-numeric value.</exception>
    public static CsvData Load(string path, string target, double validPct = 0.2, long seed = 0, string? validPath = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(target);
        if (!(validPct > 0 && validPct < 1) && validPath is null)
            throw new ArgumentOutOfRangeException(nameof(validPct), validPct, "must be in (0, 1)");
        var (header, features, labels) = Read(path, target);
        string[] names = [.. header.Where(h => h != target)];
        List<double[]> vf; List<string> vl;
        List<double[]> tf; List<string> tl;
        if (validPath is not null)
        {
            var (vh, f2, l2) = Read(validPath, target);
            if (!vh.SequenceEqual(header))
                throw new DataFormatException(validPath, $"expected the columns of {path} ({string.Join(", ", header)}), found {string.Join(", ", vh)}");
            var known = labels.ToHashSet(StringComparer.Ordinal);
            int unseen = l2.FindIndex(l => !known.Contains(l));
            if (unseen >= 0)
                throw new DataFormatException(validPath,
                    $"data row {unseen + 1}: class '{l2[unseen]}' does not occur in the training file {path} (its classes: {string.Join(", ", known.Order(StringComparer.Ordinal).Take(10))}{(known.Count > 10 ? ", …" : "")})");
            (tf, tl, vf, vl) = (features, labels, f2, l2);
        }
        else
        {
            int n = features.Count;
            int nValid = (int)Math.Round(n * validPct);
            if (nValid < 1 || nValid >= n)
                throw new DataFormatException(path, $"expected enough rows for a {validPct:P0} validation split, found {n} data rows");
            var order = Enumerable.Range(0, n).ToArray();
            new Random(unchecked((int)seed)).Shuffle(order);
            var validSet = order.Take(nValid).Order().ToArray();
            var trainSet = order.Skip(nValid).Order().ToArray();
            (tf, tl) = (trainSet.Select(i => features[i]).ToList(), trainSet.Select(i => labels[i]).ToList());
            (vf, vl) = (validSet.Select(i => features[i]).ToList(), validSet.Select(i => labels[i]).ToList());
        }
        var all = tl.Concat(vl).Distinct().ToList();
        bool numeric = all.All(s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out _));
        string[] classes = numeric
            ? [.. all.OrderBy(s => long.Parse(s, CultureInfo.InvariantCulture))]
            : [.. all.Order(StringComparer.Ordinal)];
        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);

        int d = names.Length;
        var mean = new double[d];
        var std = new double[d];
        for (int j = 0; j < d; j++)
        {
            double m = tf.Average(r => r[j]);
            double v = tf.Sum(r => (r[j] - m) * (r[j] - m)) / Math.Max(1, tf.Count - 1);
            mean[j] = m;
            std[j] = v > 0 ? Math.Sqrt(v) : 1;
        }
        InMemoryDataset Make(List<double[]> f, List<string> l)
        {
            var flat = new float[f.Count * d];
            for (int i = 0; i < f.Count; i++)
                for (int j = 0; j < d; j++) flat[i * d + j] = (float)((f[i][j] - mean[j]) / std[j]);
            using var scope = NewDisposeScope();
            return new InMemoryDataset(tensor(flat, [f.Count, d]), tensor(l.Select(s => index[s]).ToArray()), classes.Length);
        }
        return new CsvData(Make(tf, tl), Make(vf, vl), names, classes) { FeatureMean = mean, FeatureStd = std };
    }

    private static (string[] Header, List<double[]> Features, List<string> Labels) Read(string path, string target)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        using var reader = new StreamReader(path);
        var header = Header(path, reader);
        int t = Array.IndexOf(header, target);
        if (t < 0) throw new DataFormatException(path, $"expected a column '{target}' (--target), found columns: {string.Join(", ", header)}");
        var features = new List<double[]>();
        var labels = new List<string>();
        foreach (var (row, cells) in DataRows(path, reader, header.Length))
        {
            var f = new double[header.Length - 1];
            for (int c = 0, k = 0; c < cells.Count; c++)
            {
                var cell = cells[c].Trim();
                if (c == t)
                {
                    if (cell.Length == 0) throw new DataFormatException(path, $"row {row}, column '{header[c]}': expected a class label, found an empty field");
                    labels.Add(cell);
                    continue;
                }
                f[k++] = Number(path, row, header[c], cell);
            }
            features.Add(f);
        }
        if (features.Count == 0) throw new DataFormatException(path, "expected data rows after the header, found none");
        return (header, features, labels);
    }

    /// <summary>
    /// The values of <paramref name="columns"/> in every data row of <paramref name="path"/> (for prediction: the
    /// training features, in the training order; other columns, such as the target, are ignored).
    /// </summary>
    /// <exception cref="DataFormatException">Missing file or column, a ragged row, or a value that is not a number.</exception>
    public static double[][] ReadColumns(string path, IReadOnlyList<string> columns)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(columns);
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        using var reader = new StreamReader(path);
        var header = Header(path, reader);
        var index = columns.Select(c => (Name: c, At: Array.IndexOf(header, c))).ToArray();
        if (index.FirstOrDefault(i => i.At < 0) is { Name: not null } missing)
            throw new DataFormatException(path, $"expected the model's feature column '{missing.Name}', found columns: {string.Join(", ", header)}");
        var rows = new List<double[]>();
        foreach (var (row, cells) in DataRows(path, reader, header.Length))
        {
            rows.Add([.. index.Select(i => Number(path, row, i.Name, cells[i.At].Trim()))]);
        }
        if (rows.Count == 0) throw new DataFormatException(path, "expected data rows after the header, found none");
        return [.. rows];
    }

    private static double Number(string path, int row, string column, string cell) =>
        double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v
            : throw new DataFormatException(path, $"row {row}, column '{column}': expected a number, found '{cell}'");

    private static string[] Header(string path, StreamReader reader) =>
        (reader.ReadLine() is { } line ? Split(line) : throw new DataFormatException(path, "expected a header row, found an empty file"))
            .Select(h => h.Trim()).ToArray();

    /// <summary>The non-empty data rows after the header, with their 1-based row numbers (the header is row 1).</summary>
    private static IEnumerable<(int Row, List<string> Cells)> DataRows(string path, StreamReader reader, int fields)
    {
        int row = 1;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            row++;
            if (line.Length == 0) continue;
            var cells = Split(line);
            if (cells.Count != fields) throw new DataFormatException(path, $"row {row}: expected {fields} fields, found {cells.Count}");
            yield return (row, cells);
        }
    }

    /// <summary>Splits one CSV line (RFC 4180 quotes within a line).</summary>
    private static List<string> Split(string line)
    {
        var cells = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { cur.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else cur.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { cells.Add(cur.ToString()); cur.Clear(); }
            else cur.Append(ch);
        }
        cells.Add(cur.ToString());
        return cells;
    }
}
