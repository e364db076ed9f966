#!/usr/bin/env python3
"""Markdown tables of docs/fast-training.md from bench/results/fast/runs.jsonl: the recipe's accuracy per seed
(labels ab-full-sS) and the ablation (labels ab-<removed>-sS), mean ± std over the seeds present."""
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = [("full", "the recipe", ""), ("no-whitening", "no whitening layer", "--whitening none"),
        ("no-dirac", "no dirac init", "--dirac false"), ("no-bn-bias-lr", "BatchNorm biases at 1× lr", "--bn-bias-lr 1"),
        ("no-label-smoothing", "no label smoothing", "--label-smoothing 0"), ("no-nesterov", "plain momentum", "--nesterov false")]


def main():
    runs = {}
    for line in open(os.path.join(HERE, "runs.jsonl")):
        r = json.loads(line)
        runs[r["label"]] = r   # a later line with the same label replaces an earlier one
    full = [runs.get(f"ab-full-s{s}") for s in range(3)]
    print("| seed | epoch 1 | epoch 2 (final) |\n|---|---|---|")
    for s, r in enumerate(full):
        print(f"| {s} | " + (f"{r['accuracy'][0]:.2%} | {r['accuracy'][-1]:.2%} |" if r else "pending | pending |"))
    finals = [r["accuracy"][-1] for r in full if r]
    if finals:
        print(f"\nMedian {statistics.median(finals):.2%}, lowest {min(finals):.2%} ({len(finals)} seeds).\n")
    print("| removed | option | seeds | final accuracy per seed (0, 1, 2) | mean ± std | epoch 1, mean | epochs to 91% | time |\n|---|---|---|---|---|---|---|---|")
    for key, what, option in ROWS:
        rs = [runs.get(f"ab-{key}-s{s}") for s in range(3)]
        acc = [r["accuracy"][-1] for r in rs if r]
        per_seed = ", ".join(f"{r['accuracy'][-1]:.2%}" if r else "pending" for r in rs)
        mean = f"{statistics.mean(acc):.2%} ± {statistics.stdev(acc):.2%}" if len(acc) > 1 else (f"{acc[0]:.2%}" if acc else "pending")
        first = f"{statistics.mean(r['accuracy'][0] for r in rs if r):.2%}" if acc else "pending"
        to91 = ", ".join(str(r["epochs_to_91"]) if r else "pending" for r in rs)
        print(f"| {what} | {'`' + option + '`' if option else '–'} | {len(acc)} | {per_seed} | {mean} | {first} | {to91} | to be measured |")


if __name__ == "__main__":
    main()
