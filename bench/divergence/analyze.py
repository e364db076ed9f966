#!/usr/bin/env python3
"""DivergenceGuard evidence (docs/checkpoints.md): reads the history.json of every run folder under DIR (written by
bench/divergence/runs.sh) and prints a markdown table: the largest ratio of the smoothed loss to its best so far
(best from the first step), the largest ratio held for 10 consecutive steps, where the guard's rule (F = 4, K = 10,
above the first loss too) and fastai's LR-finder rule (4x, one step) would stop, and the exit code without the guard
(1: NanGuard stopped a NaN loss; the recorded history ends before it).
usage: analyze.py DIR [F] [K]"""
import json, math, os, sys

def ratios(steps):
    best, out = math.inf, []
    for s in steps:
        sm = s["smooth_loss"]
        if sm is None or not math.isfinite(sm):
            out.append(math.inf)
            continue
        out.append(sm / best if math.isfinite(best) else 1.0)
        best = min(best, sm)
    return out

def held(r, k):
    """The largest x such that the ratio stays above x for k consecutive steps."""
    return max((min(r[i - k + 1:i + 1]) for i in range(k - 1, len(r))), default=float("nan"))

def guard(steps, f, k):
    """The DivergenceGuard rule exactly: (step that stops, first step of the streak), or None."""
    best, first, streak, since = math.inf, None, 0, None
    for s in steps:
        sm, loss = s["smooth_loss"], s["loss"]
        if sm is None or loss is None or not (math.isfinite(sm) and math.isfinite(loss)):
            return s["step"], s["step"]
        first = sm if first is None else first
        if sm > f * best and sm > first:
            streak += 1
            since = s["step"] if streak == 1 else since
            if streak >= k:
                return s["step"], since
        else:
            streak = 0
        best = min(best, sm)
    return None

def main():
    root = sys.argv[1]
    f = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    print(f"| run | steps | first → last smoothed loss | exit today | max ratio | held {k} steps | guard F={f:g}, K={k}: stops at (streak from) | 4x, 1 step |")
    print("|---|---|---|---|---|---|---|---|")
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "history.json")
        if not os.path.exists(path):
            continue
        steps = json.load(open(path))["steps"]
        r = ratios(steps)
        finite = [x for x in r if math.isfinite(x)]
        code = open(os.path.join(root, name, "exit")).read().strip() if os.path.exists(os.path.join(root, name, "exit")) else "?"
        g = guard(steps, f, k)
        one = next((i for i, x in enumerate(r) if x > 4), None)
        last = steps[-1]["smooth_loss"]
        print(f"| {name} | {len(steps)} | {steps[0]['smooth_loss']:.3g} → {last if last is None else format(last, '.3g')} | {code} | "
              f"{max(finite):.3g} | {'—' if math.isnan(held(r, k)) else format(held(r, k), '.3g')} | {'—' if g is None else f'{g[0]} ({g[1]})'} | {'—' if one is None else one} |")

main()
