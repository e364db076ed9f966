using Cadence.Schedules;
using Xunit;

namespace Cadence.Schedules.Tests;

public class TransformersValidationTests
{
    private static readonly double[] Lr01 = [0.1];

    private static ScheduleValidationException Fails(Func<Schedule> build, string param)
    {
        var e = Assert.Throws<ScheduleValidationException>(() => build());
        Assert.Equal(param, e.ParamName);
        return e;
    }

    public static TheoryData<string, Func<Schedule>> Cases => new()
    {
        { "lr", () => Transformers.WarmupConstant([0.0], 3) },
        { "lr", () => Transformers.WarmupLinear([double.NaN], 3, 10) },
        { "lr", () => Transformers.InverseSqrt([], 3) },
        { "warmup_steps", () => Transformers.WarmupConstant(Lr01, -1) },
        { "warmup_steps", () => Transformers.WarmupLinear(Lr01, -1, 10) },
        { "total_steps", () => Transformers.WarmupLinear(Lr01, 3, 0) },
        { "total_steps", () => Transformers.WarmupCosine(Lr01, 3, -5) },
        { "num_cycles", () => Transformers.WarmupCosine(Lr01, 3, 10, numCycles: 0) },
        { "num_cycles", () => Transformers.WarmupCosine(Lr01, 3, 10, numCycles: double.PositiveInfinity) },
        { "num_cycles", () => Transformers.WarmupCosineRestarts(Lr01, 3, 10, numCycles: -1) },
        { "min_lr_ratio", () => Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: 1.5) },
        { "min_lr_ratio", () => Transformers.WarmupCosine(Lr01, 3, 10, minLrRatio: -0.1) },
        { "lr_end", () => Transformers.WarmupPolynomial(Lr01, 2, 10, lrEnd: 0.1) },
        { "lr_end", () => Transformers.WarmupPolynomial(Lr01, 2, 10, lrEnd: 0.5) },
        { "lr_end", () => Transformers.WarmupPolynomial(Lr01, 2, 10, lrEnd: -1e-3) },
        { "lr_end", () => Transformers.WarmupPolynomial([0.01, 0.5], 2, 10, lrEnd: 0.1) }, // lr_init is the first group's
        { "power", () => Transformers.WarmupPolynomial(Lr01, 2, 10, power: -1) },
        { "warmup_steps", () => Transformers.WarmupPolynomial(Lr01, 4, 4) },
        { "timescale", () => Transformers.InverseSqrt(Lr01, 0, timescale: 0) },
        { "timescale", () => Transformers.InverseSqrt(Lr01, 3, timescale: -2) },
        { "total_steps", () => Transformers.Wsd(Lr01, 2, 3) },
        { "decay_steps", () => Transformers.Wsd(Lr01, 2, -1, totalSteps: 10) },
        { "stable_steps", () => Transformers.Wsd(Lr01, 2, 3, stableSteps: -1) },
        { "warmup_type", () => Transformers.Wsd(Lr01, 2, 3, 10, null, "sqrt", "cosine") },
        { "decay_type", () => Transformers.Wsd(Lr01, 2, 3, 10, null, "linear", "exp") },
        { "min_lr_ratio", () => Transformers.Wsd(Lr01, 2, 3, totalSteps: 10, minLrRatio: 2) },
        { "num_cycles", () => Transformers.Wsd(Lr01, 2, 3, totalSteps: 10, numCycles: 0) },
        { "warmup_type", () => Transformers.Wsd(Lr01, 2, 3, totalSteps: 10, warmupType: (WsdShape)7) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Invalid_parameters_are_named(string param, Func<Schedule> build) => Fails(build, param);

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        var e = Fails(() => Transformers.Wsd([-1.0], -1, -1, null, null, "sqrt", "exp", minLrRatio: 2, numCycles: 0), "warmup_type");
        Assert.Equal(["warmup_type", "decay_type", "lr", "warmup_steps", "decay_steps", "min_lr_ratio", "num_cycles", "total_steps"],
            e.Errors.Select(x => x.Parameter));
        Assert.Contains("linear, cosine, 1-sqrt", e.Errors[0].Message);
        Assert.Contains("'sqrt'", e.Errors[0].Message);
    }

    [Fact]
    public void Shape_parser_names_the_parameter_and_the_allowed_values()
    {
        var e = Assert.Throws<ScheduleValidationException>(() => Transformers.ParseWsdShape("Linear", "decay_type"));
        Assert.Equal("decay_type", e.ParamName);
        Assert.Equal("decay_type: must be one of linear, cosine, 1-sqrt, got 'Linear'", e.Summary);
        Assert.Equal(WsdShape.Cosine, Transformers.ParseWsdShape("cosine", "warmup_type"));
    }

    [Fact]
    public void Polynomial_W_equal_N_says_why()
    {
        var e = Fails(() => Transformers.WarmupPolynomial(Lr01, 4, 4), "warmup_steps");
        Assert.Contains("divides by zero", e.Summary);
        // W > N and W < N are fine.
        Transformers.WarmupPolynomial(Lr01, 5, 3);
        Transformers.WarmupPolynomial(Lr01, 3, 5);
    }

    [Fact]
    public void Accepted_edges()
    {
        Transformers.WarmupCosine(Lr01, 0, 1, minLrRatio: 1);           // r = 1 is a flat lr after the warm-up
        Transformers.WarmupPolynomial(Lr01, 0, 1, lrEnd: 0, power: 0);
        Transformers.Wsd(Lr01, 0, 0, stableSteps: 0);                     // lr·r from step 0
        Transformers.Wsd(Lr01, 5, 2, totalSteps: 4);                      // negative derived S
        Transformers.InverseSqrt(Lr01, 0);                                // τ = 10000
    }
}
