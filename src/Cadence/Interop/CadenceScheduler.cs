using System.Globalization;
using System.Text;
using System.Text.Json;
using Cadence.Schedules;
using Cadence.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Interop;

/// <summary>
/// Drives any TorchSharp optimizer from a Cadence <see cref="Schedule"/> with the calls a hand-written TorchSharp loop
/// already makes: construct it after the optimizer, call <see cref="step(int?)">step()</see> after
/// <c>optimizer.step()</c>, read <see cref="optim.lr_scheduler.LRScheduler.get_last_lr"/>. It is a TorchSharp
/// <see cref="optim.lr_scheduler.LRScheduler"/>, so code typed against that base keeps compiling.
/// </summary>
/// <remarks>
/// <para>PyTorch semantics: construction writes step 0's values into the optimizer (<see cref="Position"/> = 0);
/// every <c>step()</c> advances by one and writes that step's values. So the k-th <c>optimizer.step()</c> (k = 0, 1, …)
/// uses the schedule's value k, exactly as with <c>torch.optim.lr_scheduler</c>.</para>
/// <para>Every parameter group gets its learning rate and, when the schedule has momentum, its SGD <c>momentum</c>
/// or Adam/AdamW <c>β1</c> (see <see cref="HyperParamWriter"/>). A schedule with one group is applied to every
/// group of the optimizer; otherwise the numbers of groups must be equal.</para>
/// </remarks>
public sealed class CadenceScheduler : optim.lr_scheduler.LRScheduler
{
    private readonly HyperParamWriter _writer;
    private readonly double[] _lr;
    private readonly double[] _momentum;
    private readonly double[] _groupLr;

    /// <summary>Wraps <paramref name="optimizer"/> and writes step <paramref name="position"/>'s values into it.</summary>
    /// <param name="optimizer">Any TorchSharp optimizer; its parameter groups are read once, here.</param>
    /// <param name="schedule">The schedule: one group (applied to every parameter group) or one per parameter group.</param>
    /// <param name="position">The step to start at: 0 for a new run (PyTorch's <c>last_epoch=-1</c>).</param>
    /// <exception cref="ArgumentException">The numbers of groups differ, or the schedule cycles momentum and a
    /// group's optimizer has neither SGD momentum nor Adam/AdamW β1.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="position"/> is negative or past the schedule's
    /// last step.</exception>
    public CadenceScheduler(optim.Optimizer optimizer, Schedule schedule, long position = 0)
        : base(optimizer ?? throw new ArgumentNullException(nameof(optimizer)), last_epoch: -1, verbose: false)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        _writer = new HyperParamWriter(optimizer);
        CheckGroups(_writer, schedule.Groups, nameof(schedule));
        if (schedule.HasMomentum)
        {
            for (int g = 0; g < _writer.Groups; g++)
            {
                if (!_writer.HasMomentum(g))
                    throw new ArgumentException(
                        $"{schedule.Reference} schedules momentum, but parameter group {g} of {optimizer.GetType().Name} has neither SGD " +
                        "momentum nor Adam/AdamW beta1; use SGD, Adam or AdamW, or a schedule without momentum (e.g. cycle_momentum=false)",
                        nameof(optimizer));
            }
        }
        Schedule = schedule;
        _lr = new double[schedule.Groups];
        _momentum = new double[schedule.HasMomentum ? schedule.Groups : 0];
        _groupLr = new double[_writer.Groups];
        Apply(position);
    }

    /// <summary>The schedule this scheduler follows.</summary>
    public Schedule Schedule { get; }

    /// <summary>The step whose values are in the optimizer now: the index of the next <c>optimizer.step()</c>.</summary>
    public long Position { get; private set; }

    /// <summary>The learning rate of each parameter group for the next optimizer step.</summary>
    public IReadOnlyList<double> LastLr => _groupLr;

    /// <summary>
    /// The momentum (SGD) or β1 (Adam/AdamW) of each parameter group for the next optimizer step, or empty when the
    /// schedule leaves momentum to the optimizer.
    /// </summary>
    public IReadOnlyList<double> LastMomentum => Schedule.HasMomentum
        ? Enumerable.Range(0, _writer.Groups).Select(_writer.GetMomentum).ToArray()
        : [];

    /// <summary>Advances one step (or, like PyTorch's deprecated <c>step(epoch)</c>, jumps to <paramref name="epoch"/>) and writes its values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The step is past the schedule's last step (e.g. OneCycleLR
    /// stepped more than <c>total_steps</c> times); nothing is changed.</exception>
    public override void step(int? epoch)
    {
        Apply(epoch ?? checked(Position + 1));
    }

    /// <summary>Random access: writes the values of step <paramref name="position"/> and continues from there.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, or past the schedule's last step; nothing is changed.</exception>
    public void Step(long position) => Apply(position);

    /// <summary>What a checkpoint needs to resume this scheduler: its position, and what identifies the schedule.</summary>
    public CadenceSchedulerState State => new(Schedule.Policy, Schedule.Groups, Position, [.. _lr]);

    /// <summary>
    /// Resumes from <paramref name="state"/>: checks that it was taken from this same schedule, then writes the
    /// values of its position into the optimizer.
    /// </summary>
    /// <exception cref="InvalidDataException">The state belongs to a different schedule (policy, number of groups,
    /// or learning rate at the saved position differ).</exception>
    public void Restore(CadenceSchedulerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Policy != Schedule.Policy || state.Groups != Schedule.Groups)
            throw new InvalidDataException(
                $"the scheduler state was saved for policy '{state.Policy}' with {state.Groups} group(s), but this scheduler follows '{Schedule.Policy}' with {Schedule.Groups}");
        if (state.Position < 0)
            throw new InvalidDataException($"the scheduler state has position {state.Position}; it must be ≥ 0");
        var expected = Schedule.At(state.Position).Lr;
        if (!expected.AsSpan().SequenceEqual(state.Lr))
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"the scheduler state was saved from a different '{Schedule.Policy}' schedule: at step {state.Position} it had lr [{string.Join(", ", state.Lr)}], this one has [{string.Join(", ", expected)}]"));
        Apply(state.Position);
    }

    /// <summary>Writes <see cref="State"/> as JSON to <paramref name="path"/> (through a temporary file and a rename, so a crash never leaves half a file).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, State.ToJson());

    /// <summary>Reads a file written by <see cref="Save"/> and <see cref="Restore">resumes</see> from it.</summary>
    /// <exception cref="InvalidDataException">The file is not a scheduler state, or belongs to a different schedule.</exception>
    public void Load(string path) => Restore(CadenceSchedulerState.FromJson(File.ReadAllText(path), path));

    /// <summary>The learning rate of every parameter group at <see cref="Position"/> (what TorchSharp's base <c>step</c> writes).</summary>
    protected override IEnumerable<double> get_lr() => _groupLr;

    /// <inheritdoc cref="get_lr"/>
    protected override IEnumerable<double> get_closed_form_lr() => _groupLr;

    private void Apply(long position)
    {
        // Evaluate first: a step past the end throws before the optimizer or the position change.
        Schedule.At(position, _lr, _momentum);
        _writer.Write(_lr, _momentum, []);
        for (int g = 0; g < _groupLr.Length; g++) _groupLr[g] = _lr.Length == 1 ? _lr[0] : _lr[g];
        Position = position;
        // The base class keeps get_last_lr()'s list; its step writes get_lr() (the same values) and updates that list.
        base.step(null);
    }

    internal static void CheckGroups(HyperParamWriter writer, int scheduleGroups, string paramName)
    {
        if (scheduleGroups != 1 && scheduleGroups != writer.Groups)
            throw new ArgumentException(
                $"the schedule has {scheduleGroups} parameter groups but the optimizer has {writer.Groups}; give the schedule one value per group, or a single group to apply to all",
                paramName);
    }
}

