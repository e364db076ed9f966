#!/usr/bin/python3
"""Writes fast_techniques.json: PyTorch's values for the fast-training techniques the C# tests compare against.

- label_smoothing: F.cross_entropy(logits, target, label_smoothing=eps) and its gradient w.r.t. the logits;
- sgd_nesterov: torch.optim.SGD(nesterov=True, weight_decay=wd) stepped with given gradients, the lr and momentum
  changed before every step (as a schedule does), the parameter after each step.

Run with Debian's python3-torch: /usr/bin/python3 tests/Cadence.Tests/Fixtures/make_fast_fixtures.py (deterministic).
"""
import json
import os

import torch

torch.manual_seed(0)
out = {"torch": torch.__version__}

logits = (torch.randn(6, 5) * 2).float()
target = torch.tensor([0, 4, 2, 2, 1, 3])
cases = []
for eps in [0.0, 0.1, 0.2, 0.5]:
    x = logits.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(x, target, label_smoothing=eps)
    loss.backward()
    cases.append({"eps": eps, "loss": loss.item(), "grad": x.grad.flatten().tolist()})
out["label_smoothing"] = {"logits": logits.flatten().tolist(), "shape": list(logits.shape), "target": target.tolist(), "cases": cases}

p = torch.nn.Parameter(torch.randn(7))
start = p.detach().clone()
opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
steps = []
grads = torch.randn(5, 7)
for t in range(5):
    lr, mom = 0.05 + 0.02 * t, 0.95 - 0.03 * t
    opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"] = lr, mom
    p.grad = grads[t].clone()
    opt.step()
    steps.append({"lr": lr, "momentum": mom, "grad": grads[t].tolist(), "param": p.detach().tolist()})
out["sgd_nesterov"] = {"weight_decay": 0.01, "start": start.tolist(), "steps": steps}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fast_techniques.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {path}")
