#!/usr/bin/python3
"""PyTorch's side of the schedule-overhead benchmark: the cost of one OneCycleLR.step() with 1 and 10
param groups (Debian python3-torch 1.13.1). Median of 7 repetitions of 20,000 steps each."""
import statistics, time, torch
torch.set_num_threads(1)
for groups in (1, 10):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    opt = torch.optim.SGD([{"params": [p], "lr": 0.01 * (i + 1)} for i, p in enumerate(params)], lr=0.01, momentum=0.9)
    per_step = []
    for _ in range(7):
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.01 * (i + 1) for i in range(groups)], total_steps=20001)
        t0 = time.perf_counter()
        for _ in range(20000):
            sched.step()
        per_step.append((time.perf_counter() - t0) / 20000)
    print(f"pytorch OneCycleLR.step() groups={groups}: median {statistics.median(per_step) * 1e6:.2f} us")
