namespace Cadence.Training;

/// <summary>
/// Where a fit stands, exactly enough to resume it: a checkpoint records it and <see cref="Learner.StartAt"/> continues
/// from it. Schedules are pure functions of the step, so <see cref="Iteration"/> alone puts the schedule back.
/// </summary>
/// <param name="Iteration">Optimizer steps done in the fit (the schedule's step for the next optimizer step).</param>
/// <param name="Epoch">Current epoch (0-based).</param>
/// <param name="BatchesDone">Training batches of <paramref name="Epoch"/> that are done.</param>
/// <param name="EpochEnded">Whether <paramref name="Epoch"/> has ended (validated, its <see cref="Callback.AfterEpoch"/> running or run); a resume then starts the next epoch.</param>
/// <param name="OrderDrawn">Whether the training data order of <paramref name="Epoch"/> has been drawn (a resume then keeps it rather than drawing a new one).</param>
public readonly record struct TrainingPosition(long Iteration, int Epoch, long BatchesDone, bool EpochEnded, bool OrderDrawn);
