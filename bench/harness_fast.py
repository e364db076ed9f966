"""Stages of bench/harness.py for issue 17 (imported by it; Python standard library only).

anchor: the raw TorchSharp loop and the Learner alternating epochs in one process (RawLoop --interleave): same data
      tensors, identical model copies, wall and CPU time per epoch; the check behind "Learner vs raw loop".
mkl:  the MKL-on-AMD override (TorchRuntime.Mkl.cs) on and off, the Learner's throughput on both models, interleaved
      (rotating which goes first), with the numeric check (same seed: losses and accuracy of the two runs) and a
      binding check (LD_DEBUG=bindings: libtorch_cpu.so's mkl_serv_intel_cpu_true resolves to the override library).
fast: time to 91% test accuracy on Fashion-MNIST: the `fast` recipe, the demo (`cadence fit --model cnn --lr 0.1
      --cycle-len 3 --use-clr 32,5`) and the PyTorch peer's 1cycle CNN, in turn for every seed; total wall time of each
      command (start-up, data, training, evaluation) and the seconds to the end of the first epoch at >= 91%.
"""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RID = "bin/Release/net10.0/linux-x64"
FASTSEARCH = os.path.join(ROOT, "bench/FastSearch", RID, "FastSearch")
TARGET = 0.91
SEED_FLOOR = 0.907

MODES = {
    "quick": dict(anchor=dict(rounds=2, train_images={"mlp": 5120, "cnn": 1280}),
                  mkl=dict(reps=1, warmup=2, train_images={"mlp": 2560, "cnn": 1280}, eval_images=1000),
                  fast=dict(seeds=[0], subset=0.05, demo_epochs=1, peer_epochs=1, recipe_epochs=1)),
    "default": dict(anchor=dict(rounds=6, train_images={"mlp": 60000, "cnn": 5120}),
                    mkl=dict(reps=5, warmup=10, train_images={"mlp": 60000, "cnn": 10240}, eval_images=10000),
                    fast=dict(seeds=[0, 1, 2], subset=None, demo_epochs=3, peer_epochs=3, recipe_epochs=None)),
    "full": dict(anchor=dict(rounds=6, train_images={"mlp": 60000, "cnn": 20480}),
                 mkl=dict(reps=5, warmup=10, train_images={"mlp": 60000, "cnn": 60000}, eval_images=10000),
                 fast=dict(seeds=[0, 1, 2], subset=None, demo_epochs=3, peer_epochs=4, recipe_epochs=None)),
}


