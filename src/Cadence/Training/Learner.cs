using System.Diagnostics;
using System.Globalization;
using Cadence.Data;
using Cadence.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>A loss function: model outputs and targets to a scalar tensor.</summary>
public delegate Tensor LossFunction(Tensor output, Tensor target);

/// <summary>Progress of a fit, reported through <see cref="IProgress{T}"/> after every training batch and every epoch.</summary>
/// <param name="Epoch">Current epoch (0-based).</param>
/// <param name="Epochs">Epochs in this fit.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Iteration">Optimizer steps done in this fit.</param>
/// <param name="SmoothLoss">Smoothed training loss.</param>
/// <param name="Lr">Learning rate of the last group at the last step.</param>
/// <param name="Finished">The finished epoch's record, when this report closes an epoch.</param>
public readonly record struct FitProgress(int Epoch, int Epochs, long Batch, long Batches, long Iteration, double SmoothLoss, double Lr, EpochRecord? Finished);

/// <summary>What a fit did.</summary>
/// <param name="Epochs">Epochs completed (a cancelled epoch counts when it ran at least one batch).</param>
/// <param name="Iterations">Optimizer steps taken.</param>
/// <param name="TrainLoss">Smoothed training loss at the end.</param>
/// <param name="ValidLoss">Last validation loss (NaN when none ran).</param>
/// <param name="Metrics">Last metric values, by name.</param>
/// <param name="Seconds">Wall time of the fit.</param>
/// <param name="StopReason">Why the fit stopped early, or null.</param>
public sealed record FitResult(int Epochs, long Iterations, double TrainLoss, double ValidLoss,
    IReadOnlyDictionary<string, double> Metrics, double Seconds, string? StopReason);

/// <summary>
/// Trains a TorchSharp model on <see cref="DataLoaders"/> with a <see cref="Schedule"/> (fastai's <c>Learner</c>).
/// Before every optimizer step it writes the schedule's learning rate and momentum (SGD momentum or Adam β1) into
/// every parameter group (one group per layer group). Each training and evaluation step runs inside its own
/// <c>torch.NewDisposeScope()</c>. Nothing is written to the console: use <see cref="Progress"/> and callbacks.
/// </summary>
/// <remarks>
/// The learner runs on one <see cref="Device"/>: the model and the data loaders are moved there when it is built. On
/// a GPU nothing in a training step waits for the GPU: the losses are read in chunks (see <see cref="LossReadInterval"/>
/// and <see cref="Callback.AfterLossRead"/>), metrics accumulate on the device and are read once per validation.
/// </remarks>
public sealed class Learner : IDisposable
{
    /// <summary>Default <see cref="LossReadInterval"/> on a GPU.</summary>
    public const int DefaultGpuLossReadInterval = 50;

    /// <summary>Default <see cref="ValidationBatchSize"/> on a GPU.</summary>
    public const int DefaultGpuValidationBatchSize = 1024;

    // Pending losses are also read when this much time passed since the last read (seconds), so a display stays live.
    private const double LossReadSeconds = 0.5;

    private List<Callback> _callbacks = [];
    private readonly List<PendingLoss> _pending = [];
    private long _lastRead;
    private readonly OptimizerFactory _optimizerFactory;
    private readonly bool[] _frozen;
    private readonly bool[] _notWritten;
    private optim.Optimizer? _optimizer;
    private HyperParamWriter? _writer;
    private double[] _lr = [];
    private double[] _mom = [];
    private Schedule? _schedule;
    private bool _fitting;
    private bool _epochEnded, _orderDrawn;
    private Action? _onResume;
    private readonly Action _oneBatch;

