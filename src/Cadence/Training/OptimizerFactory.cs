using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// Creates the optimizer for a <see cref="Learner"/>: one TorchSharp parameter group per layer group, in order.
/// The learning rate and momentum given here are only initial values; a schedule overwrites them before every step.
/// </summary>
public abstract record OptimizerFactory
{
    /// <summary>Weight decay: L2 added to the gradient for SGD and Adam, decoupled for AdamW.</summary>
    public double WeightDecay { get; init; }

    /// <summary>
    /// Learning-rate multipliers for kinds of parameters (e.g. BatchNorm biases × 64, as airbench does), applied on top
    /// of the schedule in every layer group. Empty by default: one optimizer group per layer group.
    /// </summary>
    public IReadOnlyList<LrMultiplier> LrMultipliers { get; init; } = [];

    /// <summary>
    /// The optimizer's parameter groups for these layer groups: per layer group, its parameters without a multiplier,
    /// then one group per <see cref="LrMultipliers"/> entry that holds some of its parameters (see <see cref="OptimizerGroup"/>).
    /// </summary>
    public IReadOnlyList<OptimizerGroup> Groups(IReadOnlyList<IReadOnlyList<Parameter>> layerGroups) =>
        OptimizerGroup.Split(layerGroups, LrMultipliers);

    /// <summary>Creates the optimizer with one parameter group per entry of <see cref="Groups"/> (one per layer group without multipliers).</summary>
    public abstract optim.Optimizer Create(IReadOnlyList<IReadOnlyList<Parameter>> layerGroups);

    /// <summary>SGD with momentum 0.9 (fastai 0.7's default optimizer).</summary>
    public static SgdFactory Sgd(double momentum = 0.9, bool nesterov = false, double weightDecay = 0) =>
        new() { Momentum = momentum, Nesterov = nesterov, WeightDecay = weightDecay };

    /// <summary>AdamW (decoupled weight decay) with fastai's defaults β = (0.9, 0.99), ε = 1e-5, wd = 0.01.</summary>
    public static AdamFactory AdamW(double beta1 = 0.9, double beta2 = 0.99, double eps = 1e-5, double weightDecay = 0.01) =>
        new() { Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, Decoupled = true };

    /// <summary>Adam (weight decay as L2 on the gradient).</summary>
    public static AdamFactory Adam(double beta1 = 0.9, double beta2 = 0.99, double eps = 1e-5, double weightDecay = 0) =>
        new() { Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, Decoupled = false };
}

/// <summary>SGD (PyTorch <c>torch.optim.SGD</c>): momentum, Nesterov, L2 weight decay.</summary>
public sealed record SgdFactory : OptimizerFactory
{
    /// <summary>Initial momentum (a schedule with momentum overwrites it at every step).</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; init; }

    /// <inheritdoc />
    public override optim.Optimizer Create(IReadOnlyList<IReadOnlyList<Parameter>> layerGroups)
    {
        ArgumentNullException.ThrowIfNull(layerGroups);
        var groups = Groups(layerGroups).Select(g => new SGD.ParamGroup(g.Parameters, new SGD.Options
        {
            LearningRate = 1e-3,
            momentum = Momentum,
            dampening = 0,
            weight_decay = WeightDecay,
            nesterov = Nesterov,
            maximize = false,
        })).ToArray();
        return optim.SGD(groups, 1e-3, Momentum, 0, WeightDecay, Nesterov);
    }
}

/// <summary>Adam or AdamW (PyTorch <c>torch.optim.Adam</c> / <c>AdamW</c>); a schedule's momentum is written to β1.</summary>
public sealed record AdamFactory : OptimizerFactory
{
    /// <summary>Initial β1 (a schedule with momentum overwrites it at every step).</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>β2.</summary>
    public double Beta2 { get; init; } = 0.99;

    /// <summary>ε.</summary>
    public double Eps { get; init; } = 1e-5;

    /// <summary>Decoupled weight decay (AdamW) rather than L2 (Adam).</summary>
    public bool Decoupled { get; init; } = true;

    /// <inheritdoc />
    public override optim.Optimizer Create(IReadOnlyList<IReadOnlyList<Parameter>> layerGroups)
    {
        ArgumentNullException.ThrowIfNull(layerGroups);
        // Each group starts from the same options; the schedule writes its lr and β1 before every step.
        if (Decoupled)
        {
            var adamW = Groups(layerGroups).Select(g => new AdamW.ParamGroup(g.Parameters, lr: 1e-3, beta1: Beta1, beta2: Beta2, eps: Eps,
                weight_decay: WeightDecay, amsgrad: false, maximize: false)).ToArray();
            return optim.AdamW(adamW, 1e-3, Beta1, Beta2, Eps, WeightDecay);
        }
        var adam = Groups(layerGroups).Select(g => new Adam.ParamGroup(g.Parameters, lr: 1e-3, beta1: Beta1, beta2: Beta2, eps: Eps,
            weight_decay: WeightDecay, amsgrad: false, maximize: false)).ToArray();
        return optim.Adam(adam, 1e-3, Beta1, Beta2, Eps, WeightDecay);
    }
}
