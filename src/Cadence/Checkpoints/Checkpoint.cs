using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cadence.Data;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Checkpoints;

/// <summary>A callback whose state must survive a resume (early stopping's patience, a plateau scheduler's state …).</summary>
public interface ICheckpointState
{
    /// <summary>Key of the state in the checkpoint (unique among the learner's callbacks).</summary>
    string CheckpointKey { get; }

    /// <summary>The state as JSON.</summary>
    string SaveCheckpointState();

    /// <summary>Restores what <see cref="SaveCheckpointState"/> returned; called after the resumed fit's <see cref="Callback.BeforeFit"/>.</summary>
    void LoadCheckpointState(string json);
}

/// <summary>What a checkpoint says about itself (its <c>state.json</c>), read without loading anything.</summary>
/// <param name="Path">The checkpoint directory.</param>
/// <param name="Kind">Why it was written: iteration, epoch, cycle, best, interrupt or manual.</param>
/// <param name="Position">Where the fit stood.</param>
/// <param name="Epochs">Epochs of the fit.</param>
/// <param name="BatchesPerEpoch">Training batches per epoch.</param>
/// <param name="Threads">Torch intra-op threads of the run (results are bit-identical only with the same count).</param>
/// <param name="Schedule">The schedule's reference (what it reproduces).</param>
/// <param name="Configuration">The run configuration the caller stored (JSON), or null.</param>
/// <param name="Created">When it was written (UTC).</param>
public sealed record CheckpointInfo(string Path, string Kind, TrainingPosition Position, int Epochs, long BatchesPerEpoch, int Threads,
    string Schedule, string? Configuration, DateTimeOffset Created)
{
    /// <summary>The device it was written on (<c>cpu</c>, <c>cuda:0</c> …), or null for a checkpoint older than devices.</summary>
    public string? Device { get; init; }
}

/// <summary>
/// Saves and restores everything a fit needs to continue bit for bit: model parameters and buffers, optimizer state
/// (SGD momentum buffers, Adam moments and step counts), the position (the step counter puts every schedule back,
/// since schedules are pure functions of the step), TorchSharp's global random state and the training loader's
/// shuffling generator and current order, the recorder's history, the last validation results, the state of callbacks
/// implementing <see cref="ICheckpointState"/>, and an opaque run configuration. Files go through
/// <see cref="CheckpointStore"/> (temporary directory, fsync, rename, SHA-256 manifest).
/// </summary>
/// <remarks>
/// Checkpoints do not depend on the device: tensors are written as CPU data (TorchSharp's format: dtype, shape, bytes)
/// and loaded into the learner's own tensors wherever they live, optimizer state onto its parameter's device. A GPU
/// checkpoint resumes on the CPU and the reverse. On a GPU the state of its default generator (what dropout draws from)
/// is saved too (<c>rng_cuda.bin</c>) and restored when the resuming learner is on a GPU; the CPU ignores it.
/// </remarks>
public static partial class Checkpoint
{
    /// <summary>Subdirectory of a run's output directory that holds its checkpoints.</summary>
    public const string DirectoryName = "checkpoints";

    private const string ModelFile = "model.dat", OptimizerFile = "optimizer.dat", StateFile = "state.json", HistoryFile = "history.json",
        RngFile = "rng.bin", CudaRngFile = "rng_cuda.bin", LoaderFile = "loader.bin";

    private const int Format = 1;

    /// <summary>Name of the rolling checkpoint at <paramref name="position"/>: ordinal order is training order.</summary>
    public static string RollingName(TrainingPosition position) =>
        string.Create(CultureInfo.InvariantCulture, $"ckpt-i{position.Iteration:D10}-e{position.Epoch:D6}{(position.EpochEnded ? "-end" : "")}");

    [GeneratedRegex(@"^ckpt-i\d{10}-e\d{6}(-end)?$", RegexOptions.CultureInvariant)]
    private static partial Regex RollingPattern();

    /// <summary>The rolling checkpoints in <paramref name="directory"/> (not cycle or best snapshots), oldest first.</summary>
    public static IReadOnlyList<string> Rolling(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        return Directory.EnumerateDirectories(directory).Select(Path.GetFileName).Where(n => RollingPattern().IsMatch(n!))
            .Order(StringComparer.Ordinal).Select(n => Path.Combine(directory, n!)).ToArray();
    }

