namespace Cadence.Schedules;

public static partial class PolicyCatalog
{
    private static PolicyOption Warmup => Int("warmup-steps", null, "Linear warm-up steps from 0 (num_warmup_steps)", true);
    private static PolicyOption Total(bool required = true) => Int("total-steps", null, "Training steps (num_training_steps)", required);

    private static IEnumerable<PolicySpec> TransformerPolicies() =>
    [
        new("warmup-constant", "transformers get_constant_schedule_with_warmup", "Linear warm-up, then constant",
            [Lr, Warmup], a => Transformers.WarmupConstant(a.Numbers("lr"), a.Integer("warmup-steps"))),
        new("warmup-linear", "transformers get_linear_schedule_with_warmup", "Linear warm-up, then linear decay to 0 at total_steps",
            [Lr, Warmup, Total()], a => Transformers.WarmupLinear(a.Numbers("lr"), a.Integer("warmup-steps"), a.Integer("total-steps"))),
        new("warmup-cosine", "transformers get_cosine_schedule_with_warmup", "Linear warm-up, then cosine (to min_lr_ratio·lr)",
            [Lr, Warmup, Total(), Num("num-cycles", "0.5", "Cosine periods over the decay (0.5 = half wave)"),
             Num("min-lr-ratio", "0", "Floor as a fraction of lr (get_cosine_with_min_lr_schedule_with_warmup)")],
            a => Transformers.WarmupCosine(a.Numbers("lr"), a.Integer("warmup-steps"), a.Integer("total-steps"), a.Number("num-cycles"), a.Number("min-lr-ratio"))),
        new("warmup-cosine-restarts", "transformers get_cosine_with_hard_restarts_schedule_with_warmup", "Linear warm-up, then num_cycles hard-restarted cosines",
            [Lr, Warmup, Total(), Num("num-cycles", "1", "Number of cosine cycles")],
            a => Transformers.WarmupCosineRestarts(a.Numbers("lr"), a.Integer("warmup-steps"), a.Integer("total-steps"), a.Number("num-cycles"))),
        new("warmup-polynomial", "transformers get_polynomial_decay_schedule_with_warmup", "Linear warm-up, then polynomial decay to lr_end",
            [Lr, Warmup, Total(), Num("lr-end", "1e-7", "Final lr"), Num("power", "1.0", "Power of the decay")],
            a => Transformers.WarmupPolynomial(a.Numbers("lr"), a.Integer("warmup-steps"), a.Integer("total-steps"), a.Number("lr-end"), a.Number("power"))),
        new("inverse-sqrt", "transformers get_inverse_sqrt_schedule", "Linear warm-up, then lr·sqrt(timescale/(t − W + timescale))",
            [Lr, Warmup, Int("timescale", null, "Decay timescale (default: warmup_steps, or 10000 when 0)")],
            a => Transformers.InverseSqrt(a.Numbers("lr"), a.Integer("warmup-steps"), a.IntegerOrNull("timescale"))),
        new("wsd", "transformers get_wsd_schedule", "Warm-up, stable, decay (MiniCPM)",
            [Lr, Warmup, Int("decay-steps", null, "Decay steps (num_decay_steps)", true), Total(required: false),
             Int("stable-steps", null, "Stable steps (default: total − warmup − decay)"),
             Pick("warmup-type", "Shape of the warm-up", "linear", "cosine", "1-sqrt"),
             Pick("decay-type", "Shape of the decay", "cosine", "linear", "1-sqrt"),
             Num("min-lr-ratio", "0", "Floor as a fraction of lr"), Num("num-cycles", "0.5", "Cosine decay periods")],
            a => Transformers.Wsd(a.Numbers("lr"), a.Integer("warmup-steps"), a.Integer("decay-steps"), a.IntegerOrNull("total-steps"),
                a.IntegerOrNull("stable-steps"), a.Choice("warmup-type"), a.Choice("decay-type"), a.Number("min-lr-ratio"), a.Number("num-cycles"))),
    ];
}