/// <summary>
/// The saved state of a <see cref="CadenceScheduler"/>: the position, and what identifies the schedule it follows
/// (so a checkpoint cannot silently resume a different schedule).
/// </summary>
/// <param name="Policy">The schedule's <see cref="Schedule.Policy"/>.</param>
/// <param name="Groups">The schedule's number of groups.</param>
/// <param name="Position">The step whose values the optimizer had when the state was taken.</param>
/// <param name="Lr">The schedule's learning rate of each group at <paramref name="Position"/>.</param>
public sealed record CadenceSchedulerState(string Policy, int Groups, long Position, double[] Lr)
{
    /// <summary>The value of the <c>format</c> key, so other JSON files are recognized and refused.</summary>
    public const string Format = "cadence-scheduler/1";

    /// <summary>Value equality, comparing <see cref="Lr"/> element by element.</summary>
    public bool Equals(CadenceSchedulerState? other) =>
        other is not null && Policy == other.Policy && Groups == other.Groups && Position == other.Position
        && (Lr ?? []).AsSpan().SequenceEqual(other.Lr ?? []);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Policy, Groups, Position, Lr?.Length);

    /// <summary>
    /// <c>{"format":"cadence-scheduler/1","policy":…,"groups":…,"position":…,"lr":[…]}</c>; doubles in shortest
    /// round-trip form, so reading gives back the same bits.
    /// </summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("format", Format);
            w.WriteString("policy", Policy);
            w.WriteNumber("groups", Groups);
            w.WriteNumber("position", Position);
            w.WriteStartArray("lr");
            foreach (var v in Lr ?? []) w.WriteNumberValue(v);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads what <see cref="ToJson"/> wrote.</summary>
    /// <param name="json">The text.</param>
    /// <param name="source">Where it came from (a file name), for error messages.</param>
    /// <exception cref="InvalidDataException">Not JSON, not a scheduler state, or a key is missing or has the wrong type.</exception>
    public static CadenceSchedulerState FromJson(string json, string source = "the scheduler state")
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var f) || f.ValueKind != JsonValueKind.String || f.GetString() != Format)
                throw new InvalidDataException($"{source} is not a Cadence scheduler state (expected \"format\": \"{Format}\")");
            string policy = root.TryGetProperty("policy", out var p) && p.ValueKind == JsonValueKind.String
                ? p.GetString()! : throw Missing(source, "policy", "a string");
            int groups = root.TryGetProperty("groups", out var gr) && gr.ValueKind == JsonValueKind.Number && gr.TryGetInt32(out int gv)
                ? gv : throw Missing(source, "groups", "an integer");
            long position = root.TryGetProperty("position", out var pos) && pos.ValueKind == JsonValueKind.Number && pos.TryGetInt64(out long pv)
                ? pv : throw Missing(source, "position", "an integer");
            if (!root.TryGetProperty("lr", out var lrs) || lrs.ValueKind != JsonValueKind.Array) throw Missing(source, "lr", "an array of numbers");
            var lr = lrs.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out double v)
                ? v : throw Missing(source, "lr", "an array of numbers")).ToArray();
            return new CadenceSchedulerState(policy, groups, position, lr);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} is not valid JSON: {e.Message}", e);
        }
    }

    private static InvalidDataException Missing(string source, string key, string what) =>
        new($"{source}: \"{key}\" must be present as {what}");
}

/// <summary>Writes files the user keeps through a temporary file in the same folder and a rename.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, text, new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
