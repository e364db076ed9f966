using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Tests.Interop;

/// <summary>A tiny float64 regression network with one parameter group per layer, for hand-written loops.</summary>
internal sealed class Toy : IDisposable
{
    private readonly Tensor _x, _y;

    public Toy(int layers = 3, long seed = 0)
    {
        TorchRuntime.Configure(seed: seed, threads: 1);
        var linears = Enumerable.Range(0, layers).Select(i => nn.Linear(i == 0 ? 6 : 5, i == layers - 1 ? 1 : 5, dtype: float64)).ToArray();
        var modules = new List<nn.Module<Tensor, Tensor>>();
        foreach (var l in linears) { modules.Add(l); modules.Add(nn.Tanh()); }
        modules.RemoveAt(modules.Count - 1);
        Model = nn.Sequential(modules);
        Groups = linears.Select(l => l.parameters().ToArray()).ToArray();
        var g = new Generator((ulong)seed + 7);
        _x = randn([16, 6], dtype: float64, generator: g).DetachFromDisposeScope();
        _y = randn([16, 1], dtype: float64, generator: g).DetachFromDisposeScope();
    }

    public nn.Module<Tensor, Tensor> Model { get; }

    public Parameter[][] Groups { get; }

    public IEnumerable<Parameter> Parameters => Groups.SelectMany(p => p);

    public optim.Optimizer Sgd(double momentum = 0.9) =>
        optim.SGD(Groups.Select(ps => new SGD.ParamGroup(ps, new SGD.Options
        {
            LearningRate = 0.1,
            momentum = momentum,
            dampening = 0,
            weight_decay = 0,
            nesterov = false,
            maximize = false,
        })), 0.1, momentum);

    public optim.Optimizer AdamW() =>
        optim.AdamW(Groups.Select(ps => new AdamW.ParamGroup(ps, new AdamW.Options
        {
            LearningRate = 0.1,
            beta1 = 0.9,
            beta2 = 0.99,
            eps = 1e-8,
            weight_decay = 0.01,
            amsgrad = false,
            maximize = false,
        })), 0.1);

    /// <summary>Zeroes the gradients and back-propagates the MSE loss of the whole (tiny) data set.</summary>
    public void Backward(optim.Optimizer optimizer)
    {
        optimizer.zero_grad();
        using var scope = NewDisposeScope();
        nn.functional.mse_loss(Model.forward(_x), _y).backward();
    }

    public void Dispose()
    {
        _x.Dispose();
        _y.Dispose();
        Model.Dispose();
    }
}