    /// <summary>Creates a learner.</summary>
    /// <param name="model">Any TorchSharp module mapping a batch of inputs to class scores.</param>
    /// <param name="data">Training and validation batches.</param>
    /// <param name="loss">Loss function (default: cross-entropy).</param>
    /// <param name="optimizer">Optimizer factory (default: SGD with momentum 0.9, fastai 0.7's default).</param>
    /// <param name="metrics">Validation metrics (default: accuracy).</param>
    /// <param name="layerGroups">Parameters per layer group, for differential learning rates and freezing (default: one group with all parameters).</param>
    /// <param name="callbacks">Extra callbacks.</param>
    /// <param name="device">
    /// Where to train (default <see cref="ComputeDevice.Auto"/>: the GPU when a CUDA libtorch is loaded and one is
    /// visible, else the CPU). The model and the data loaders are moved there now, before the layer groups are taken:
    /// TorchSharp replaces a module's <c>Parameter</c> objects when it moves them, so the groups are re-read from the
    /// moved model by parameter name (<paramref name="layerGroups"/> may hold the parameters from before the move).
    /// </param>
    /// <exception cref="ArgumentException">A layer group holds a tensor that is not one of the model's parameters.</exception>
    /// <exception cref="CudaUnavailableException"><paramref name="device"/> is <c>cuda</c> and no GPU can be used.</exception>
    public Learner(nn.Module<Tensor, Tensor> model, DataLoaders data, LossFunction? loss = null, OptimizerFactory? optimizer = null,
        IEnumerable<Metric>? metrics = null, IReadOnlyList<IReadOnlyList<Parameter>>? layerGroups = null, IEnumerable<Callback>? callbacks = null,
        ComputeDevice? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        if (layerGroups is { Count: 0 }) throw new ArgumentException("needs at least one layer group", nameof(layerGroups));
        Device = TorchRuntime.Resolve(device ?? ComputeDevice.Auto);
        var torchDevice = Device.ToTorch();
        LayerGroups = ParameterGroups.MoveTo(model, layerGroups ?? [model.parameters().ToArray()], torchDevice);
        data.To(torchDevice);
        if (Device.IsCuda) (LossReadInterval, ValidationBatchSize) = (DefaultGpuLossReadInterval, DefaultGpuValidationBatchSize);
        Model = model;
        Data = data;
        LossFunction = loss ?? CrossEntropy;
        _optimizerFactory = optimizer ?? OptimizerFactory.Sgd();
        Metrics = metrics?.ToArray() ?? [new Accuracy()];
        _frozen = new bool[LayerGroups.Count];
        _notWritten = new bool[LayerGroups.Count];
        _oneBatch = OneBatch;
        Recorder = new Recorder();
        _callbacks.Add(Recorder);
        if (callbacks is not null) foreach (var cb in callbacks) Add(cb);
    }

    private static Tensor CrossEntropy(Tensor output, Tensor target) => nn.functional.cross_entropy(output, target);

    /// <summary>The model.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }

    /// <summary>The device the learner trains on: <c>cpu</c> or <c>cuda:N</c>.</summary>
    public ComputeDevice Device { get; }

    /// <summary>
    /// Steps between two reads of the training losses (≥ 1). 1 (the CPU's default) reads every loss right after its
    /// forward pass, so <see cref="Callback.AfterLossRead"/> runs before the step; on a GPU the default
    /// (<see cref="DefaultGpuLossReadInterval"/>) lets the GPU run ahead of the host, and losses are read in chunks,
    /// also after ~0.5 s and at the end of each epoch's training. The numbers recorded are the same either way; what
    /// changes is when they are known: a NaN guard or a divergence rule then stops the fit up to this many steps late.
    /// </summary>
    public int LossReadInterval
    {
        get => _lossReadInterval;
        set => _lossReadInterval = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must be ≥ 1");
    }

    private int _lossReadInterval = 1;

    /// <summary>
    /// Samples per validation batch, or null for the validation loader's batch size (the CPU's default). On a GPU the
    /// default is <see cref="DefaultGpuValidationBatchSize"/> (at least the loader's): validation needs no gradients, and
    /// large batches keep the GPU busy. The loss and metrics do not depend on it beyond rounding.
    /// </summary>
    public int? ValidationBatchSize
    {
        get => _validationBatchSize;
        set => _validationBatchSize = value is null or >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must be ≥ 1");
    }

    private int? _validationBatchSize;

    /// <summary>
    /// Micro-batches per optimizer step (gradient accumulation; ≥ 1, default 1). The gradients of a group of this many
    /// consecutive training batches are summed, each batch's loss weighted by its share of the group's samples, so the
    /// step sees the mean loss over the effective batch — exactly what one batch of all the group's samples would give
    /// (up to rounding, and for models whose forward pass does not mix samples: BatchNorm's statistics see each
    /// micro-batch alone). The schedule counts optimizer steps, as Hugging Face's Trainer and accelerate do (fastai 0.7
    /// and v2 count batches): an epoch of B batches takes ⌈B / N⌉ steps (<see cref="StepsPerEpoch"/>), its last group
    /// possibly shorter, and <see cref="Iteration"/> counts steps. Gradient callbacks (<see cref="Callback.AfterBackward"/>)
    /// and the step events run once per group, after its last micro-batch.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 1.</exception>
    /// <exception cref="InvalidOperationException">Set while a fit runs.</exception>
    public int AccumulationSteps
    {
        get => _accumulationSteps;
        set
        {
            if (_fitting) throw new InvalidOperationException("cannot change AccumulationSteps while Fit is running");
            _accumulationSteps = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must be ≥ 1");
        }
    }

    private int _accumulationSteps = 1;

