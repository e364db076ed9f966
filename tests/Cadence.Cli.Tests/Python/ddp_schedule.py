"""Two-process PyTorch DDP (gloo, CPU) driven by a Cadence schedule export; used by DistributedExportTests.

usage: ddp_schedule.py SNIPPET.py SCHEDULE.json STEPS OUT.json [accelerate]
Each rank builds the scheduler with the docs' `cadence_schedule` helper (the snippet file, copied from
docs/interop.md), trains a DDP-wrapped linear model on its own data and records, per optimizer step, the lr and
momentum its optimizer used. With "accelerate", the scheduler is stepped the way Hugging Face accelerate's
AcceleratedScheduler steps it by default (split_batches=False): num_processes calls per optimizer step. accelerate
itself is not installed here; its loop is reproduced in `step_scheduler` below.
"""
import json
import os
import sys
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run(rank, world, snippet, schedule_path, steps, store, accelerate, out):
    exec(open(snippet).read(), globals())
    dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
    opt = torch.optim.SGD([{"params": [model.module.weight]}, {"params": [model.module.bias]}], lr=0.5, momentum=0.5)
    scheduler, set_momentum = cadence_schedule(opt, schedule_path)  # noqa: F821 (defined by the snippet)
    g = torch.Generator().manual_seed(100 + rank)  # each rank sees its own data, as DistributedSampler gives it
    seen = []
    for t in range(steps):
        if set_momentum:
            set_momentum(t)
        x, y = torch.randn(8, 4, generator=g), torch.randn(8, 2, generator=g)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        seen.append({"lr": [pg["lr"] for pg in opt.param_groups], "momentum": [pg["momentum"] for pg in opt.param_groups]})
        opt.step()
        for _ in range(world if accelerate else 1):
            scheduler.step()
    # The ranks' weights must agree (DDP averaged every gradient), or the test learnt nothing about DDP.
    weights = [model.module.weight.detach().clone()]
    gathered = [torch.zeros_like(weights[0]) for _ in range(world)]
    dist.all_gather(gathered, weights[0])
    agree = all(torch.equal(gathered[0], w) for w in gathered)
    with open(f"{out}.{rank}", "w") as f:
        json.dump({"rank": rank, "seen": seen, "weights_agree": agree}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    snippet, schedule_path, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    accelerate = len(sys.argv) > 5 and sys.argv[5] == "accelerate"
    world = 2
    store = os.path.join(tempfile.mkdtemp(prefix="cadence-ddp-"), "store")
    mp.spawn(run, args=(world, snippet, schedule_path, steps, store, accelerate, out), nprocs=world, join=True)
    ranks = []
    for r in range(world):
        with open(f"{out}.{r}") as f:
            ranks.append(json.load(f))
    with open(out, "w") as f:
        json.dump(ranks, f)
