using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// An exact in-memory copy of what a trial run changes: every tensor of the model's state dict (weights and buffers
/// such as batch-norm statistics), every parameter's gradient, the model's train/eval mode and the optimizer's
/// state (momentum buffers, Adam moments and step counts, and each group's options: lr, momentum, β, weight decay).
/// <see cref="Restore"/> puts it all back bit for bit.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>optimizer.state_dict()</c> returns the live state objects, and
/// <c>load_state_dict(StateDictionary)</c> adopts the given tensors instead of copying them: a "saved" state dict is
/// changed in place by every later step (SGD's <c>buf.mul_(momentum)</c>, Adam's <c>exp_avg.mul_(β1)</c>). The
/// optimizer's binary form (<c>save_state_dict(BinaryWriter)</c>) does copy the values, and loading it writes them
/// back into the existing tensors (or drops a momentum buffer that did not exist yet), so that is what is kept.
/// </remarks>
internal sealed class TrainingSnapshot : IDisposable
{
    private readonly nn.Module _model;
    private readonly bool _training;
    private readonly List<(Tensor Live, Tensor Copy)> _state = [];
    private readonly List<(Parameter Parameter, Tensor? Grad)> _grads = [];
    private readonly OptimizerHelper _optimizer;
    private readonly byte[] _optimizerState;

    private TrainingSnapshot(nn.Module model, IEnumerable<Parameter> parameters, OptimizerHelper optimizer)
    {
        _model = model;
        _training = model.training;
        _optimizer = optimizer;
        using (no_grad())
        {
            foreach (var (_, tensor) in model.state_dict())
                _state.Add((tensor, tensor.detach().clone().DetachFromDisposeScope()));
            foreach (var p in parameters)
            {
                var grad = p.grad;
                _grads.Add((p, grad?.detach().clone().DetachFromDisposeScope()));
            }
        }
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        _optimizerState = stream.ToArray();
    }

    /// <summary>Copies the state of <paramref name="model"/>, the gradients of <paramref name="parameters"/> and <paramref name="optimizer"/>'s state.</summary>
    /// <exception cref="NotSupportedException">The optimizer is implemented natively and its state cannot be copied.</exception>
    public static TrainingSnapshot Take(nn.Module model, IEnumerable<Parameter> parameters, optim.Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(parameters);
        if (optimizer is not OptimizerHelper helper)
            throw new NotSupportedException($"the optimizer {optimizer.GetType().Name} keeps its state in native code, which cannot be saved and restored");
        return new TrainingSnapshot(model, parameters, helper);
    }

    /// <summary>Writes everything back, bit for bit.</summary>
    public void Restore()
    {
        using (no_grad())
        {
            foreach (var (live, copy) in _state) live.copy_(copy);
            foreach (var (p, grad) in _grads)
            {
                if (grad is null) { if (p.grad is not null) p.grad = null!; }
                else if (p.grad is { } current && current.shape.SequenceEqual(grad.shape)) current.copy_(grad);
                else p.grad = grad.clone().DetachFromDisposeScope();
            }
        }
        using (var stream = new MemoryStream(_optimizerState, writable: false))
        using (var reader = new BinaryReader(stream)) _optimizer.load_state_dict(reader);
        KeepOptimizerState();
        if (_training) _model.train(); else _model.eval();
    }

    /// <summary>
    /// Loading can allocate state tensors (a missing momentum buffer, for one), and an allocation joins the innermost
    /// dispose scope — the caller's, which would free the optimizer's state under it: without this the restore test
    /// read SGD's momentum buffers as "empty handle" after the sweep. The optimizer owns its state, so every tensor
    /// field of every state object leaves the scopes.
    /// </summary>
    private void KeepOptimizerState()
    {
        foreach (var state in _optimizer.state_dict().State)
            foreach (var field in state.GetType().GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
                if (field.FieldType == typeof(Tensor) && field.GetValue(state) is Tensor t) t.DetachFromDisposeScope();
    }

    /// <summary>Frees the copies.</summary>
    public void Dispose()
    {
        foreach (var (_, copy) in _state) copy.Dispose();
        foreach (var (_, grad) in _grads) grad?.Dispose();
        _state.Clear();
        _grads.Clear();
    }
}
