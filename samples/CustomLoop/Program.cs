// A hand-written TorchSharp training loop that takes its learning rate and momentum from a Cadence schedule
// (PyTorch's OneCycleLR, reproduced exactly) through CadenceScheduler — the drop-in for
// torch.optim.lr_scheduler.OneCycleLR. Two parameter groups with different peaks, SGD with momentum.
// Exit code 0 when the model learned (loss falls below a bound) and the optimizer used the schedule's values.
using Cadence.Interop;
using Cadence.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

torch.manual_seed(0);
torch.set_num_threads(1);
const int Steps = 200;
var generator = new Generator(1);
var x = randn(512, 8, generator: generator);
var w = randn(8, 1, generator: generator);
var y = x.matmul(w) + 0.01 * randn(512, 1, generator: generator);

var body = nn.Linear(8, 16);
var head = nn.Linear(16, 1);
var model = nn.Sequential(body, nn.ReLU(), head);
var optimizer = optim.SGD(
    [new SGD.ParamGroup(body.parameters(), new SGD.Options { LearningRate = 0.01, momentum = 0.9 }),
     new SGD.ParamGroup(head.parameters(), new SGD.Options { LearningRate = 0.01, momentum = 0.9 })],
    0.01, 0.9);
var schedule = Torch.OneCycle(maxLr: [0.01, 0.05], totalSteps: Steps);
var scheduler = new CadenceScheduler(optimizer, schedule);

double first = double.NaN, last = double.NaN;
var expected = new double[2];
var momentum = new double[2];
for (int step = 0; step < Steps; step++)
{
    using var scope = NewDisposeScope();
    schedule.At(step, expected, momentum);
    var used = optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
    if (used[0] != expected[0] || used[1] != expected[1])
    {
        Console.Error.WriteLine($"step {step}: the optimizer has lr {used[0]}, {used[1]}; the schedule says {expected[0]}, {expected[1]}");
        return 1;
    }
    var batch = tensor(Enumerable.Range(0, 64).Select(i => (long)((step * 64 + i) % 512)).ToArray());
    var loss = nn.functional.mse_loss(model.forward(x.index_select(0, batch)), y.index_select(0, batch));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step < Steps - 1) scheduler.step();
    double value = loss.item<float>();
    if (step == 0) first = value;
    last = value;
}
Console.WriteLine($"CustomLoop: {Steps} steps of {schedule.Reference}; loss {first:F4} -> {last:F4}; lr now {string.Join(", ", scheduler.get_last_lr())}");
return last < first / 10 ? 0 : 1;
