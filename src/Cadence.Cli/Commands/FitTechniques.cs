using Cadence.Cli.Training;
using Cadence.Data;
using Cadence.Training;

namespace Cadence.Cli.Commands;

/// <summary>
/// <c>cadence fit</c>'s recipe and training-technique options (issue 17). <c>--recipe NAME</c> trains one of
/// <see cref="Recipes"/>: its model, batch size, epochs and techniques, and its schedule as PyTorch's one-cycle with the
/// recipe's settings; every option given on the command line overrides the recipe's. Without <c>--recipe</c>, a
/// technique option turns the run into a custom recipe on the built-in model, with the schedule of <c>--schedule</c>.
/// </summary>
internal sealed partial class FitSettings
{
    [CommandOption("--recipe <NAME>"), OneOf("A complete set-up (model, batch size, schedule, epochs and techniques, printed in the header; see docs/fast-training.md); options given override its settings", "fast")]
    public string? Recipe { get; set; }

    [CommandOption("--label-smoothing <EPS>"), Number(0, 1, "Label smoothing of the cross-entropy (0: none)", MaxOpen = true)]
    public double? LabelSmoothing { get; set; }

    [CommandOption("--nesterov <BOOL>"), OneOf("Nesterov momentum (sgd)", "true", "false")]
    public string? Nesterov { get; set; }

    [CommandOption("--bn-bias-lr <X>"), Number(0, 1000, "Factor on the learning rate of BatchNorm biases (1: none; airbench uses 64)", MinOpen = true)]
    public double? BnBiasLr { get; set; }

    [CommandOption("--ema <DECAY>"), Number(0, 1, "Exponential moving average of the weights with this decay, used for validation, checkpoints and the saved model (0: none)", MaxOpen = true)]
    public double? Ema { get; set; }

    [CommandOption("--tta <LIST>"), OneOf("Test-time augmentation at validation: average the predictions over mirrored (flip) and ±1 px shifted (shift) copies", "flip", "shift", List = true)]
    public string? Tta { get; set; }

    [CommandOption("--whitening <MODE>"), OneOf("The fast recipe's model: its first layer's patch-whitening filters, frozen or trainable, or none", "frozen", "trainable", "none")]
    public string? Whitening { get; set; }

    [CommandOption("--dirac <BOOL>"), OneOf("The fast recipe's model: dirac (identity) initialisation of its convolutions", "true", "false")]
    public string? Dirac { get; set; }

    /// <summary>Whether --bs was typed (its default, 64, is the plain fit's; a recipe has its own).</summary>
    public bool BatchSizeGiven { get; set; }

    /// <summary>Shift of <c>--tta shift</c>, in pixels.</summary>
    private const int TtaShiftPixels = 1;

    private bool AnyTechnique => LabelSmoothing is not null || Nesterov is not null || BnBiasLr is not null || Ema is not null
        || Tta is not null || Whitening is not null || Dirac is not null;

    /// <summary>--recipe's recipe (null without one, or when the name is invalid: the rule reports it).</summary>
    private TrainingRecipe? NamedRecipe => Recipe is not null && Recipes.Names.Contains(Recipe) ? Recipes.Get(Recipe) : null;

    /// <summary>The epochs to train: --epochs, else the recipe's (null: the schedule's own length).</summary>
    public int? EpochsToTrain => Epochs is { } e ? (int)e : NamedRecipe?.Epochs;

    /// <summary>
    /// The one-cycle options of --recipe's schedule (its triangular shape is one-cycle with linear phases), or null
    /// without a recipe or with an explicit --schedule. Options given on the command line are laid over them.
    /// </summary>
    private Dictionary<string, string>? RecipeSchedule()
    {
        if (NamedRecipe is not { } r || Schedule is not null || FineTune is not null) return null;
        return new Dictionary<string, string>
        {
            ["max-lr"] = NumberFormat.Exact(r.Lr),
            ["pct-start"] = NumberFormat.Exact(r.PctStart),
            ["anneal-strategy"] = r.Schedule == "triangular" ? "linear" : "cos",
            ["cycle-momentum"] = r.CycleMomentum ? "true" : "false",
            ["div-factor"] = NumberFormat.Exact(r.StartDiv),
            ["final-div-factor"] = NumberFormat.Exact(r.FinalDiv),
        };
    }

