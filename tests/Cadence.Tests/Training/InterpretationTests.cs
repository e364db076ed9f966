using Cadence.Data;
using Cadence.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Cadence.Tests.Training;

public sealed class InterpretationTests
{
    [Fact]
    public void Confusion_matrix_top_losses_and_most_confused_pairs_from_outputs()
    {
        // Targets and logits for 3 classes: sample 3 is the worst (a 'c' predicted 'a' with p = e^4/(e^4+2)).
        using var logits = tensor(new float[]
        {
            3, 0, 0,    // a → a
            0, 2, 0,    // b → b
            2, 0, 0,    // b → a
            4, 0, 0,    // c → a
            0, 0, 1,    // c → c
            0, 1, 0,    // c → b
        }, [6, 3]);
        using var targets = tensor(new long[] { 0, 1, 1, 2, 2, 2 });
        var interp = ClassificationInterpretation.FromOutputs(logits, targets, ["a", "b", "c"]);
        Assert.Equal(new long[,] { { 1, 0, 0 }, { 1, 1, 0 }, { 1, 1, 1 } }, interp.ConfusionMatrix);
        Assert.Equal([0, 1, 0, 0, 2, 1], interp.Predicted);
        Assert.Equal(3 / 6.0, interp.ErrorRate, 12);
        double e4 = Math.Exp(4);
        Assert.Equal(-Math.Log(1 / (e4 + 2)), interp.Losses[3], 6);

        var top = interp.TopLosses(2);
        Assert.Equal(3, top[0].Index);
        Assert.Equal(("a", "c"), (top[0].Predicted, top[0].Actual));
        Assert.Equal(e4 / (e4 + 2), top[0].Probability, 6);
        Assert.Equal(1 / (e4 + 2), top[0].ActualProbability, 6);
        Assert.Equal(2, top[1].Index);                                  // b → a with logit 2: −log(1/(e²+2)) beats c → b's −log(1/(e+2))

        Assert.Equal([new ConfusedPair("b", "a", 1), new ConfusedPair("c", "a", 1), new ConfusedPair("c", "b", 1)], interp.MostConfused());
        Assert.Empty(interp.MostConfused(minCount: 2));
    }

    [Fact]
    public void From_a_learner_it_covers_the_validation_set_in_order_and_matches_its_metrics()
    {
        using var learn = Synth.Learner(callbacks: []);
        learn.FitOneCycle(1, [0.01]);
        var interp = ClassificationInterpretation.FromLearner(learn);
        Assert.Equal(learn.Data.Valid.Dataset.Count, interp.Actual.Count);
        Assert.Equal(learn.Data.Valid.Dataset.Labels.data<long>().ToArray().Select(v => (int)v), interp.Actual);
        Assert.Equal(1 - learn.MetricValues[0], interp.ErrorRate, 12);
        var error = new ErrorRate();
        Assert.Equal("error_rate", error.Name);
        error.Reset();
        using var output = tensor(new float[] { 1, 0, 0, 1, 1, 0 }, [3, 2]);
        error.Accumulate(output, tensor(new long[] { 0, 0, 0 }));
        Assert.Equal(1 / 3.0, error.Value, 12);
    }
}