    /// <summary>Optimizer steps per epoch: ⌈training batches / <see cref="AccumulationSteps"/>⌉ (what a schedule's epoch is made of).</summary>
    public long StepsPerEpoch => (Data.Train.BatchCount + _accumulationSteps - 1) / _accumulationSteps;

    /// <summary>
    /// Whether no accumulated gradient is pending: the done batches of the epoch end a group of
    /// <see cref="AccumulationSteps"/> (always true without accumulation). A checkpoint taken elsewhere also keeps the
    /// gradients summed so far, so a resume mid-group is exact.
    /// </summary>
    public bool AtStepBoundary => BatchesDone % _accumulationSteps == 0 || BatchesDone == Data.Train.BatchCount;

    /// <summary>The data.</summary>
    public DataLoaders Data { get; }

    /// <summary>The loss function.</summary>
    public LossFunction LossFunction { get; }

    /// <summary>Validation metrics.</summary>
    public IReadOnlyList<Metric> Metrics { get; }

    /// <summary>Parameters per layer group; group g is the optimizer's parameter group g.</summary>
    public IReadOnlyList<IReadOnlyList<Parameter>> LayerGroups { get; }

    /// <summary>The built-in recorder (always present).</summary>
    public Recorder Recorder { get; }

    /// <summary>The callbacks, in the order they run.</summary>
    public IReadOnlyList<Callback> Callbacks => _callbacks;

    /// <summary>Receives progress after each training batch and epoch (use a synchronous implementation in a CLI).</summary>
    public IProgress<FitProgress>? Progress { get; set; }

    /// <summary>The optimizer (created on first use, one parameter group per layer group).</summary>
    public optim.Optimizer Optimizer => _optimizer ??= CreateOptimizer();

    /// <summary>
    /// Drops the optimizer and its state (momentum buffers, Adam's moments): the next step uses a new one (fastai's
    /// <c>opt.clear_state()</c>, which its <c>freeze_to</c> calls). <see cref="FreezeTo"/> itself keeps the state, so a
    /// checkpoint restored after it keeps its optimizer's.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called while Fit is running.</exception>
    public void ResetOptimizer()
    {
        if (_fitting) throw new InvalidOperationException("cannot reset the optimizer while Fit is running");
        _optimizer?.Dispose();
        (_optimizer, _writer) = (null, null);
    }

    /// <summary>Reads and writes the optimizer's per-group hyper-parameters.</summary>
    public HyperParamWriter HyperParams => _writer ??= new HyperParamWriter(Optimizer, _optimizerFactory.Groups(LayerGroups));

    /// <summary>The schedule of the current (or last) fit.</summary>
    public Schedule? Schedule => _schedule;

    /// <summary>Epochs of the current fit.</summary>
    public int Epochs { get; private set; }

    /// <summary>Current epoch (0-based).</summary>
    public int Epoch { get; private set; }

    /// <summary>Optimizer steps taken in the current fit (the schedule's step for the next optimizer step).</summary>
    public long Iteration { get; private set; }

    /// <summary>Index of the current batch in its epoch.</summary>
    public long Batch { get; private set; }

    /// <summary>Training batches of the current epoch that are done.</summary>
    public long BatchesDone { get; private set; }

    /// <summary>Where the current fit stands (what a checkpoint records to resume it).</summary>
    public TrainingPosition Position => new(Iteration, Epoch, BatchesDone, _epochEnded, _orderDrawn);

    /// <summary>
    /// The position the next (or current) fit starts from instead of step 0, or null. Set by
    /// <c>Checkpoint.Restore</c> together with the state that goes with it; cleared when that fit ends.
    /// </summary>
    public TrainingPosition? StartAt { get; private set; }

    /// <summary>Whether the current batch is a training batch.</summary>
    public bool Training { get; private set; }

    /// <summary>Inputs of the current batch, on <see cref="Device"/> (valid during batch events; a callback may replace it in <see cref="Callback.BeforeBatch"/>).</summary>
    public Tensor? X { get; set; }

    /// <summary>Targets of the current batch, on <see cref="Device"/> (valid during batch events; a callback may replace it in <see cref="Callback.BeforeBatch"/>).</summary>
    public Tensor? Y { get; set; }

    /// <summary>Model outputs of the current batch (valid after the forward pass).</summary>
    public Tensor? Output { get; private set; }

    /// <summary>Loss tensor of the current batch (valid from <see cref="Callback.AfterLoss"/>).</summary>
    public Tensor? LossTensor { get; private set; }

    /// <summary>
    /// The last loss read as a number: on the CPU the current batch's (from <see cref="Callback.AfterLoss"/>); on a GPU
    /// the batch's whose <see cref="Callback.AfterLossRead"/> is running, and otherwise the last one read.
    /// </summary>
    public double Loss { get; private set; } = double.NaN;

