#!/usr/bin/env python3
"""The table of bench/gpu.sh from its JSON lines: medians per contender and batch size."""
import json
import statistics
import sys

ORDER = ["cadence-learner", "cadence-learner-deterministic", "raw-typical", "raw-resident", "pytorch-typical", "pytorch-resident"]
NAMES = {
    "cadence-learner": "Cadence Learner",
    "cadence-learner-deterministic": "Cadence Learner, TorchRuntime.Deterministic",
    "raw-typical": "raw TorchSharp, batches copied each step, loss read every step",
    "raw-resident": "raw TorchSharp, data on the GPU, no per-step sync",
    "pytorch-typical": "PyTorch, DataLoader (pinned) + .to(device), loss.item() every step",
    "pytorch-resident": "PyTorch, data on the GPU, no per-step sync",
}


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(path):
    runs = [json.loads(line) for line in open(path) if line.startswith("{")]
    if not runs:
        print("no runs")
        return 1
    target = runs[0].get("target", 0.91)
    print(f"| loop | batch | runs | s/epoch (median) | time to {target:.0%} (median) | test accuracy per epoch (median) |")
    print("|---|---|---|---|---|---|")
    for bs in sorted({r["bs"] for r in runs}):
        for name in ORDER:
            rs = [r for r in runs if r["contender"] == name and r["bs"] == bs]
            if not rs:
                continue
            epochs = max(len(r["accuracy"]) for r in rs)
            acc = " / ".join(f"{med([r['accuracy'][e] for r in rs if e < len(r['accuracy'])]):.4f}" for e in range(epochs))
            reached = [r["time_to_target"] for r in rs]
            t = med(reached)
            missed = sum(v is None for v in reached)
            when = "not reached" if t is None else f"{t:.2f} s" + (f" ({missed} of {len(rs)} missed)" if missed else "")
            print(f"| {NAMES[name]} | {bs} | {len(rs)} | {med([r['seconds_per_epoch'] for r in rs]):.3f} | {when} | {acc} |")
    learner = {bs: med([r["seconds_per_epoch"] for r in runs if r["contender"] == "cadence-learner" and r["bs"] == bs]) for bs in {r["bs"] for r in runs}}
    raw = {bs: med([r["seconds_per_epoch"] for r in runs if r["contender"] == "raw-resident" and r["bs"] == bs]) for bs in learner}
    for bs in sorted(learner):
        if learner[bs] and raw[bs]:
            print(f"\nbatch {bs}: Learner / raw resident loop = {learner[bs] / raw[bs]:.3f} (target ≤ 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
