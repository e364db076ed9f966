using System.Text.Json;
using Cadence.Checkpoints;
using Cadence.Data;
using static TorchSharp.torch;

namespace Cadence.Training;

/// <summary>
/// Replaces every training batch's inputs with their augmentation (<see cref="BatchAugmenter"/>) in
/// <see cref="Callback.BeforeBatch"/>, on the batch's own device; validation batches are left alone (fastai applies
/// its batch transforms to the training set only). Its generator's state goes into checkpoints, so a resumed fit
/// draws exactly what the uninterrupted one would have.
/// </summary>
public sealed class AugmentationCallback : Callback, ICheckpointState
{
    /// <summary>Creates the callback.</summary>
    public AugmentationCallback(BatchAugmenter augmenter)
    {
        ArgumentNullException.ThrowIfNull(augmenter);
        Augmenter = augmenter;
    }

    /// <summary>The augmenter (owned by the caller).</summary>
    public BatchAugmenter Augmenter { get; }

    /// <summary>Runs before every other callback's <see cref="Callback.BeforeBatch"/>, so they see the augmented batch.</summary>
    public override int Order => -20;

    /// <inheritdoc />
    public string CheckpointKey => "augmentation";

    /// <inheritdoc />
    public string SaveCheckpointState() => JsonSerializer.Serialize(new { generator = Convert.ToBase64String(Augmenter.GetState()) });

    /// <inheritdoc />
    public void LoadCheckpointState(string json)
    {
        using var doc = JsonDocument.Parse(json);
        Augmenter.SetState(Convert.FromBase64String(doc.RootElement.GetProperty("generator").GetString()!));
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The learner's loop did not hand this event the batch (it must, to be augmented).</exception>
    public override void BeforeBatch(Learner learner)
    {
        ArgumentNullException.ThrowIfNull(learner);
        if (!learner.Training) return;
        var x = learner.X ?? throw new InvalidOperationException(
            "the learner's loop calls BeforeBatch before it has the batch (Learner.X is null), so the batch cannot be augmented");
        learner.X = Augmenter.Apply(x);
    }
}
