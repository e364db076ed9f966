using Cadence.Data;
using Cadence.Models;
using Cadence.Training;

namespace Cadence.Cli.Commands;

internal sealed class PredictSettings : CommandSettings, ICheckedSettings
{
    [CommandArgument(0, "<INPUT>"), Description("Image files (png, jpg, jpeg, bmp), folders of them (searched recursively) or CSV files with the model's feature columns")]
    public string[] Inputs { get; set; } = [];

    [CommandOption("--model-dir <RUN>"), Description("A finished run's folder: what cadence fit --out wrote (model.json and model.dat)")]
    public string? ModelDir { get; set; }

    [CommandOption("--top-k <K>"), Whole(1, 1000, "Also list the K most probable classes of each input"), DefaultValue(1L)]
    public long TopK { get; set; } = 1;

    [CommandOption("--json"), Description("Print one JSON document: every input's class, probability and top K")]
    public bool Json { get; set; }

    [CommandOption("--bs <N>"), Whole(1, 1 << 16, "Images decoded and classified at once"), DefaultValue(64L)]
    public long BatchSize { get; set; } = 64;

    [CommandOption("--threads <N>"), Whole(1, 1024, "Torch threads (default: the number of cores)")]
    public long? Threads { get; set; }

    public void Check(Check check)
    {
        if (ModelDir is null) check.Fail("--model-dir", "required: the folder of a finished run (cadence fit --out RUN)");
        else if (!Directory.Exists(ModelDir)) check.Fail("--model-dir", $"{ModelDir} is not a folder");
        foreach (var input in Inputs)
            if (!Directory.Exists(input) && !File.Exists(input)) check.Fail("INPUT", $"{input}: no such file or folder");
            else if (File.Exists(input) && !IsCsv(input) && !ImageDecoder.IsImage(input))
                check.Fail("INPUT", $"{input}: expected an image ({string.Join(", ", ImageDecoder.Extensions)}), a CSV file or a folder");
    }

    public static bool IsCsv(string path) => path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// <c>cadence predict --model-dir RUN INPUT…</c>: classifies images or CSV rows with a trained run's model, prepared as
/// in training (its card: size, channels, normalization or feature scaling). Reads the run and writes nothing, so it
/// takes no lock and may run while another predict, or a training run elsewhere, uses the machine.
/// </summary>
internal sealed class PredictCommand(Io io) : CadenceCommand<PredictSettings>(io)
{
    protected override int Run(CommandContext context, PredictSettings s, CancellationToken ct)
    {
        TorchRuntime.Configure(threads: (int)(s.Threads ?? Environment.ProcessorCount));
        Predictor predictor;
        try { predictor = Predictor.Load(s.ModelDir!); }
        catch (DataFormatException e) { throw new OptionIOException("--model-dir", e.Message, e); }
        using var _ = predictor;
        int k = (int)s.TopK;
        if (k > predictor.Card.Classes.Count)
            throw new UsageException("--top-k", $"the model has {predictor.Card.Classes.Count} classes, got {k}");
        var rows = new List<PredictionJson>();
        foreach (var input in s.Inputs)
        {
            ct.ThrowIfCancellationRequested();
            try { rows.AddRange(Predict(predictor, input, k, (int)s.BatchSize)); }
            catch (DataFormatException e) { throw new OptionIOException("INPUT", e.Message, e); }
            catch (InvalidOperationException e) { throw new UsageException("INPUT", $"{input}: {e.Message}"); }
        }
        if (s.Json) Io.Out.WriteLine(Json.Serialize(new PredictJson(Path.GetFullPath(s.ModelDir!), predictor.Card.Model, rows)));
        else WriteTable(Io.Out, rows, k);
        return ExitCodes.Ok;
    }

    /// <summary>One input: an image, every image under a folder (ordinal order of their paths), or every row of a CSV file (<c>FILE#N</c>, N the data row).</summary>
    private static IEnumerable<PredictionJson> Predict(Predictor predictor, string input, int k, int batchSize)
    {
        if (File.Exists(input) && PredictSettings.IsCsv(input))
            return predictor.PredictCsv(input, k).Select((p, i) => PredictionJson.Of($"{input}#{i + 1}", p));
        string[] files = Directory.Exists(input)
            ? [.. Directory.EnumerateFiles(input, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden })
                .Where(ImageDecoder.IsImage).Order(StringComparer.Ordinal)]
            : [input];
        if (files.Length == 0) throw new DataFormatException(input, $"no image in this folder (files ending in {string.Join(", ", ImageDecoder.Extensions)})");
        return predictor.PredictImages(files, k, batchSize).Select((p, i) => PredictionJson.Of(files[i], p));
    }

    private static void WriteTable(TextWriter w, List<PredictionJson> rows, int k)
    {
        int width = Math.Max(5, rows.Max(r => r.Input.Length));
        int classWidth = Math.Max(5, rows.Max(r => r.Class.Length));
        w.WriteLine($"{"input".PadRight(width)}  {"class".PadRight(classWidth)}  probability{(k > 1 ? $"  top {k}" : "")}");
        foreach (var r in rows)
        {
            string top = k > 1 ? "  " + string.Join(", ", r.Top.Select(t => $"{t.Class} {NumberFormat.Human(t.Probability)}")) : "";
            w.WriteLine($"{r.Input.PadRight(width)}  {r.Class.PadRight(classWidth)}  {NumberFormat.Human(r.Probability),-11}{top}".TrimEnd());
        }
    }

    /// <summary><c>cadence predict --json</c>.</summary>
    private sealed record PredictJson(string ModelDir, string Model, IReadOnlyList<PredictionJson> Predictions);

    private sealed record ClassJson(string Class, int Index, double Probability);

    private sealed record PredictionJson(string Input, string Class, int Index, double Probability, IReadOnlyList<ClassJson> Top)
    {
        public static PredictionJson Of(string input, Prediction p) =>
            new(input, p.Class, p.Index, p.Probability, [.. p.Top.Select(t => new ClassJson(t.Class, t.Index, t.Probability))]);
    }
}