    /// <summary>Validation loss of the last validation pass.</summary>
    public double ValidLoss { get; internal set; } = double.NaN;

    /// <summary>Metric values of the last validation pass, in the order of <see cref="Metrics"/>.</summary>
    public IReadOnlyList<double> MetricValues { get; internal set; } = [];

    /// <summary>Why the current fit stopped early (set by whoever cancelled it with a reason).</summary>
    public string? StopReason { get; private set; }

    /// <summary>Adds a callback (kept sorted by <see cref="Callback.Order"/>, stable).</summary>
    public Learner Add(Callback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        int i = _callbacks.Count;
        while (i > 0 && _callbacks[i - 1].Order > callback.Order) i--;
        _callbacks.Insert(i, callback);
        return this;
    }

    /// <summary>Removes a callback.</summary>
    public bool Remove(Callback callback) => callback != Recorder && _callbacks.Remove(callback);

    /// <summary>The callbacks sorted by <see cref="Callback.Order"/>, stable (as <see cref="Add"/> keeps them).</summary>
    private static List<Callback> Ordered(IEnumerable<Callback> callbacks) => [.. callbacks.OrderBy(c => c.Order)];   // OrderBy is stable

    /// <summary>Cancels <paramref name="scope"/> from inside a callback (throws <see cref="CancelScopeException"/>).</summary>
    /// <param name="scope">What to cancel.</param>
    /// <param name="reason">Why (becomes <see cref="StopReason"/> when the fit is cancelled).</param>
    public void Cancel(Scope scope, string? reason = null)
    {
        if (scope == Scope.Fit && reason is not null) StopReason = reason;
        throw new CancelScopeException(scope, reason);
    }

    /// <summary>
    /// Makes the next fit start at <paramref name="position"/>; <paramref name="onStart"/> runs after the
    /// <see cref="Callback.BeforeFit"/> callbacks, before the first batch (it restores what they would reset).
    /// </summary>
    internal void ResumeAt(TrainingPosition position, Action? onStart)
    {
        if (_fitting) throw new InvalidOperationException("cannot resume while Fit is running");
        (StartAt, _onResume) = (position, onStart);
    }

    /// <summary>Freezes every layer group but the last (fastai <c>freeze</c>).</summary>
    public void Freeze() => FreezeTo(-1);

    /// <summary>
    /// Whether the normalization layers (BatchNorm, InstanceNorm, LayerNorm) of frozen groups keep training (fastai's
    /// <c>train_bn=True</c>, the default): <see cref="FreezeTo"/> leaves their parameters trainable. Takes effect at the next <see cref="FreezeTo"/>.
    /// </summary>
    public bool TrainBn { get; set; } = true;

    /// <summary>
    /// Freezes layer groups 0 … n − 1 and unfreezes the rest (fastai <c>freeze_to</c>; a negative n counts from the end).
    /// Frozen parameters get <c>requires_grad = false</c> and no gradient, so the optimizer skips them — except, with
    /// <see cref="TrainBn"/>, those of normalization layers, which go on training with their group's scheduled learning
    /// rate and momentum (fastai writes the schedule into every group). The schedule is not written into a frozen group
    /// with nothing left to train.
    /// </summary>
    public void FreezeTo(int n)
    {
        int count = LayerGroups.Count;
        int upTo = n >= 0 ? Math.Min(n, count) : Math.Max(0, count + n);
        var norm = TrainBn ? NormParameters() : [];
        for (int g = 0; g < count; g++)
        {
            bool frozen = g < upTo;
            _frozen[g] = frozen;
            bool trains = !frozen;
            foreach (var p in LayerGroups[g])
            {
                bool keep = !frozen || norm.Contains(p.Handle);
                trains |= keep;
                p.requires_grad = keep;
                if (!keep && p.grad is not null) p.grad = null!;
            }
            _notWritten[g] = !trains;
        }
    }

    /// <summary>Handles of the parameters of the model's normalization layers (fastai's <c>norm_types</c>).</summary>
    private HashSet<IntPtr> NormParameters() =>
    [
        .. Model.modules()
            .Where(m => m is BatchNorm1d or BatchNorm2d or BatchNorm3d or InstanceNorm1d or InstanceNorm2d or InstanceNorm3d or LayerNorm)
            .SelectMany(m => m.parameters())
            .Select(p => p.Handle),
    ];

    /// <summary>Unfreezes every layer group.</summary>
    public void Unfreeze() => FreezeTo(0);

    /// <summary>Whether layer group <paramref name="group"/> is frozen.</summary>
    public bool IsFrozen(int group) => _frozen[group];

