using Cadence.Training;
using Xunit;

namespace Cadence.Tests.Training;

public class CallbackTests
{
    private sealed class Log(Func<Learner, string, bool>? cancel = null, Scope scope = Scope.Batch) : Callback
    {
        public List<string> Events { get; } = [];
        private void E(Learner l, string name)
        {
            Events.Add(name);
            if (cancel?.Invoke(l, name) == true) l.Cancel(scope);
        }
        public override void BeforeFit(Learner l) => E(l, "BeforeFit");
        public override void BeforeEpoch(Learner l) => E(l, "BeforeEpoch");
        public override void BeforeBatch(Learner l) => E(l, "BeforeBatch");
        public override void AfterLoss(Learner l) => E(l, "AfterLoss");
        public override void AfterBackward(Learner l) => E(l, "AfterBackward");
        public override void BeforeStep(Learner l) => E(l, "BeforeStep");
        public override void AfterStep(Learner l) => E(l, "AfterStep");
        public override void AfterCancelBatch(Learner l) => E(l, "AfterCancelBatch");
        public override void AfterBatch(Learner l) => E(l, "AfterBatch");
        public override void BeforeValidate(Learner l) => E(l, "BeforeValidate");
        public override void AfterValidate(Learner l) => E(l, "AfterValidate");
        public override void AfterCancelEpoch(Learner l) => E(l, "AfterCancelEpoch");
        public override void AfterEpoch(Learner l) => E(l, "AfterEpoch");
        public override void AfterCancelFit(Learner l) => E(l, "AfterCancelFit");
        public override void AfterFit(Learner l) => E(l, "AfterFit");
    }

    private static Learner Small(Callback cb) => Synth.Learner(batchSize: 128, callbacks: [cb]);   // 2 batches per epoch

    private static readonly string[] Batch = ["BeforeBatch", "AfterLoss", "AfterBackward", "BeforeStep", "AfterStep", "AfterBatch"];

    [Fact]
    public void Events_fire_in_order()
    {
        var log = new Log();
        using var learn = Small(log);
        learn.Fit(0.01, cycles: 2);
        string[] epoch = ["BeforeEpoch", .. Batch, .. Batch, "BeforeValidate", "AfterValidate", "AfterEpoch"];
        Assert.Equal(["BeforeFit", .. epoch, .. epoch, "AfterFit"], log.Events);
    }

    [Fact]
    public void Callbacks_run_by_order_with_the_recorder_at_50()
    {
        var a = new Log();
        using var learn = Small(a);
        Assert.Equal([a, learn.Recorder], learn.Callbacks);
    }

    [Fact]
    public void Cancelling_a_batch_skips_its_step()
    {
        var log = new Log((l, e) => e == "AfterBackward" && l.Batch == 0, Scope.Batch);
        using var learn = Small(log);
        var result = learn.Fit(0.01);
        Assert.Equal(1, result.Iterations);
        Assert.Equal(["BeforeFit", "BeforeEpoch", "BeforeBatch", "AfterLoss", "AfterBackward", "AfterCancelBatch", "AfterBatch",
            .. Batch, "BeforeValidate", "AfterValidate", "AfterEpoch", "AfterFit"], log.Events);
    }

    [Fact]
    public void Cancelling_an_epoch_skips_the_rest_of_it_and_its_validation()
    {
        var log = new Log((l, e) => e == "AfterStep" && l.Epoch == 0, Scope.Epoch);
        using var learn = Small(log);
        var result = learn.Fit(0.01, cycles: 2);
        Assert.Equal(3, result.Iterations);
        Assert.Equal(["BeforeFit", "BeforeEpoch", "BeforeBatch", "AfterLoss", "AfterBackward", "BeforeStep", "AfterStep",
            "AfterCancelEpoch", "AfterEpoch",
            "BeforeEpoch", .. Batch, .. Batch, "BeforeValidate", "AfterValidate", "AfterEpoch", "AfterFit"], log.Events);
    }

    [Fact]
    public void Cancelling_the_fit_stops_training_and_still_ends_it()
    {
        var log = new Log((l, e) => e == "AfterBatch" && l.Iteration == 3, Scope.Fit);
        using var learn = Small(log);
        var result = learn.Fit(0.01, cycles: 4);
        Assert.Equal(3, result.Iterations);
        Assert.Equal(["AfterBatch", "AfterCancelFit", "AfterFit"], log.Events.TakeLast(3));
        Assert.DoesNotContain("AfterEpoch", log.Events.SkipWhile(e => e != "AfterCancelFit"));
    }

    [Fact]
    public void Cancellation_token_stops_the_fit_and_throws_after_the_end_events()
    {
        using var cts = new CancellationTokenSource();
        var log = new Log((l, e) => { if (e == "AfterStep" && l.Iteration == 2) cts.Cancel(); return false; });
        using var learn = Small(log);
        Assert.Throws<OperationCanceledException>(() => learn.Fit(0.01, cycles: 3, cancellationToken: cts.Token));
        Assert.Equal(2, learn.Iteration);
        Assert.Equal(["AfterCancelFit", "AfterFit"], log.Events.TakeLast(2));
    }
}