    /// <summary>
    /// The recipe this run trains with: --recipe's with the options given laid over it; without --recipe and with a
    /// technique option, the built-in model with those techniques; null for a plain fit (the learner of
    /// <see cref="TrainingRun"/>, unchanged).
    /// </summary>
    public TrainingRecipe? RecipeFor(InMemoryDataset train)
    {
        var r = NamedRecipe;
        if (r is null && !AnyTechnique) return null;
        r ??= new TrainingRecipe { Name = "custom", Model = ModelName(train), BatchSize = (int)BatchSize, Momentum = 0.9, WeightDecay = Wd ?? 0 };
        var net = r.FastNet;
        if (Whitening is not null) net = net with { WhiteningPatch = Whitening == "none" ? null : net.WhiteningPatch ?? 2, WhiteningTrainable = Whitening == "trainable" };
        if (Dirac is not null) net = net with { Dirac = Dirac == "true" };
        bool Has(string? list, string word) => list is not null && list.Split(',').Contains(word);
        if (RecipeSchedule() is not null)
        {
            // The header states the schedule that trains: the recipe's with the policy options given laid over it.
            var o = Policy.Options;
            double Number(string key, double fallback) =>
                double.TryParse(o.GetValueOrDefault(key), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) ? x : fallback;
            r = r with
            {
                Lr = Number("max-lr", r.Lr),
                PctStart = Number("pct-start", r.PctStart),
                StartDiv = Number("div-factor", r.StartDiv),
                FinalDiv = Number("final-div-factor", r.FinalDiv),
                Schedule = o.GetValueOrDefault("anneal-strategy") == "linear" ? "triangular" : "one-cycle",
                CycleMomentum = o.GetValueOrDefault("cycle-momentum") == "true",
            };
        }
        return r with
        {
            Model = Model ?? r.Model,
            FastNet = net,
            BatchSize = BatchSizeGiven ? (int)BatchSize : r.BatchSize,
            Epochs = EpochsToTrain ?? r.Epochs,
            WeightDecay = Wd ?? r.WeightDecay,
            LabelSmoothing = LabelSmoothing ?? r.LabelSmoothing,
            Nesterov = Nesterov is null ? r.Nesterov : Nesterov == "true",
            BatchNormBiasLr = BnBiasLr ?? r.BatchNormBiasLr,
            AveragingDecay = Ema is null ? r.AveragingDecay : Ema > 0 ? Ema : null,
            TtaFlip = Tta is null ? r.TtaFlip : Has(Tta, "flip"),
            TtaShift = Tta is null ? r.TtaShift : Has(Tta, "shift") ? TtaShiftPixels : 0,
        };
    }

    /// <summary>
    /// The header lines of <paramref name="recipe"/>'s settings: its model line and schedule line only where they are
    /// what trains (a custom recipe's model and schedule are the plain fit's; --schedule replaces the recipe's).
    /// </summary>
    public IEnumerable<string> Header(TrainingRecipe recipe)
    {
        var lines = recipe.Describe();   // model, schedule, techniques
        if (NamedRecipe is not null) yield return lines[0];
        if (RecipeSchedule() is not null) yield return lines[1];
        yield return lines[2];
    }

    /// <summary>The combinations of the recipe and technique options that cannot work.</summary>
    private void CheckTechniques(Check check)
    {
        bool fastnet = NamedRecipe?.Model == "fastnet" && Model is null;
        foreach (var (given, name) in new[] { (Whitening is not null, "--whitening"), (Dirac is not null, "--dirac") })
            if (given && !fastnet) check.Fail(name, "only for the fast recipe's model (--recipe fast without --model)");
        if (Recipe is not null || AnyTechnique)
        {
            if (Opt == "adamw") check.Fail("--opt", "the recipes and the technique options train with SGD (drop --opt adamw)");
            foreach (var (given, name) in new[] { (AugPreset is not null, "--aug"), (Weights is not null, "--weights"), (FineTune is not null, "--fine-tune") })
                if (given) check.Fail(name, "not with --recipe or the technique options (they build their own model and training)");
        }
        if (Source.Kind == "csv")
        {
            if (Recipe is not null && Model is null) check.Fail("--recipe", "its model is for images; with --data csv give --model mlp");
            if (Tta is not null) check.Fail("--tta", "needs image data (not --data csv)");
        }
    }
}