    /// <summary>
    /// fastai 0.7 <c>learn.fit(lrs, n_cycle, cycle_len, cycle_mult, use_clr, use_clr_beta)</c>: builds the schedule with
    /// <see cref="FastAi07.Fit"/> (one lr, or one per layer group) and trains <see cref="FastAi07.Epochs"/> epochs.
    /// </summary>
    public FitResult Fit(IReadOnlyList<double> lr, int cycles = 1, int? cycleLen = null, int cycleMult = 1,
        UseClr? useClr = null, UseClrBeta? useClrBeta = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lr);
        var schedule = FastAi07.Fit(lr, StepsPerEpoch, cycles, cycleLen, cycleMult, useClr, useClrBeta);
        long epochs = FastAi07.Epochs(cycles, cycleLen, cycleMult);
        if (epochs > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(cycles), epochs, "too many epochs");
        return Fit(schedule, (int)epochs, cancellationToken);
    }

    /// <summary>fastai 0.7 <c>learn.fit</c> with one learning rate for every layer group.</summary>
    public FitResult Fit(double lr, int cycles = 1, int? cycleLen = null, int cycleMult = 1,
        UseClr? useClr = null, UseClrBeta? useClrBeta = null, CancellationToken cancellationToken = default) =>
        Fit([lr], cycles, cycleLen, cycleMult, useClr, useClrBeta, cancellationToken);

    /// <summary>
    /// fastai v2 <c>learn.fit_one_cycle(n_epoch, lr_max, div=25, div_final=1e5, pct_start=0.25, moms=(0.95, 0.85, 0.95))</c>
    /// (see <see cref="FastAi.FitOneCycle"/>): one lr for every layer group, or one per group.
    /// </summary>
    public FitResult FitOneCycle(int epochs, IReadOnlyList<double> lrMax, double div = 25, double divFinal = 1e5, double pctStart = 0.25,
        IReadOnlyList<double>? moms = null, CancellationToken cancellationToken = default) =>
        Fit(FastAi.FitOneCycle(lrMax, epochs, StepsPerEpoch, div, divFinal, pctStart, moms), epochs, cancellationToken);

    /// <summary>fastai v2 <c>learn.fit_flat_cos(n_epoch, lr, div_final=1e5, pct_start=0.75)</c> (see <see cref="FastAi.FitFlatCos"/>).</summary>
    public FitResult FitFlatCos(int epochs, IReadOnlyList<double> lr, double divFinal = 1e5, double pctStart = 0.75,
        CancellationToken cancellationToken = default) =>
        Fit(FastAi.FitFlatCos(lr, epochs, StepsPerEpoch, divFinal, pctStart), epochs, cancellationToken);

    /// <summary>
    /// fastai v2 <c>learn.fit_sgdr(n_cycles, cycle_len, lr_max, cycle_mult=2)</c> (see <see cref="FastAi.FitSgdr"/>):
    /// trains <c>cycle_len·(cycle_mult^n_cycles − 1)/(cycle_mult − 1)</c> epochs.
    /// </summary>
    public FitResult FitSgdr(int nCycles, int cycleLen, IReadOnlyList<double> lrMax, int cycleMult = 2, CancellationToken cancellationToken = default)
    {
        var schedule = FastAi.FitSgdr(lrMax, nCycles, cycleLen, StepsPerEpoch, cycleMult);
        return Fit(schedule, checked((int)(schedule.Length!.Value / StepsPerEpoch)), cancellationToken);
    }

    /// <summary>
    /// Trains <paramref name="epochs"/> epochs with any schedule: step t of the schedule is the t-th optimizer step of
    /// this fit (an epoch is <see cref="StepsPerEpoch"/> steps). The schedule has one group, applied to every layer
    /// group, or one group per layer group. A schedule without momentum leaves the optimizer's momentum / β1 alone. After <c>Checkpoint.Restore</c> (see
    /// <see cref="StartAt"/>) the fit continues from the checkpoint's position instead of step 0.
    /// </summary>
    /// <exception cref="ArgumentException">The schedule's groups or length do not match the learner and the epochs.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (after the callbacks' cancel and end events ran).</exception>
    public FitResult Fit(Schedule schedule, int epochs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "must be ≥ 1");
        if (_fitting) throw new InvalidOperationException("Fit is already running on this learner");
        long batches = Data.Train.BatchCount, steps = StepsPerEpoch;
        if (batches < 1) throw new ArgumentException("the training data has no batch (fewer samples than one batch with dropLast)");
        long total = checked(epochs * steps);
        if (schedule.Groups != 1 && schedule.Groups != LayerGroups.Count)
            throw new ArgumentException(
                $"the schedule has {schedule.Groups} learning rates but the model has {LayerGroups.Count} layer groups; give one lr, or one per layer group", nameof(schedule));
        if (schedule.Length is { } len && len != total)
            throw new ArgumentException(
                $"the schedule is {len} steps long but {epochs} epochs of {steps} {(steps == batches ? "batches" : "steps")} take {total} steps; build it for {steps} " +
                (steps == batches ? "batches per epoch" : $"steps per epoch ({batches} batches, {_accumulationSteps} per step)"), nameof(schedule));
        if (schedule.StepLimit is { } limit && limit < total - 1)
            throw new ArgumentException($"the schedule is defined up to step {limit} but the fit needs {total} steps: {schedule.StepLimitReason}", nameof(schedule));
        var start = StartAt;
        if (start is { } at && (at.Iteration < 0 || at.Iteration > total || at.Epoch < 0 || at.Epoch >= epochs || at.BatchesDone < 0 || at.BatchesDone > batches))
            throw new ArgumentException(
                $"cannot resume at iteration {at.Iteration} (epoch {at.Epoch + 1}, batch {at.BatchesDone}) a fit of {epochs} epochs of {batches} batches", nameof(epochs));
        return RunFit(schedule, epochs, start, cancellationToken);
    }

    private FitResult RunFit(Schedule schedule, int epochs, TrainingPosition? start, CancellationToken cancellationToken)
    {
        long batches = Data.Train.BatchCount;
        _schedule = schedule;
        _lr = new double[schedule.Groups];
        _mom = new double[schedule.Groups];
        Epochs = epochs;
        Epoch = 0;
        Iteration = start?.Iteration ?? 0;
        StopReason = null;
        ValidLoss = double.NaN;
        MetricValues = [];
        var writer = HyperParams;
        var clock = Stopwatch.StartNew();
        int firstEpoch = start is { } s0 ? s0.Epoch + (s0.EpochEnded ? 1 : 0) : 0;
        int epochsDone = firstEpoch;
        _fitting = true;
        _lastRead = Stopwatch.GetTimestamp();
        try
        {
            Run(Scope.Fit, static (c, l) => c.BeforeFit(l), static (c, l) => c.AfterCancelFit(l), static (c, l) => c.AfterFit(l), () =>
            {
                var onStart = _onResume;
                _onResume = null;
                onStart?.Invoke();
                for (Epoch = firstEpoch; Epoch < epochs; Epoch++)
                {
                    // A resumed epoch continues after its last done batch, with the data order its checkpoint restored.
                    bool resumed = start is { EpochEnded: false } s && s.Epoch == Epoch;
                    long from = resumed ? start!.Value.BatchesDone : 0;
                    (_epochEnded, _orderDrawn, BatchesDone) = (false, resumed && start!.Value.OrderDrawn, from);
                    Run(Scope.Epoch, static (c, l) => c.BeforeEpoch(l), static (c, l) => c.AfterCancelEpoch(l), static (c, l) => c.AfterEpoch(l), () =>
                    {
                        TrainEpoch(writer, batches, from, cancellationToken);
                        epochsDone++;
                        ValidateEpoch(cancellationToken);
                    }, () => _epochEnded = true);
                }
            });
        }
        finally
        {
            _fitting = false;
            if (start is not null)
            {
                StartAt = null;
                _onResume = null;
            }
            X = Y = Output = LossTensor = null;
            DropPendingLosses();
        }
        cancellationToken.ThrowIfCancellationRequested();
        var metrics = new Dictionary<string, double>();
        for (int i = 0; i < Metrics.Count && i < MetricValues.Count; i++) metrics[Metrics[i].Name] = MetricValues[i];
        return new FitResult(epochsDone, Iteration, Recorder.SmoothLoss, ValidLoss, metrics, clock.Elapsed.TotalSeconds, StopReason);
    }

    private void TrainEpoch(HyperParamWriter writer, long batches, long from, CancellationToken ct)
    {
        Model.train();
        Training = true;
        if (!_orderDrawn)
        {
            Data.Train.StartEpoch();
            _orderDrawn = true;
        }
        for (Batch = from; Batch < batches; Batch++)
        {
            if (ct.IsCancellationRequested) Cancel(Scope.Fit, "cancelled");
            using var scope = NewDisposeScope();
            (X, Y) = Data.Train.GetBatch(Batch);
            Run(Scope.Batch, static (c, l) => c.BeforeBatch(l), static (c, l) => c.AfterCancelBatch(l), static (c, l) => c.AfterBatch(l), _oneBatch);
            BatchesDone = Batch + 1;
            X = Y = Output = LossTensor = null;
            // On a GPU the display moves when the losses are read, not at every batch (its smoothed loss would be stale).
            if (_pending.Count == 0) Progress?.Report(new FitProgress(Epoch, Epochs, Batch + 1, batches, Iteration, Recorder.SmoothLoss, LastLr(writer), null));
        }
        ReadLosses();   // the epoch's figures (train loss, checkpoints) need them all
    }

    private long SamplesIn(long batch)
    {
        var train = Data.Train;
        return train.DropLast ? train.BatchSize : Math.Min(train.BatchSize, train.Dataset.Count - batch * train.BatchSize);
    }

    private static double LastLr(HyperParamWriter writer) => writer.GetLr(writer.Groups - 1);

    private void OneBatch()
    {
        var writer = HyperParams;
        Output = Model.forward(X!);
        LossTensor = LossFunction(Output, Y!);
        if (_lossReadInterval == 1) Read(LossTensor.item<float>(), new BatchLoss(Epoch, Batch, Iteration, 0));
        else _pending.Add(new PendingLoss(LossTensor.detach().DetachFromDisposeScope(), new BatchLoss(Epoch, Batch, Iteration, 0)));
        Each(static (c, l) => c.AfterLoss(l));
        // A group of AccumulationSteps batches makes one step; a resume mid-group starts with the checkpoint's gradients.
        long groupStart = Batch - Batch % _accumulationSteps, batches = Data.Train.BatchCount;
        long groupEnd = Math.Min(groupStart + _accumulationSteps, batches);
        if (Batch == groupStart) Optimizer.zero_grad();
        if (groupEnd - groupStart == 1) LossTensor.backward();
        else
        {
            // Each batch's mean loss weighted by its share of the group's samples: the mean over the effective batch.
            long samples = 0;
            for (long b = groupStart; b < groupEnd; b++) samples += SamplesIn(b);
            (LossTensor * ((double)SamplesIn(Batch) / samples)).backward();
        }
        if (Batch + 1 < groupEnd)
        {
            BatchesDone = Batch + 1;
            return;
        }
        Each(static (c, l) => c.AfterBackward(l));
        _schedule!.At(Iteration, _lr, _schedule.HasMomentum ? _mom : Span<double>.Empty);
        writer.Write(_lr, _schedule.HasMomentum ? _mom : ReadOnlySpan<double>.Empty, _notWritten);
        Each(static (c, l) => c.BeforeStep(l));
        Optimizer.step();
        Iteration++;
        BatchesDone = Batch + 1;
        Each(static (c, l) => c.AfterStep(l));
        // On a GPU also after ~0.5 s, so a display stays live with slow steps (on the CPU only the count decides:
        // tests that read in chunks there stay deterministic).
        if (_pending.Count >= _lossReadInterval
            || _pending.Count > 0 && Device.IsCuda && Stopwatch.GetElapsedTime(_lastRead).TotalSeconds >= LossReadSeconds) ReadLosses();
    }

    /// <summary>A training loss not read yet (on a GPU), with the batch it belongs to.</summary>
    private readonly record struct PendingLoss(Tensor Value, BatchLoss Batch);

    private void Read(double loss, BatchLoss batch)
    {
        Loss = loss;
        var reading = batch with { Loss = loss };
        for (int i = 0; i < _callbacks.Count; i++) _callbacks[i].AfterLossRead(this, reading);
    }

    /// <summary>
    /// Reads every pending training loss with one copy from the device (the only wait for the GPU in training) and runs
    /// <see cref="Callback.AfterLossRead"/> for each, in batch order. A no-op when nothing is pending (always on the CPU).
    /// </summary>
    internal void ReadLosses()
    {
        if (_pending.Count == 0) return;
        var pending = _pending.ToArray();
        _pending.Clear();
        _lastRead = Stopwatch.GetTimestamp();
        float[] values;
        try
        {
            using var scope = NewDisposeScope();
            values = stack(pending.Select(p => p.Value)).to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        }
        finally
        {
            foreach (var p in pending) p.Value.Dispose();
        }
        for (int i = 0; i < pending.Length; i++) Read(values[i], pending[i].Batch);
    }

    /// <summary>Reads the pending losses while a scope is being cancelled anyway: a callback's own cancellation is moot then.</summary>
    private void ReadLossesCancelling()
    {
        try { ReadLosses(); }
        catch (CancelScopeException) { }
    }

    private void DropPendingLosses()
    {
        foreach (var p in _pending) p.Value.Dispose();
        _pending.Clear();
    }

    /// <summary>
    /// Computes the validation loss and metrics (also usable outside a fit), in batches of
    /// <see cref="ValidationBatchSize"/>. The loss and the metrics accumulate on the device and are read once at the end.
    /// </summary>
    public (double Loss, IReadOnlyList<double> Metrics) Validate(CancellationToken cancellationToken = default)
    {
        Model.eval();
        Training = false;
        foreach (var m in Metrics) m.Reset();
        var valid = Data.Valid;
        valid.StartEpoch();
        long size = Math.Max(valid.BatchSize, ValidationBatchSize ?? 0), count = valid.DropLast ? valid.BatchCount * valid.BatchSize : valid.Dataset.Count;
        double loss = double.NaN;
        using (no_grad())
        using (var keep = NewDisposeScope())
        {
            // Σ loss·n in float64 on the device: float32 → float64 and the products are exact, so this is the same sum
            // a host loop of loss.item()·n would make, in the same order.
            var sum = zeros(1, ScalarType.Float64, device: Device.ToTorch());
            for (long start = 0; start < count; start += size)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var (x, y) = valid.GetRange(start, Math.Min(start + size, count));
                var output = Model.forward(x);
                sum.add_(LossFunction(output, y).detach().to_type(ScalarType.Float64).mul_(y.shape[0]));
                foreach (var m in Metrics) m.Accumulate(output, y);
            }
            if (count > 0) loss = sum.item<double>() / count;
        }
        Model.train();
        return (loss, Metrics.Select(m => m.Value).ToArray());
    }

    private void ValidateEpoch(CancellationToken ct)
    {
        Each(static (c, l) => c.BeforeValidate(l));
        if (ct.IsCancellationRequested) Cancel(Scope.Fit, "cancelled");
        try
        {
            (ValidLoss, MetricValues) = Validate(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Cancel(Scope.Fit, "cancelled");
        }
        Each(static (c, l) => c.AfterValidate(l));
    }

    private void Run(Scope scope, Action<Callback, Learner> before, Action<Callback, Learner> afterCancel, Action<Callback, Learner> after, Action body,
        Action? beforeAfter = null)
    {
        try
        {
            Each(before);
            body();
        }
        catch (CancelScopeException e) when (e.Scope == scope)
        {
            if (scope != Scope.Batch) ReadLossesCancelling();   // the losses of the batches that did run are recorded
            Each(afterCancel);
        }
        beforeAfter?.Invoke();
        Each(after);
    }

    private void Each(Action<Callback, Learner> action)
    {
        // Static lambdas and an index loop: an event allocates neither a closure nor an enumerator.
        for (int i = 0; i < _callbacks.Count; i++) action(_callbacks[i], this);
    }

    /// <summary>
    /// Trains <paramref name="epochs"/> epochs of <paramref name="schedule"/> for an LR range test: only the callbacks
    /// that run during one (<see cref="Callback.RunsDuringLrFind"/>) and <paramref name="finder"/>, no progress reports,
    /// no resume, no gradient accumulation (the test probes one batch per lr); afterwards the learner's counters,
    /// results, callbacks and pending resume are what they were (the model and optimizer are the caller's to restore).
    /// </summary>
    internal void RunRangeTest(Schedule schedule, int epochs, Callback finder, CancellationToken cancellationToken)
    {
        if (_fitting) throw new InvalidOperationException("Fit is already running on this learner");
        var saved = (_callbacks, Progress, StartAt, _onResume, _schedule, _lr, _mom, Epochs, Epoch, Iteration, Batch, BatchesDone, _epochEnded, _orderDrawn,
            Training, Loss, ValidLoss, MetricValues, StopReason, _accumulationSteps);
        _callbacks = Ordered(_callbacks.Where(c => c.RunsDuringLrFind).Append(finder));
        Progress = null;
        (StartAt, _onResume, _accumulationSteps) = (null, null, 1);
        try
        {
            RunFit(schedule, epochs, null, cancellationToken);
        }
        finally
        {
            (_callbacks, Progress, StartAt, _onResume, _schedule, _lr, _mom, Epochs, Epoch, Iteration, Batch, BatchesDone, _epochEnded, _orderDrawn,
                Training, Loss, ValidLoss, MetricValues, StopReason, _accumulationSteps) = saved;
        }
    }

    private optim.Optimizer CreateOptimizer()
    {
        var opt = _optimizerFactory.Create(LayerGroups);
        int expected = _optimizerFactory.Groups(LayerGroups).Count;   // one per layer group, more with lr multipliers
        if (opt.ParamGroups.Count() != expected)
            throw new InvalidOperationException($"the optimizer factory made {opt.ParamGroups.Count()} parameter groups for {LayerGroups.Count} layer groups (expected {expected})");
        return opt;
    }

    /// <summary>Saves the model's weights (TorchSharp format).</summary>
    public void Save(string path) => Model.save(path);

    /// <summary>Disposes the optimizer (the model and data belong to the caller).</summary>
    public void Dispose()
    {
        DropPendingLosses();
        _optimizer?.Dispose();
    }

    internal static string Format(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