def timed(cmd, env=None, timeout=None):
    """Runs a command; returns (its last JSON stdout line or {'error'}, wall seconds)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s: {' '.join(cmd)}"}, time.time() - start
    wall = time.time() - start
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["(no output)"])[-3:]
        return {"error": f"exit {p.returncode}: {' '.join(cmd)}: {' | '.join(tail)}"}, wall
    return json.loads(lines[-1]), wall


# ---- anchor ----

def anchor(mode, rawloop, log):
    cfg = MODES[mode]["anchor"]
    out = {"config": cfg}
    for model in ("mlp", "cnn"):
        r, _ = timed([rawloop, "--model", model, "--threads", "2", "--bs", "256", "--interleave", str(cfg["rounds"]),
                       "--train-images", str(cfg["train_images"][model]), "--warmup-batches", "10"], timeout=4 * 3600)
        out[model] = r
        if "error" in r:
            log(f"  anchor {model}: {r['error']}")
        else:
            log(f"  anchor {model}: raw {r['raw_images_per_second']:.0f} img/s, Learner {r['learner_images_per_second']:.0f} img/s, "
                f"CPU time Learner/raw {r['learner_over_raw_cpu']:.3f}")
    return out


def anchor_checks(a):
    out = []
    for model in ("mlp", "cnn"):
        r = a.get(model)
        if r and "error" not in r:
            slow = 100 * (r["raw_images_per_second"] / r["learner_images_per_second"] - 1)
            out.append((f"{model.upper()}: Learner slower than the raw loop, same process (wall)", f"{slow:+.1f}%", "<= 3%", slow <= 3))
            out.append((f"{model.upper()}: Learner / raw loop, same process (CPU time)", f"{r['learner_over_raw_cpu']:.3f}", "<= 1.03",
                        r["learner_over_raw_cpu"] <= 1.03))
    return out


# ---- mkl ----

def mkl(mode, trainbench, log):
    cfg = MODES[mode]["mkl"]
    runs = []
    settings = ["off", "on"]
    for rep in range(cfg["reps"]):
        for model in ("mlp", "cnn"):
            order = settings[rep % 2:] + settings[:rep % 2]
            for setting in order:
                args = [trainbench, "learner", "--model", model, "--threads", "2", "--bs", "256", "--seed", str(rep),
                        "--train-images", str(cfg["train_images"][model]), "--eval-images", str(cfg["eval_images"]),
                        "--warmup-batches", str(cfg["warmup"])]
                r, wall = timed(args, {"CADENCE_MKL_AMD": "1" if setting == "on" else "0"}, timeout=3600)
                r.update(rep=rep, model=model, setting=setting, wall_seconds=round(wall, 2))
                runs.append(r)
                if "error" in r:
                    log(f"  mkl {model} {setting} rep {rep + 1}: {r['error']}")
                else:
                    log(f"  mkl {model} {setting} rep {rep + 1}/{cfg['reps']}: {r['images_per_second']:.0f} img/s, "
                        f"acc {r['accuracy']:.4f}, valid loss {r['valid_loss']:.5f} ({r.get('mkl', '')})")
    summary = {}
    for model in ("mlp", "cnn"):
        s = {}
        for setting in settings:
            ok = [r for r in runs if r["model"] == model and r["setting"] == setting and "error" not in r]
            if ok:
                ips = [r["images_per_second"] for r in ok]
                s[setting] = {"images_per_second": round(statistics.median(ips), 1), "min": min(ips), "max": max(ips), "runs": len(ok),
                              "applied": all(r.get("mkl_override") for r in ok)}
        if "on" in s and "off" in s:
            s["speedup"] = round(s["on"]["images_per_second"] / s["off"]["images_per_second"], 3)
            # Same seed, same data order: the only difference is MKL's kernels.
            pairs = []
            for rep in range(cfg["reps"]):
                on = next((r for r in runs if r["model"] == model and r["rep"] == rep and r["setting"] == "on" and "error" not in r), None)
                off = next((r for r in runs if r["model"] == model and r["rep"] == rep and r["setting"] == "off" and "error" not in r), None)
                if on and off:
                    pairs.append({"valid_loss_rel": abs(on["valid_loss"] - off["valid_loss"]) / abs(off["valid_loss"]),
                                  "accuracy_diff": abs(on["accuracy"] - off["accuracy"]),
                                  "identical": on["valid_loss"] == off["valid_loss"] and on["train_loss"] == off["train_loss"]})
            if pairs:
                s["numerics"] = {"max_valid_loss_rel": max(p["valid_loss_rel"] for p in pairs),
                                 "max_accuracy_diff": max(p["accuracy_diff"] for p in pairs),
                                 "all_identical": all(p["identical"] for p in pairs)}
        summary[model] = s
    return {"runs": runs, "summary": summary, "binding": mkl_binding(trainbench), "config": cfg}


def mkl_binding(trainbench):
    """One short run with the override forced on under LD_DEBUG=bindings: what libtorch_cpu.so binds the CPU check to."""
    log_dir = tempfile.mkdtemp(prefix="cadence-mkl-bindings-")
    try:
        env = {"CADENCE_MKL_AMD": "1", "LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": os.path.join(log_dir, "ld")}
        r, _ = timed([trainbench, "learner", "--model", "mlp", "--train-images", "512", "--eval-images", "256",
                       "--warmup-batches", "1", "--threads", "2"], env, timeout=600)
        lines = []
        for name in os.listdir(log_dir):
            with open(os.path.join(log_dir, name), errors="replace") as f:
                lines += [line.strip() for line in f if "mkl_serv_intel_cpu_true" in line and "libtorch_cpu.so" in line]
        to = [line.split(" to ", 1)[1].split(" [")[0] for line in lines if " to " in line]
        return {"libtorch_binds_to": sorted(set(to)), "override_bound": any("libcadence-mkl" in t for t in to),
                "note": r.get("mkl", r.get("error", ""))}
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def mkl_checks(m):
    out = []
    for model, s in m.get("summary", {}).items():
        if "speedup" in s:
            out.append((f"{model.upper()}: MKL override on / off (img/s)", f"{s['speedup']:.2f}x", "report", True))
        if "numerics" in s:
            n = s["numerics"]
            ok = n["all_identical"] or (n["max_valid_loss_rel"] <= 0.01 and n["max_accuracy_diff"] <= 0.005)
            out.append((f"{model.upper()}: MKL override numerics (same seed)",
                        "identical" if n["all_identical"] else f"valid loss {n['max_valid_loss_rel']:.2%}, accuracy {n['max_accuracy_diff']:.4f}",
                        "<= 1% and 0.5 points", ok))
    b = m.get("binding")
    if b:
        out.append(("MKL override: libtorch_cpu.so binds mkl_serv_intel_cpu_true to it", ", ".join(b["libtorch_binds_to"]) or "no binding seen",
                    "the override library", b["override_bound"]))
    return out


# ---- fast: time to 91% ----

def cli_has_recipe(cadence):
    try:
        p = subprocess.run([cadence, "fit", "--help"], capture_output=True, text=True, timeout=120)
        return "--recipe" in p.stdout + p.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False


def fast(mode, cadence, python, peer, peer_env, log, reps=None):
    cfg = dict(MODES[mode]["fast"])
    if reps:   # --reps N: seeds 0 … N-1
        cfg["seeds"] = list(range(reps))
    use_cli = cli_has_recipe(cadence)
    runs = []
    names = ["recipe", "demo", "pytorch"] if peer else ["recipe", "demo"]
    for i, seed in enumerate(cfg["seeds"]):
        for name in names[i % len(names):] + names[:i % len(names)]:
            out = tempfile.mkdtemp(prefix=f"cadence-fast-{name}-")
            try:
                entry = {"name": name, "seed": seed}
                if name == "pytorch":
                    cmd = [python, peer, "--model", "cnn", "--bs", "256", "--threads", "2", "--epochs", str(cfg["peer_epochs"]),
                           "--max-lr", "0.1", "--warmup-batches", "0", "--eval-every-epoch", "--seed", str(seed), "--label", "pytorch_1cycle"]
                    if cfg["subset"]:
                        cmd += ["--train-images", str(int(60000 * cfg["subset"]))]
                    r, wall = timed(cmd, peer_env, timeout=4 * 3600)
                    if "error" not in r:
                        offset = wall - r["process_seconds"]
                        entry["accuracy"] = [e["accuracy"] for e in r["per_epoch"]]
                        entry["epoch_end"] = [round(offset + e["since_start"], 2) for e in r["per_epoch"]]
                elif name == "demo" or use_cli:
                    extra = ["--recipe", "fast"] if name == "recipe" else ["--model", "cnn", "--lr", "0.1", "--cycle-len", str(cfg["demo_epochs"]), "--use-clr", "32,5"]
                    if name == "recipe" and cfg["recipe_epochs"]:
                        extra += ["--epochs", str(cfg["recipe_epochs"])]
                    cmd = [cadence, "fit", *extra, "--threads", "2", "--seed", str(seed), "--out", out, "--json"]
                    if cfg["subset"]:
                        cmd += ["--subset", str(cfg["subset"])]
                    r, wall = timed(cmd, timeout=4 * 3600)
                    if "error" not in r:
                        with open(os.path.join(out, "history.json")) as f:
                            epochs = json.load(f)["epochs"]
                        entry["accuracy"] = [e["accuracy"] for e in epochs]
                        # The epochs' own seconds (training + validation) counted back from the end of the command.
                        ends, t = [], wall
                        for e in reversed(epochs):
                            ends.append(round(t, 2))
                            t -= e["seconds"]
                        entry["epoch_end"] = list(reversed(ends))
                else:   # the recipe through the library (bench/FastSearch) until the CLI has --recipe
                    cmd = [FASTSEARCH, "train", "--recipe", "fast", "--threads", "2", "--seed", str(seed)]
                    if cfg["recipe_epochs"]:
                        cmd += ["--epochs", str(cfg["recipe_epochs"])]
                    if cfg["subset"]:
                        cmd += ["--train-images", str(int(60000 * cfg["subset"]))]
                    r, wall = timed(cmd, timeout=4 * 3600)
                    if "error" not in r:
                        offset = wall - r["process_seconds"]
                        entry["accuracy"] = r["accuracy"]
                        ends, t = [], offset + r["process_seconds"] - r["fit_seconds"]
                        for tr, va in zip(r["train_seconds"], r["valid_seconds"]):
                            t += tr + va
                            ends.append(round(t, 2))
                        entry["epoch_end"] = ends
                entry["command"] = " ".join(cmd)
                entry["wall_seconds"] = round(wall, 2)
                if "error" in r:
                    entry["error"] = r["error"]
                    log(f"  fast {name} seed {seed}: {r['error']}")
                    runs.append(entry)
                    continue
                hit = next((k for k, a in enumerate(entry["accuracy"]) if a >= TARGET), None)
                entry["final_accuracy"] = entry["accuracy"][-1]
                entry["to_target_seconds"] = None if hit is None else entry["epoch_end"][hit]
                entry["to_target_epochs"] = None if hit is None else hit + 1
                log(f"  fast {name} seed {seed}: {wall:.1f} s, accuracy per epoch {', '.join(f'{a:.4f}' for a in entry['accuracy'])}")
                runs.append(entry)
            finally:
                shutil.rmtree(out, ignore_errors=True)
    summary = {}
    for name in names:
        ok = [r for r in runs if r["name"] == name and "error" not in r]
        if not ok:
            continue
        hits = [r["to_target_seconds"] for r in ok if r["to_target_seconds"] is not None]
        summary[name] = {"seeds": len(ok), "wall_seconds": round(statistics.median(r["wall_seconds"] for r in ok), 1),
                         "final_accuracy": round(statistics.median(r["final_accuracy"] for r in ok), 4),
                         "min_accuracy": min(r["final_accuracy"] for r in ok),
                         "reached": len(hits), "to_target_seconds": round(statistics.median(hits), 1) if hits else None,
                         "command": ok[0]["command"]}
    return {"runs": runs, "summary": summary, "recipe_via": "cadence fit --recipe fast" if use_cli else "bench/FastSearch (library recipe)",
            "config": cfg}


LABELS = {"recipe": "`fast` recipe", "demo": "demo (CNN, CLR 32,5, 3 epochs, batch 64)", "pytorch": "PyTorch 1cycle CNN (batch 256)"}


def fast_checks(f):
    s = f.get("summary", {})
    out = []
    if "recipe" in s and "demo" in s:
        ratio = s["recipe"]["wall_seconds"] / s["demo"]["wall_seconds"]
        out.append(("fast recipe: total wall time / demo's", f"{ratio:.2f}", "<= 0.40", ratio <= 0.40))
    if "recipe" in s:
        out.append(("fast recipe: median test accuracy", f"{s['recipe']['final_accuracy']:.4f}", f">= {TARGET}", s["recipe"]["final_accuracy"] >= TARGET))
        out.append(("fast recipe: every seed", f"min {s['recipe']['min_accuracy']:.4f}", f">= {SEED_FLOOR}", s["recipe"]["min_accuracy"] >= SEED_FLOOR))
    return out


def markdown(results):
    lines = []
    a = results.get("anchor")
    if a and any(isinstance(a.get(m), dict) and "error" not in a[m] for m in ("mlp", "cnn")):
        lines += ["", "### The raw-loop anchor, in one process", "",
                  f"`RawLoop --interleave {a['config']['rounds']}`: the raw loop and the Learner train identical model copies on the same "
                  "tensors, one epoch each in turn (alternating who goes first); medians.", "",
                  "| model | raw loop img/s | Learner img/s | Learner / raw, CPU time |", "|---|---|---|---|"]
        for model in ("mlp", "cnn"):
            r = a.get(model)
            if r and "error" not in r:
                lines.append(f"| {model.upper()} | {r['raw_images_per_second']:,.0f} | {r['learner_images_per_second']:,.0f} | {r['learner_over_raw_cpu']:.3f} |")
    m = results.get("mkl")
    if m and m.get("summary"):
        b = m.get("binding", {})
        lines += ["", "### MKL on AMD (issue 17)", "",
                  "The Learner's throughput with the MKL override off (`CADENCE_MKL_AMD=0`) and on (`=1`), in turn within every "
                  f"repetition, medians of {m['config']['reps']}; the same seed per repetition, so the two runs differ only in MKL's kernels. "
                  f"Binding check (LD_DEBUG=bindings): libtorch_cpu.so's `mkl_serv_intel_cpu_true` resolves to "
                  f"{', '.join(b.get('libtorch_binds_to', [])) or 'nothing seen'}.", "",
                  "| model | off: img/s (range) | on: img/s (range) | on / off | numerics (same seed) |", "|---|---|---|---|---|"]
        for model, s in m["summary"].items():
            if "on" not in s or "off" not in s:
                continue
            n = s.get("numerics", {})
            num = "identical" if n.get("all_identical") else f"valid loss within {n.get('max_valid_loss_rel', float('nan')):.2%}, accuracy within {n.get('max_accuracy_diff', float('nan')):.4f}"
            lines.append(f"| {model.upper()} | {s['off']['images_per_second']:,.0f} ({s['off']['min']:,.0f}-{s['off']['max']:,.0f}) | "
                         f"{s['on']['images_per_second']:,.0f} ({s['on']['min']:,.0f}-{s['on']['max']:,.0f}) | {s['speedup']:.2f}x | {num} |")
    f = results.get("fast")
    if f and f.get("summary"):
        lines += ["", "### Time to 91% (issue 17)", "",
                  f"Every command in turn for each seed ({', '.join(map(str, f['config']['seeds']))}), 2 threads; wall time of the whole command "
                  f"(start-up, data, training, evaluation), and seconds to the end of the first epoch with >= 91% test accuracy "
                  f"(medians over seeds). The recipe ran through {f['recipe_via']}.", "",
                  "| contender | total wall time | to 91% | test accuracy (median, lowest) | seeds at >= 91% | command |", "|---|---|---|---|---|---|"]
        for name, s in f["summary"].items():
            lines.append(f"| {LABELS[name]} | {s['wall_seconds']} s | {s['to_target_seconds'] if s['to_target_seconds'] is not None else 'not reached'} s | "
                         f"{s['final_accuracy']:.4f}, {s['min_accuracy']:.4f} | {s['reached']}/{s['seeds']} | `{s['command']}` |")
    return lines