    /// <summary>
    /// The checkpoint a <c>--resume</c> path means: the path itself when it is a checkpoint (has a manifest), else the
    /// newest rolling checkpoint in <c>path/checkpoints</c> or in <c>path</c>.
    /// </summary>
    /// <exception cref="CheckpointException">No checkpoint there.</exception>
    public static string Locate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(Path.Combine(path, CheckpointStore.ManifestName))) return path;
        if (!Directory.Exists(path)) throw new CheckpointException(path, "no such directory");
        foreach (var dir in new[] { Path.Combine(path, DirectoryName), path })
            if (Rolling(dir) is { Count: > 0 } found) return found[^1];
        throw new CheckpointException(path, $"no checkpoint here (nor in {Path.Combine(path, DirectoryName)})");
    }

    /// <summary>
    /// Writes a checkpoint of <paramref name="learner"/> named <paramref name="name"/> in <paramref name="directory"/>.
    /// Call it between steps: from a callback, or outside a fit (it then records the end of the last fit).
    /// </summary>
    /// <param name="learner">The learner.</param>
    /// <param name="directory">Where checkpoints live.</param>
    /// <param name="name">Directory name of this checkpoint (replaces one of the same name once complete).</param>
    /// <param name="kind">Why it is written (recorded in <see cref="CheckpointInfo.Kind"/>).</param>
    /// <param name="configuration">Run configuration to store (JSON), or null.</param>
    /// <param name="position">Position to record (default: <see cref="Learner.Position"/>).</param>
    /// <param name="extraState">Callback states to store in addition to those of the learner's <see cref="ICheckpointState"/> callbacks.</param>
    /// <returns>The checkpoint's path.</returns>
    /// <exception cref="CheckpointWriteException">It could not be written; earlier checkpoints are intact.</exception>
    public static string Save(Learner learner, string directory, string name, string kind = "manual", string? configuration = null,
        TrainingPosition? position = null, IReadOnlyDictionary<string, string>? extraState = null)
    {
        ArgumentNullException.ThrowIfNull(learner);
        learner.ReadLosses();   // a GPU's pending losses belong to the history saved
        var at = position ?? learner.Position;
        var optimizer = learner.Optimizer as OptimizerHelper
            ?? throw new NotSupportedException($"cannot save the state of optimizer {learner.Optimizer.GetType().Name}");
        var states = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var cb in learner.Callbacks.OfType<ICheckpointState>()) states[cb.CheckpointKey] = cb.SaveCheckpointState();
        if (extraState is not null) foreach (var (k, v) in extraState) states[k] = v;
        byte[] rng;
        using (var state = torch.random.get_rng_state()) rng = state.data<byte>().ToArray();
        byte[]? cudaRng = learner.Device.IsCuda ? TorchRuntime.GetCudaRngState(learner.Device.Index!.Value) : null;
        var loader = learner.Data.Train.GetState();
        var recorder = learner.Recorder.Snapshot();
        var files = new List<(string, Action<Stream>)>
        {
            (ModelFile, s => { using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true); learner.Model.save(w); }),
            (OptimizerFile, s => { using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true); optimizer.save_state_dict(w); }),
            (RngFile, s => s.Write(rng)),
            (LoaderFile, s => WriteLoader(s, loader)),
            (HistoryFile, s => WriteHistory(s, recorder)),
            (StateFile, s => WriteState(s, learner, at, kind, configuration, states)),
        };
        if (cudaRng is not null) files.Insert(3, (CudaRngFile, s => s.Write(cudaRng)));
        return CheckpointStore.Write(directory, name, files);
    }

    /// <summary>Verifies a checkpoint and reads its <c>state.json</c>, without loading anything into a learner.</summary>
    /// <exception cref="CheckpointException">Missing, partial or corrupt.</exception>
    public static CheckpointInfo ReadInfo(string path)
    {
        var files = CheckpointStore.ReadVerified(path);
        return ParseState(path, Need(path, files, StateFile)).Info;
    }

    /// <summary>
    /// Restores everything into <paramref name="learner"/> (built like the one that was saved: same model, layer
    /// groups, optimizer kind and data) and makes its next <see cref="Learner.Fit(Schedule, int, CancellationToken)"/>
    /// continue from the checkpoint's position. The checkpoint is verified and checked against the learner before
    /// anything is loaded, so a bad one leaves the learner untouched.
    /// </summary>
    /// <exception cref="CheckpointException">Missing, partial, corrupt, or made for another model.</exception>
    public static CheckpointInfo Restore(Learner learner, string path) => Restore(learner, path, null, null);

    private static CheckpointInfo Restore(Learner learner, string path, Schedule? schedule, int? epochs)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var files = CheckpointStore.ReadVerified(path);
        var state = ParseState(path, Need(path, files, StateFile));
        string statePath = Path.Combine(path, StateFile);
        CheckModel(learner, state, statePath);
        if (state.LayerGroups != learner.LayerGroups.Count)
            throw new CheckpointException(statePath, $"saved with {state.LayerGroups} layer groups, the learner has {learner.LayerGroups.Count}");
        var optimizer = learner.Optimizer as OptimizerHelper
            ?? throw new CheckpointException(statePath, $"cannot restore the state of optimizer {learner.Optimizer.GetType().Name}");
        if (state.Optimizer != optimizer.GetType().Name)
            throw new CheckpointException(statePath, $"saved with optimizer {state.Optimizer}, the learner uses {optimizer.GetType().Name}");
        if (state.Info.BatchesPerEpoch != learner.Data.Train.BatchCount)
            throw new CheckpointException(statePath, $"saved with {state.Info.BatchesPerEpoch} batches per epoch, the learner's data has {learner.Data.Train.BatchCount}");
        var history = ReadHistory(Path.Combine(path, HistoryFile), Need(path, files, HistoryFile));
        if (epochs is { } n && state.Info.Epochs != n) throw new CheckpointException(statePath, $"saved from a fit of {state.Info.Epochs} epochs, not {n}");
        if (schedule is not null) CheckSchedule(schedule, history, state.Frozen, statePath);
        var loader = ReadLoader(Path.Combine(path, LoaderFile), Need(path, files, LoaderFile));
        if (loader.Order is { } order && order.Length != learner.Data.Train.Dataset.Count)
            throw new CheckpointException(Path.Combine(path, LoaderFile), $"its data order has {order.Length} samples, the learner's training set {learner.Data.Train.Dataset.Count}");
        if ((loader.GeneratorState is not null) != learner.Data.Train.Shuffle)
            throw new CheckpointException(Path.Combine(path, LoaderFile), "saved from a loader that " + (learner.Data.Train.Shuffle ? "did not shuffle" : "shuffled"));
        byte[] rng = Need(path, files, RngFile);
        byte[]? cudaRng = CudaRngToRestore(files.GetValueOrDefault(CudaRngFile), learner.Device);
        byte[] model = Need(path, files, ModelFile), optimizerState = Need(path, files, OptimizerFile);

        // Everything is verified and compatible: load. Outside any dispose scope, so TorchSharp's loaded tensors live on.
        using (var r = new BinaryReader(new MemoryStream(model, writable: false))) learner.Model.load(r);
        using (var r = new BinaryReader(new MemoryStream(optimizerState, writable: false))) optimizer.load_state_dict(r);
        int frozen = state.Frozen.TakeWhile(f => f).Count();
        learner.FreezeTo(frozen);
        learner.Recorder.Restore(history);
        learner.Data.Train.SetState(loader);
        var callbacks = learner.Callbacks.OfType<ICheckpointState>().ToArray();
        learner.ResumeAt(state.Info.Position, () =>
        {
            using (var t = torch.tensor(rng, ScalarType.Byte)) torch.random.set_rng_state(t);
            if (cudaRng is not null) TorchRuntime.SetCudaRngState(learner.Device.Index!.Value, cudaRng);
            learner.ValidLoss = state.ValidLoss;
            learner.MetricValues = state.MetricValues;
            foreach (var cb in callbacks)
                if (state.Callbacks.TryGetValue(cb.CheckpointKey, out var json)) cb.LoadCheckpointState(json);
        });
        return state.Info;
    }

    /// <summary>
    /// Restores <paramref name="path"/> and continues the fit to its end: <paramref name="schedule"/> and
    /// <paramref name="epochs"/> must be those of the interrupted fit (checked against the learning rates the
    /// checkpoint recorded).
    /// </summary>
    /// <exception cref="CheckpointException">The checkpoint is bad, or belongs to another fit.</exception>
    public static FitResult Resume(Learner learner, string path, Schedule schedule, int epochs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(schedule);
        Restore(learner, path, schedule, epochs);
        return learner.Fit(schedule, epochs, cancellationToken);
    }

    /// <summary>Loads only the model weights of a checkpoint (after verifying all of it).</summary>
    public static void LoadWeights(Learner learner, string path)
    {
        ArgumentNullException.ThrowIfNull(learner);
        var files = CheckpointStore.ReadVerified(path);
        var state = ParseState(path, Need(path, files, StateFile));
        CheckModel(learner, state, Path.Combine(path, StateFile));
        using var r = new BinaryReader(new MemoryStream(Need(path, files, ModelFile), writable: false));
        learner.Model.load(r);
    }

    /// <summary>fastai 0.7 <c>learn.load_cycle(name, cycle)</c>: the weights of snapshot <c>{name}_cyc_{cycle}</c> (0-based).</summary>
    /// <param name="learner">The learner.</param>
    /// <param name="name">The <see cref="CheckpointOptions.CycleSaveName"/>.</param>
    /// <param name="cycle">Cycle index, from 0.</param>
    /// <param name="directory">Checkpoint directory (default: that of the learner's <see cref="CheckpointCallback"/>).</param>
    public static void LoadCycle(this Learner learner, string name, int cycle, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(learner);
        directory ??= learner.Callbacks.OfType<CheckpointCallback>().FirstOrDefault()?.Options.Directory
            ?? throw new InvalidOperationException("the learner has no CheckpointCallback: give the checkpoint directory");
        LoadWeights(learner, Path.Combine(directory, CycleName(name, cycle)));
    }

    /// <summary>Directory name of a cycle snapshot (fastai's <c>{name}_cyc_{cycle}</c>).</summary>
    public static string CycleName(string name, int cycle) => string.Create(CultureInfo.InvariantCulture, $"{name}_cyc_{cycle}");

    private static void CheckSchedule(Schedule schedule, RecorderSnapshot history, bool[] frozen, string path)
    {
        var steps = history.Steps;
        if (steps.Length == 0) return;
        var last = steps[^1];
        var lr = new double[schedule.Groups];
        var mom = new double[schedule.Groups];
        if (last.Step < 0 || schedule.Length is { } len && last.Step >= len) throw new CheckpointException(path, $"its last step {last.Step} is outside the schedule");
        schedule.At(last.Step, lr, schedule.HasMomentum ? mom : Span<double>.Empty);
        for (int g = 0; g < last.Lr.Length; g++)
        {
            if (g < frozen.Length && frozen[g]) continue;
            double expected = lr[schedule.Groups == 1 ? 0 : g];
            if (expected != last.Lr[g])
                throw new CheckpointException(path, string.Create(CultureInfo.InvariantCulture,
                    $"saved from another schedule: step {last.Step} used lr {last.Lr[g]:R} in group {g}, this schedule gives {expected:R}"));
        }
    }

    private static void CheckModel(Learner learner, ParsedState state, string statePath)
    {
        var mine = learner.Model.state_dict().Select(kv => (kv.Key, Shape: kv.Value.shape)).ToArray();
        if (mine.Length != state.Tensors.Count)
            throw new CheckpointException(statePath, $"saved from a model with {state.Tensors.Count} tensors, the learner's has {mine.Length}");
        for (int i = 0; i < mine.Length; i++)
        {
            var (name, shape) = state.Tensors[i];
            if (name != mine[i].Key || !shape.SequenceEqual(mine[i].Shape))
                throw new CheckpointException(statePath,
                    $"saved from another model: tensor {i} is {name} [{string.Join(", ", shape)}], the learner's is {mine[i].Key} [{string.Join(", ", mine[i].Shape)}]");
        }
    }

    /// <summary>
    /// The CUDA generator state to restore into a learner on <paramref name="device"/>: the saved one when the learner is
    /// on a GPU (any index: the state is a seed and an offset), none on the CPU (which has no use for it) or when the
    /// checkpoint was written on the CPU (the GPU's generator then keeps its seeded state).
    /// </summary>
    internal static byte[]? CudaRngToRestore(byte[]? saved, ComputeDevice device) => device.IsCuda ? saved : null;

    private static byte[] Need(string path, IReadOnlyDictionary<string, byte[]> files, string name) =>
        files.TryGetValue(name, out var bytes) ? bytes : throw new CheckpointException(Path.Combine(path, name), "missing (not in the manifest)");

    // ---- state.json ----

    private sealed record ParsedState(CheckpointInfo Info, int LayerGroups, bool[] Frozen, string Optimizer, double ValidLoss,
        double[] MetricValues, IReadOnlyList<(string Name, long[] Shape)> Tensors, IReadOnlyDictionary<string, string> Callbacks);

    private static void WriteState(Stream s, Learner learner, TrainingPosition at, string kind, string? configuration, IDictionary<string, string> callbacks)
    {
        using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("format", Format);
        w.WriteString("kind", kind);
        w.WriteString("created", DateTimeOffset.UtcNow);
        w.WriteNumber("iteration", at.Iteration);
        w.WriteNumber("epoch", at.Epoch);
        w.WriteNumber("batches_done", at.BatchesDone);
        w.WriteBoolean("epoch_ended", at.EpochEnded);
        w.WriteBoolean("order_drawn", at.OrderDrawn);
        w.WriteNumber("epochs", learner.Epochs);
        w.WriteNumber("batches_per_epoch", learner.Data.Train.BatchCount);
        w.WriteNumber("threads", torch.get_num_threads());
        w.WriteString("device", learner.Device.ToString());
        w.WriteString("schedule", learner.Schedule?.Reference ?? "");
        w.WriteNumber("layer_groups", learner.LayerGroups.Count);
        w.WriteStartArray("frozen");
        for (int g = 0; g < learner.LayerGroups.Count; g++) w.WriteBooleanValue(learner.IsFrozen(g));
        w.WriteEndArray();
        w.WriteString("optimizer", learner.Optimizer.GetType().Name);
        WriteDouble(w, "valid_loss", learner.ValidLoss);
        w.WriteStartArray("metric_values");
        foreach (var v in learner.MetricValues) WriteDoubleValue(w, v);
        w.WriteEndArray();
        w.WriteStartArray("tensors");
        foreach (var (name, t) in learner.Model.state_dict())
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteStartArray("shape");
            foreach (var d in t.shape) w.WriteNumberValue(d);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("callbacks");
        foreach (var (k, v) in callbacks) w.WriteString(k, v);
        w.WriteEndObject();
        w.WritePropertyName("configuration");
        if (configuration is null) w.WriteNullValue(); else w.WriteRawValue(configuration);
        w.WriteEndObject();
    }

    private static ParsedState ParseState(string path, byte[] bytes)
    {
        string file = Path.Combine(path, StateFile);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var r = doc.RootElement;
            int format = r.GetProperty("format").GetInt32();
            if (format != Format) throw new CheckpointException(file, $"format {format} is not supported (this version reads format {Format})");
            var position = new TrainingPosition(r.GetProperty("iteration").GetInt64(), r.GetProperty("epoch").GetInt32(),
                r.GetProperty("batches_done").GetInt64(), r.GetProperty("epoch_ended").GetBoolean(), r.GetProperty("order_drawn").GetBoolean());
            var config = r.GetProperty("configuration");
            var info = new CheckpointInfo(path, r.GetProperty("kind").GetString()!, position, r.GetProperty("epochs").GetInt32(),
                r.GetProperty("batches_per_epoch").GetInt64(), r.GetProperty("threads").GetInt32(), r.GetProperty("schedule").GetString()!,
                config.ValueKind == JsonValueKind.Null ? null : config.GetRawText(), r.GetProperty("created").GetDateTimeOffset())
            {
                Device = r.TryGetProperty("device", out var device) ? device.GetString() : null,
            };
            var tensors = r.GetProperty("tensors").EnumerateArray()
                .Select(t => (t.GetProperty("name").GetString()!, t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray()))
                .ToArray();
            var callbacks = r.GetProperty("callbacks").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
            return new ParsedState(info, r.GetProperty("layer_groups").GetInt32(),
                r.GetProperty("frozen").EnumerateArray().Select(b => b.GetBoolean()).ToArray(), r.GetProperty("optimizer").GetString()!,
                ReadDouble(r.GetProperty("valid_loss")), r.GetProperty("metric_values").EnumerateArray().Select(ReadDouble).ToArray(), tensors, callbacks);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException(file, $"unreadable: {e.Message}");
        }
    }

    // ---- history.json: the recorder ----

    internal static void WriteHistory(Stream s, RecorderSnapshot h)
    {
        using var w = new Utf8JsonWriter(s);
        w.WriteStartObject();
        WriteDouble(w, "average", h.Average);
        w.WriteNumber("count", h.Count);
        WriteDouble(w, "smooth_loss", h.SmoothLoss);
        w.WriteStartArray("steps");   // [step, epoch, loss, smooth_loss, [lr…], [momentum…]]
        foreach (var st in h.Steps)
        {
            w.WriteStartArray();
            w.WriteNumberValue(st.Step);
            w.WriteNumberValue(st.Epoch);
            WriteDoubleValue(w, st.Loss);
            WriteDoubleValue(w, st.SmoothLoss);
            w.WriteStartArray();
            foreach (var v in st.Lr) WriteDoubleValue(w, v);
            w.WriteEndArray();
            w.WriteStartArray();
            foreach (var v in st.Momentum) WriteDoubleValue(w, v);
            w.WriteEndArray();
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteStartArray("epochs");
        foreach (var e in h.Epochs)
        {
            w.WriteStartObject();
            w.WriteNumber("epoch", e.Epoch);
            WriteDouble(w, "train_loss", e.TrainLoss);
            WriteDouble(w, "valid_loss", e.ValidLoss);
            w.WriteStartArray("metrics");
            foreach (var v in e.Metrics) WriteDoubleValue(w, v);
            w.WriteEndArray();
            WriteDouble(w, "seconds", e.Seconds);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    internal static RecorderSnapshot ReadHistory(string file, byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var r = doc.RootElement;
            var steps = r.GetProperty("steps").EnumerateArray().Select(a => new StepRecord(a[0].GetInt64(), a[1].GetInt32(), ReadDouble(a[2]), ReadDouble(a[3]),
                a[4].EnumerateArray().Select(ReadDouble).ToArray(), a[5].EnumerateArray().Select(ReadDouble).ToArray())).ToArray();
            var epochs = r.GetProperty("epochs").EnumerateArray().Select(e => new EpochRecord(e.GetProperty("epoch").GetInt32(),
                ReadDouble(e.GetProperty("train_loss")), ReadDouble(e.GetProperty("valid_loss")),
                e.GetProperty("metrics").EnumerateArray().Select(ReadDouble).ToArray(), ReadDouble(e.GetProperty("seconds")))).ToArray();
            return new RecorderSnapshot(steps, epochs, ReadDouble(r.GetProperty("average")), r.GetProperty("count").GetInt64(), ReadDouble(r.GetProperty("smooth_loss")));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new CheckpointException(file, $"unreadable: {e.Message}");
        }
    }

    // JSON has no NaN or infinity: those are written as strings, every finite double in its shortest round-trip form.
    internal static void WriteDouble(Utf8JsonWriter w, string name, double v)
    {
        w.WritePropertyName(name);
        WriteDoubleValue(w, v);
    }

    private static void WriteDoubleValue(Utf8JsonWriter w, double v)
    {
        if (double.IsFinite(v)) w.WriteNumberValue(v);
        else w.WriteStringValue(v.ToString(CultureInfo.InvariantCulture));
    }

    internal static double ReadDouble(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.String => double.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => throw new FormatException($"expected a number, got {e.ValueKind}"),
    };

    // ---- loader.bin: the training loader's generator and order ----

    private const int LoaderMagic = 0x534C4443;   // "CDLS"

    private static void WriteLoader(Stream s, DataLoaderState state)
    {
        using var w = new BinaryWriter(s, Encoding.UTF8, leaveOpen: true);
        w.Write(LoaderMagic);
        w.Write(state.GeneratorState?.Length ?? -1);
        if (state.GeneratorState is { } g) w.Write(g);
        w.Write(state.Order?.LongLength ?? -1L);
        if (state.Order is { } order) foreach (var i in order) w.Write(i);
    }

    private static DataLoaderState ReadLoader(string file, byte[] bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, writable: false));
            if (r.ReadInt32() != LoaderMagic) throw new CheckpointException(file, "not a loader state");
            int n = r.ReadInt32();
            byte[]? generator = n < 0 ? null : r.ReadBytes(n);
            if (generator is not null && generator.Length != n) throw new EndOfStreamException();
            long count = r.ReadInt64();
            long[]? order = null;
            if (count >= 0)
            {
                if (count > (bytes.Length - r.BaseStream.Position) / sizeof(long)) throw new EndOfStreamException();
                order = new long[count];
                for (long i = 0; i < count; i++) order[i] = r.ReadInt64();
            }
            return new DataLoaderState(order, generator);
        }
        catch (EndOfStreamException)
        {
            throw new CheckpointException(file, "truncated loader state");
        }
    }
}
