#!/usr/bin/python3
"""Golden learning-rate traces for Cadence's exactness tests.

Run with Debian's python3 and python3-torch (torch 1.13.x):

    apt-get install python3-torch
    /usr/bin/python3 bench/make_reference.py
    /usr/bin/python3 bench/make_reference.py fine_tune    # only fastai2_fine_tune.json

Writes bench/reference/{pytorch,fastai07,fastai2,hf_transformers,fastai2_fine_tune}.json and checks,
before writing anything, that the traces reproduce every worked example of
/work/shared/reference/schedules.md (sections 1, 3, 4 and 10) to the printed digits.

Output is deterministic: no randomness, no timestamps, and json.dumps writes every
float with repr (shortest string that round-trips to the same double).

Layout of every file:
  {"source": str, "cases": [case...], "errors": [error...]}
  case  = {name, policy, args, iterations, lr: [[group0...], ...], momentum: [[...]] | null,
           reference_call, note?, ...extra keys per family}
  error = {name, policy, args, parameter, reference_error, iterations?, error_at?, note?}
"args" are the options of `cadence schedule POLICY` (the test appends --iterations).
"""

import bisect
import json
import math
import os
import struct
import sys
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "reference")

warnings.simplefilter("ignore")  # torch's EPOCH_DEPRECATION / step-order warnings are irrelevant


# --------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------

def fmt_value(v):
    """One CLI value: bools as true/false, ints plainly, floats with repr, lists comma-joined."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(fmt_value(x) for x in v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def kebab(name):
    return name.replace("_", "-").lower()


def py_call(v):
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(py_call(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(py_call(x) for x in v) + "]"
    return repr(v)


def err_text(e):
    return "%s: %s" % (type(e).__name__, e)


def rel_diff(a, b):
    if a == b:
        return 0.0
    d = abs(a - b)
    m = max(abs(a), abs(b))
    return d / m


# --------------------------------------------------------------------------------------
# Checking worked examples of the spec
# --------------------------------------------------------------------------------------

CHECKS = []  # (label, ok)


def _tol_from_text(s):
    """Half a unit of the last printed digit, e.g. '.0097553' -> 5e-8, '9.607e-5' -> 5e-9."""
    s = s.strip()
    mant, exp = (s.lower().split("e") + ["0"])[:2]
    exp = int(exp)
    dec = len(mant.split(".")[1]) if "." in mant else 0
    digits = mant.replace("-", "").replace(".", "").lstrip("0")
    return 0.5 * 10.0 ** (-dec) * 10.0 ** exp, len(digits)


def approx(value, expected, label, exact_short=True, abs_tol=None, sig=None):
    """expected: number (must agree to 1e-12 relative) or printed text (agree to its digits).
    Printed values with <= 2 significant digits are taken as exact (1e-9 relative) unless
    exact_short=False. abs_tol: explicit absolute tolerance (HF's own test uses 1e-2).
    sig: agree to this many significant digits (for float32-affected traces)."""
    if abs_tol is not None:
        ok = abs(value - float(expected)) <= abs_tol
    elif sig is not None:
        e = float(expected)
        ok = abs(value - e) <= 0.5 * 10.0 ** (math.floor(math.log10(abs(e))) - sig + 1) if e else abs(value) < 1e-15
    elif isinstance(expected, str):
        tol, nsig = _tol_from_text(expected)
        e = float(expected)
        if exact_short and nsig <= 2:
            ok = abs(value - e) <= 1e-9 * max(abs(e), 1e-300) or (e == 0 and abs(value) < 1e-15)
        else:
            ok = abs(value - e) <= tol * (1 + 1e-9) + 1e-300
    else:
        e = float(expected)
        ok = abs(value - e) <= 1e-12 * max(abs(e), 1e-300) or (e == 0 and abs(value) < 1e-300)
    if not ok:
        print("CHECK FAILED: %s: got %r, spec says %r" % (label, value, expected), file=sys.stderr)
    return ok


def check_seq(label, values, expected, start=0, exact_short=True, abs_tol=None, sig=None):
    ok = True
    for i, e in enumerate(expected):
        if e is None:
            continue
        ok &= approx(values[start + i], e, "%s[%d]" % (label, start + i), exact_short, abs_tol, sig)
    CHECKS.append((label, ok))
    return ok


def check_true(label, cond):
    if not cond:
        print("CHECK FAILED: %s" % label, file=sys.stderr)
    CHECKS.append((label, bool(cond)))


def S(text):
    """Split a spec list like '.01, .0096194, 5e-4' into printed strings."""
    return [t.strip() for t in text.replace("[", "").replace("]", "").split(",") if t.strip()]


# ======================================================================================
# 1. PyTorch: really run torch.optim.lr_scheduler
# ======================================================================================

TORCH_CLASS_POLICY = {
    "CyclicLR": "cyclic",
    "OneCycleLR": "one-cycle",
    "CosineAnnealingWarmRestarts": "cosine-warm-restarts",
    "CosineAnnealingLR": "cosine",
    "StepLR": "step",
    "MultiStepLR": "multi-step",
    "ExponentialLR": "exponential",
    "LinearLR": "linear",
    "ConstantLR": "constant-lr",
    "PolynomialLR": "polynomial",
    "SequentialLR": "sequential",
    None: "constant",
}

# reference parameter name -> Cadence option (kebab case of the reference's name)
OPTION_NAME = {"T_0": "--t-0", "T_mult": "--t-mult", "T_max": "--t-max"}

# Sub-scheduler names inside --schedulers for SequentialLR
SUB_NAME = {
    "ConstantLR": "constant-lr", "ExponentialLR": "exponential", "StepLR": "step",
    "MultiStepLR": "multi-step", "LinearLR": "linear", "CosineAnnealingLR": "cosine",
    "PolynomialLR": "polynomial", "CosineAnnealingWarmRestarts": "cosine-warm-restarts",
}


def opt_name(k):
    return OPTION_NAME.get(k, "--" + kebab(k))


def make_optimizer(opt):
    """opt = {'type': 'sgd'|'adam', 'lr': [..], 'momentum': float?}"""
    lrs = opt["lr"]
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    if opt["type"] == "adam":
        return torch.optim.Adam(groups, lr=lrs[0])
    return torch.optim.SGD(groups, lr=lrs[0], momentum=opt.get("momentum", 0.0))


def build_scheduler(o, cls, kw):
    if cls is None:
        return None
    if cls == "SequentialLR":
        subs = [getattr(torch.optim.lr_scheduler, c)(o, **k) for c, k in kw["schedulers"]]
        return torch.optim.lr_scheduler.SequentialLR(o, subs, milestones=kw["milestones"])
    return getattr(torch.optim.lr_scheduler, cls)(o, **kw)


def group_momentum(g):
    if "betas" in g:
        return g["betas"][0]
    return g["momentum"]


def run_torch(opt, cls, kw, n, record_mom):
    """Value t (t = 0..n-1) = param_groups' lr after t scheduler.step() calls that follow
    construction, in the loop 'record; optimizer.step(); scheduler.step()'."""
    o = make_optimizer(opt)
    s = build_scheduler(o, cls, kw)
    lr = [[] for _ in o.param_groups]
    mom = [[] for _ in o.param_groups] if record_mom else None
    for t in range(n):
        for gi, g in enumerate(o.param_groups):
            lr[gi].append(float(g["lr"]))
            if record_mom:
                mom[gi].append(float(group_momentum(g)))
        if t < n - 1:
            o.step()
            if s is not None:
                s.step()
    return lr, mom


def torch_args(cls, kw, opt, opt_in_args):
    args = []
    if cls == "SequentialLR":
        parts = []
        for c, k in kw["schedulers"]:
            kv = ",".join("%s=%s" % (opt_name(a)[2:], fmt_value(v)) for a, v in k.items())
            parts.append("%s:%s" % (SUB_NAME[c], kv) if kv else SUB_NAME[c])
        args += ["--schedulers", ";".join(parts), "--milestones", fmt_value(kw["milestones"])]
    elif cls is not None:
        for k, v in kw.items():
            args += [opt_name(k), fmt_value(v)]
    if opt_in_args:
        args = ["--lr", fmt_value(opt["lr"])] + args
    if opt["type"] == "adam":
        args += ["--optimizer", "adam"]
    if opt.get("momentum"):
        args += ["--momentum", fmt_value(opt["momentum"])]
    return args


def torch_call_text(cls, kw, opt):
    if opt["type"] == "adam":
        o = "Adam([%s])" % ", ".join("{lr=%r}" % x for x in opt["lr"])
    else:
        o = "SGD([%s]%s)" % (", ".join("{lr=%r}" % x for x in opt["lr"]),
                             ", momentum=%r" % opt["momentum"] if opt.get("momentum") else "")
    if cls is None:
        return "%s with no scheduler" % o
    if cls == "SequentialLR":
        subs = ", ".join("%s(opt%s)" % (c, "".join(", %s=%s" % (a, py_call(v)) for a, v in k.items()))
                         for c, k in kw["schedulers"])
        return "SequentialLR(opt, [%s], milestones=%s) on %s" % (subs, py_call(kw["milestones"]), o)
    return "%s(opt%s) on %s" % (cls, "".join(", %s=%s" % (a, py_call(v)) for a, v in kw.items()), o)


def closed_form(cls, kw, base, t):
    """The textbook (closed-form) value, for comparison with torch's chainable recursion."""
    if cls == "CosineAnnealingLR":
        em = kw.get("eta_min", 0.0)
        return em + (base - em) * (1 + math.cos(math.pi * t / kw["T_max"])) / 2
    if cls == "ExponentialLR":
        return base * kw["gamma"] ** t
    if cls == "PolynomialLR":
        T = kw.get("total_iters", 5)
        return base * (1.0 - min(T, t) / T) ** kw.get("power", 1.0)
    if cls == "StepLR":
        return base * kw.get("gamma", 0.1) ** (t // kw["step_size"])
    if cls == "MultiStepLR":
        return base * kw.get("gamma", 0.1) ** bisect.bisect_right(sorted(kw["milestones"]), t)
    if cls == "LinearLR":
        s, e, T = kw.get("start_factor", 1.0 / 3), kw.get("end_factor", 1.0), kw.get("total_iters", 5)
        return base * (s + (e - s) * min(T, t) / T)
    if cls == "ConstantLR":
        f, T = kw.get("factor", 1.0 / 3), kw.get("total_iters", 5)
        return base * (f + (t >= T) * (1 - f))
    return None


CHAINABLE = {"CosineAnnealingLR", "ExponentialLR", "PolynomialLR", "StepLR", "MultiStepLR",
             "LinearLR", "ConstantLR"}


def closed_form_report(cls, kw, opt, lr):
    if cls not in CHAINABLE:
        return None
    worst, over, err = 0.0, [], None
    for gi, base in enumerate(opt["lr"]):
        for t, v in enumerate(lr[gi]):
            try:
                c = closed_form(cls, kw, base, t)
            except ZeroDivisionError as e:
                err = "closed form raises %s" % err_text(e)
                break
            r = rel_diff(v, c)
            if r > worst:
                worst = r
            if r > 1e-12 and t not in over:
                over.append(t)
    ranges = []
    for t in sorted(over):
        if ranges and ranges[-1][1] == t - 1:
            ranges[-1][1] = t
        else:
            ranges.append([t, t])
    rep = {"max_rel_diff": worst, "steps_over_1e-12": ranges}
    if err:
        rep["note"] = err
    return rep


TORCH_CASES = []   # (name, cls, kw, opt, n, note, opt_in_args)
TORCH_ERRORS = []  # (name, cls, kw, opt, n, parameter, note, opt_in_args)


def tc(name, cls, kw, n, lr=(0.1,), opt_type="sgd", momentum=None, note=None):
    opt = {"type": opt_type, "lr": list(lr)}
    if momentum:
        opt["momentum"] = momentum
    in_args = cls not in ("CyclicLR", "OneCycleLR")
    TORCH_CASES.append((name, cls, kw, opt, n, note, in_args))


def te(name, cls, kw, n, parameter, lr=(0.1,), opt_type="sgd", note=None, version_dependent=False):
    opt = {"type": opt_type, "lr": list(lr)}
    in_args = cls not in ("CyclicLR", "OneCycleLR")
    TORCH_ERRORS.append((name, cls, kw, opt, n, parameter, note, in_args, version_dependent))


def define_torch_cases():
    # ---------------- CyclicLR ----------------
    tc("cyclic_triangular_test", "CyclicLR",
       dict(base_lr=1.0, max_lr=5.0, step_size_up=4, base_momentum=1.0, max_momentum=5.0), 11,
       note="PyTorch test vector (spec 4.2): lr [1,2,3,4,5,4,3,2,1,2,3], momentum inverse")
    tc("cyclic_triangular2_test", "CyclicLR",
       dict(base_lr=1.0, max_lr=5.0, step_size_up=4, mode="triangular2", cycle_momentum=False), 22,
       note="PyTorch test vector (spec 4.2)")
    tc("cyclic_exp_range_test", "CyclicLR",
       dict(base_lr=1.0, max_lr=5.0, step_size_up=4, mode="exp_range", gamma=0.9,
            cycle_momentum=False), 13, note="spec 4.2: 1 + 4*x_t*0.9**t")
    tc("cyclic_asymmetric_up2_down6", "CyclicLR",
       dict(base_lr=0.001, max_lr=0.006, step_size_up=2, step_size_down=6), 10,
       note="spec 4.2 asymmetric example; default momentum cycling 0.9 -> 0.8")
    tc("cyclic_default_mom_up3", "CyclicLR", dict(base_lr=0.001, max_lr=0.006, step_size_up=3), 20,
       note="defaults: triangular, cycle_momentum=True, base_momentum=0.8, max_momentum=0.9")
    tc("cyclic_triangular_up5_down3_3groups", "CyclicLR",
       dict(base_lr=[0.001, 0.002, 0.0005], max_lr=[0.01, 0.02, 0.005], step_size_up=5,
            step_size_down=3), 25, lr=(0.1, 0.1, 0.1),
       note="3 param groups with list base_lr/max_lr; momentum cycled on every group")
    tc("cyclic_triangular2_2groups_mom", "CyclicLR",
       dict(base_lr=[0.01, 0.001], max_lr=[0.1, 0.01], step_size_up=2, step_size_down=3,
            mode="triangular2", base_momentum=[0.85, 0.8], max_momentum=[0.95, 0.9]), 30,
       lr=(0.1, 0.1), note="per-group momentum bounds; amplitude halves each cycle (lr and momentum)")
    tc("cyclic_exp_range_gamma0.99_up3", "CyclicLR",
       dict(base_lr=0.001, max_lr=0.01, step_size_up=3, mode="exp_range", gamma=0.99), 40,
       note="exp_range scales by gamma**t with t the global step; momentum also scaled")
    tc("cyclic_exp_range_2groups_asym", "CyclicLR",
       dict(base_lr=[0.001, 0.0001], max_lr=[0.01, 0.001], step_size_up=4, step_size_down=2,
            mode="exp_range", gamma=0.95), 20, lr=(0.1, 0.1))
    tc("cyclic_up1_down1", "CyclicLR", dict(base_lr=0.1, max_lr=1.0, step_size_up=1), 7,
       note="smallest possible cycle: alternates base/max")
    tc("cyclic_up1_down3_nomom", "CyclicLR",
       dict(base_lr=0.01, max_lr=0.05, step_size_up=1, step_size_down=3, cycle_momentum=False), 12)
    tc("cyclic_up7_down2_triangular2", "CyclicLR",
       dict(base_lr=0.0, max_lr=0.3, step_size_up=7, step_size_down=2, mode="triangular2",
            cycle_momentum=False), 30, note="base_lr 0")
    tc("cyclic_up3_down3_long", "CyclicLR",
       dict(base_lr=0.0001, max_lr=0.003, step_size_up=13, step_size_down=7,
            base_momentum=0.85, max_momentum=0.95), 300,
       note="300 steps; step sizes whose ratio 13/20 is not a binary fraction")
    tc("cyclic_exp_range_long", "CyclicLR",
       dict(base_lr=0.001, max_lr=0.1, step_size_up=9, step_size_down=11, mode="exp_range",
            gamma=0.997), 300)
    tc("cyclic_step_size_float", "CyclicLR",
       dict(base_lr=0.001, max_lr=0.006, step_size_up=2.5, cycle_momentum=False), 16,
       note="non-integer step_size_up (torch converts to float): the peak falls between steps")

    # ---------------- OneCycleLR ----------------
    tc("onecycle_cos_default_T10", "OneCycleLR", dict(max_lr=0.01, total_steps=10), 11,
       note="value index 10 = step T (one past the end): cosine bounces back up")
    tc("onecycle_linear_test", "OneCycleLR",
       dict(max_lr=25.0, total_steps=10, anneal_strategy="linear", div_factor=25.0,
            final_div_factor=2.0, base_momentum=1.0, max_momentum=22.0), 11,
       note="PyTorch test vector; value at step T is -3.0 (linear past the end)")
    tc("onecycle_linear_three_phase_test", "OneCycleLR",
       dict(max_lr=25.0, total_steps=10, pct_start=0.4, anneal_strategy="linear",
            final_div_factor=4.0, base_momentum=1.0, max_momentum=22.0, three_phase=True), 11,
       note="PyTorch test vector (three_phase)")
    tc("onecycle_cos_test", "OneCycleLR",
       dict(max_lr=25.0, total_steps=10, final_div_factor=2.0, base_momentum=1.0,
            max_momentum=22.0), 11, note="PyTorch test configuration with cos")
    tc("onecycle_cos_T50_with_step_T", "OneCycleLR", dict(max_lr=0.01, total_steps=50), 51,
       note="#91765: last 3 lrs 2.0168e-05, 4e-08, 2.0168e-05")
    tc("onecycle_cos_three_phase_T20", "OneCycleLR",
       dict(max_lr=0.1, total_steps=20, three_phase=True), 21)
    tc("onecycle_linear_T15_pct0.25", "OneCycleLR",
       dict(max_lr=0.05, total_steps=15, pct_start=0.25, anneal_strategy="linear"), 16,
       note="pct_start*T-1 = 2.75 is not an integer: the peak is never hit")
    tc("onecycle_epochs_steps_per_epoch", "OneCycleLR",
       dict(max_lr=0.01, epochs=3, steps_per_epoch=4), 13, note="T = epochs*steps_per_epoch = 12")
    tc("onecycle_adam_beta1", "OneCycleLR", dict(max_lr=0.003, total_steps=12), 13, opt_type="adam",
       note="Adam: the momentum trace is betas[0]")
    tc("onecycle_adam_three_phase_linear", "OneCycleLR",
       dict(max_lr=0.003, total_steps=16, anneal_strategy="linear", three_phase=True,
            base_momentum=0.8, max_momentum=0.9), 17, opt_type="adam")
    tc("onecycle_3groups_list_max_lr", "OneCycleLR",
       dict(max_lr=[0.001, 0.01, 0.1], total_steps=20), 21, lr=(0.1, 0.1, 0.1),
       note="3 groups, list max_lr; momentum identical on every group")
    tc("onecycle_2groups_list_momentum", "OneCycleLR",
       dict(max_lr=[0.02, 0.2], total_steps=9, pct_start=0.5, base_momentum=[0.8, 0.85],
            max_momentum=[0.9, 0.99]), 10, lr=(0.1, 0.1), note="per-group momentum bounds")
    tc("onecycle_no_momentum", "OneCycleLR",
       dict(max_lr=0.01, total_steps=10, cycle_momentum=False), 11, note="momentum not touched")
    tc("onecycle_divs", "OneCycleLR",
       dict(max_lr=1.0, total_steps=25, div_factor=10.0, final_div_factor=100.0, pct_start=0.4), 26)
    tc("onecycle_T1", "OneCycleLR", dict(max_lr=0.01, total_steps=1), 2,
       note="T=1: e1 = -0.7, step 0 is already in phase 2 with pct = 1 -> min_lr")
    tc("onecycle_T2", "OneCycleLR", dict(max_lr=0.01, total_steps=2), 3)
    tc("onecycle_T3_three_phase", "OneCycleLR", dict(max_lr=0.01, total_steps=3, three_phase=True), 4)
    tc("onecycle_pct0", "OneCycleLR", dict(max_lr=0.01, total_steps=8, pct_start=0.0), 9,
       note="pct_start 0: e1 = -1, phase 2 runs from -1 so step 0 is already past the peak")
    tc("onecycle_pct1", "OneCycleLR", dict(max_lr=0.01, total_steps=8, pct_start=1.0), 8,
       note="pct_start 1: warm-up over all T steps; step T would divide by zero (see errors)")
    tc("onecycle_long_T300", "OneCycleLR", dict(max_lr=0.004, total_steps=300, pct_start=0.25), 301)
    tc("onecycle_three_phase_pct0.45_T7", "OneCycleLR",
       dict(max_lr=0.5, total_steps=7, pct_start=0.45, three_phase=True, anneal_strategy="linear"), 8)

    # ---------------- CosineAnnealingWarmRestarts ----------------
    tc("warm_restarts_T0_2_mult2", "CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=2), 30,
       lr=(0.01,), note="spec 4.5")
    tc("warm_restarts_T0_10_eta_min", "CosineAnnealingWarmRestarts", dict(T_0=10, eta_min=0.001), 25,
       lr=(0.01,), note="spec 4.5")
    tc("warm_restarts_T0_4_mult1", "CosineAnnealingWarmRestarts", dict(T_0=4), 13, lr=(0.1,))
    tc("warm_restarts_T0_3_mult3_2groups", "CosineAnnealingWarmRestarts",
       dict(T_0=3, T_mult=3, eta_min=0.0005), 40, lr=(0.1, 0.01))
    tc("warm_restarts_T0_1", "CosineAnnealingWarmRestarts", dict(T_0=1), 5, lr=(0.1,),
       note="T_0=1: every step is a restart, lr constant")
    tc("warm_restarts_T0_1_mult2", "CosineAnnealingWarmRestarts", dict(T_0=1, T_mult=2), 16, lr=(0.1,))
    tc("warm_restarts_long", "CosineAnnealingWarmRestarts", dict(T_0=7, T_mult=2, eta_min=1e-5), 300,
       lr=(0.05,), momentum=0.9, note="SGD with momentum 0.9 (momentum constant)")

    # ---------------- CosineAnnealingLR ----------------
    tc("cosine_T5_test", "CosineAnnealingLR", dict(T_max=5), 12, lr=(0.5,), note="spec 4.4")
    tc("cosine_T10_3x", "CosineAnnealingLR", dict(T_max=10), 31, lr=(0.1,),
       note="3*T_max steps: no clamping, the cosine rises again after T_max")
    tc("cosine_T10_eta_min_3x", "CosineAnnealingLR", dict(T_max=10, eta_min=0.01), 31, lr=(0.1,))
    tc("cosine_T7_eta_min_2groups", "CosineAnnealingLR", dict(T_max=7, eta_min=0.001), 22,
       lr=(0.1, 0.02), note="eta_min is shared; base differs per group")
    tc("cosine_T1", "CosineAnnealingLR", dict(T_max=1), 6, lr=(0.1,))
    tc("cosine_T2_eta_min", "CosineAnnealingLR", dict(T_max=2, eta_min=0.05), 9, lr=(0.1,))
    tc("cosine_T100_3x_eta_min", "CosineAnnealingLR", dict(T_max=100, eta_min=0.001), 300, lr=(0.1,),
       note="long chainable recursion; see closed_form for the drift")
    tc("cosine_T100_3x", "CosineAnnealingLR", dict(T_max=100), 300, lr=(0.1,))
    tc("cosine_T50_eta_close_to_base", "CosineAnnealingLR", dict(T_max=50, eta_min=0.09), 150,
       lr=(0.1,), note="eta_min close to base: cancellation in (lr - eta_min)")
    tc("cosine_T300_eta0.099_drift", "CosineAnnealingLR", dict(T_max=300, eta_min=0.099), 601,
       lr=(0.1,), note="the chainable recursion drifts from the closed form by more than 1e-12 "
                       "relative near t = 2*T_max (see closed_form)")
    tc("cosine_T6_momentum", "CosineAnnealingLR", dict(T_max=6), 8, lr=(0.1,), momentum=0.9)

    # ---------------- StepLR / MultiStepLR ----------------
    tc("step_s3_g0.1", "StepLR", dict(step_size=3, gamma=0.1), 12, lr=(0.1,))
    tc("step_s1_g0.5_2groups", "StepLR", dict(step_size=1, gamma=0.5), 8, lr=(0.1, 0.02))
    tc("step_s4_default_gamma_mom", "StepLR", dict(step_size=4), 14, lr=(0.05,), momentum=0.9)
    tc("step_s2_g0.9_long", "StepLR", dict(step_size=2, gamma=0.9), 60, lr=(0.3,))
    tc("multistep_3_6", "MultiStepLR", dict(milestones=[3, 6], gamma=0.1), 10, lr=(0.1,))
    tc("multistep_2_5_9_3groups", "MultiStepLR", dict(milestones=[2, 5, 9], gamma=0.5), 12,
       lr=(0.1, 0.05, 0.01))
    tc("multistep_unsorted", "MultiStepLR", dict(milestones=[6, 3], gamma=0.1), 10, lr=(0.1,),
       note="torch does not validate order: [6,3] behaves as [3,6]")
    tc("multistep_duplicate", "MultiStepLR", dict(milestones=[3, 3, 5], gamma=0.1), 8, lr=(0.1,),
       note="duplicate milestone: gamma applied twice at step 3")
    tc("multistep_milestone0", "MultiStepLR", dict(milestones=[0, 2], gamma=0.1), 5, lr=(0.1,),
       note="milestone 0: the chainable form applies gamma already at step 0 (during construction)")
    tc("multistep_default_gamma_mom", "MultiStepLR", dict(milestones=[1, 4]), 6, lr=(0.2,), momentum=0.95)

    # ---------------- ExponentialLR ----------------
    tc("exponential_g0.9", "ExponentialLR", dict(gamma=0.9), 20, lr=(0.1,))
    tc("exponential_g0.95_2groups", "ExponentialLR", dict(gamma=0.95), 15, lr=(0.1, 0.3))
    tc("exponential_g0.99_long", "ExponentialLR", dict(gamma=0.99), 300, lr=(0.1,),
       note="chainable: lr_t = lr_{t-1}*gamma (300 multiplications)")
    tc("exponential_g0.7_mom", "ExponentialLR", dict(gamma=0.7), 10, lr=(1.0,), momentum=0.9)
    tc("exponential_g1.05", "ExponentialLR", dict(gamma=1.05), 12, lr=(0.01,), note="gamma > 1 grows")

    # ---------------- LinearLR ----------------
    tc("linear_default", "LinearLR", dict(), 8, lr=(0.05,), note="defaults start 1/3, end 1, 5 iters")
    tc("linear_doc_example", "LinearLR", dict(start_factor=0.5, total_iters=4), 7, lr=(0.05,),
       note="docstring example: 0.025, 0.03125, 0.0375, 0.04375, 0.05")
    tc("linear_decay_3groups", "LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=10), 14,
       lr=(0.1, 0.05, 0.01))
    tc("linear_warmup_0.1_3", "LinearLR", dict(start_factor=0.1, total_iters=3), 6, lr=(1.0,))
    tc("linear_0.001_to_1_T30", "LinearLR", dict(start_factor=0.001, end_factor=1.0, total_iters=30),
       40, lr=(0.1,))
    tc("linear_total_iters0", "LinearLR", dict(start_factor=0.25, total_iters=0), 5, lr=(0.1,),
       note="total_iters 0: chainable form keeps start_factor*lr forever; closed form divides by 0")
    tc("linear_total_iters1", "LinearLR", dict(start_factor=0.5, end_factor=0.75, total_iters=1), 4,
       lr=(0.1,))

    # ---------------- ConstantLR ----------------
    tc("constantlr_default", "ConstantLR", dict(), 8, lr=(0.05,), note="factor 1/3, total_iters 5")
    tc("constantlr_doc_example", "ConstantLR", dict(factor=0.5, total_iters=4), 7, lr=(0.05,))
    tc("constantlr_0.1_3_2groups", "ConstantLR", dict(factor=0.1, total_iters=3), 6, lr=(0.05, 0.5))
    tc("constantlr_total_iters0", "ConstantLR", dict(factor=0.5, total_iters=0), 5, lr=(0.1,),
       note="total_iters 0: chainable form applies factor at step 0 and never undoes it; "
            "closed form gives the base lr")
    tc("constantlr_factor1", "ConstantLR", dict(factor=1.0, total_iters=2), 4, lr=(0.1,))
    tc("constantlr_factor0.7_mom", "ConstantLR", dict(factor=0.7, total_iters=6), 9, lr=(0.1,),
       momentum=0.9, note="chainable: (0.1*0.7)*(1.0/0.7) = 0.09999999999999999, one ulp below the "
                          "closed form's 0.1 from step total_iters on")

    # ---------------- PolynomialLR (exists in torch 1.13) ----------------
    tc("polynomial_doc_example", "PolynomialLR", dict(total_iters=4, power=1.0), 7, lr=(0.001,),
       note="docstring example: 0.001, 0.00075, 0.0005, 0.00025, 0, 0, ...")
    tc("polynomial_default", "PolynomialLR", dict(), 8, lr=(0.1,))
    tc("polynomial_power2", "PolynomialLR", dict(total_iters=10, power=2.0), 13, lr=(0.1,))
    tc("polynomial_power0.5_2groups", "PolynomialLR", dict(total_iters=6, power=0.5), 9, lr=(0.1, 0.01))
    tc("polynomial_power3_long", "PolynomialLR", dict(total_iters=250, power=3.0), 260, lr=(0.1,))
    tc("polynomial_total_iters0", "PolynomialLR", dict(total_iters=0), 4, lr=(0.1,),
       note="total_iters 0: chainable form never changes the lr; closed form divides by 0")
    tc("polynomial_total_iters1", "PolynomialLR", dict(total_iters=1, power=2.0), 4, lr=(0.1,))

    # ---------------- constant (no scheduler) ----------------
    tc("constant_lr0.1", None, {}, 5, lr=(0.1,))
    tc("constant_2groups_mom", None, {}, 4, lr=(0.1, 0.01), momentum=0.9)

    # ---------------- SequentialLR (spec 4.6) ----------------
    tc("sequential_constant_exponential", "SequentialLR",
       dict(schedulers=[("ConstantLR", dict(factor=0.1, total_iters=3)),
                        ("ExponentialLR", dict(gamma=0.9))], milestones=[3]), 10, lr=(0.05,),
       note="spec 4.6 / PyTorch test")
    tc("sequential_exponential_step", "SequentialLR",
       dict(schedulers=[("ExponentialLR", dict(gamma=0.8)),
                        ("StepLR", dict(gamma=0.1, step_size=4))], milestones=[3]), 19, lr=(0.05,),
       note="spec 4.6 / PyTorch test")
    tc("sequential_three", "SequentialLR",
       dict(schedulers=[("ConstantLR", dict(factor=0.1, total_iters=3)),
                        ("ExponentialLR", dict(gamma=0.8)),
                        ("StepLR", dict(gamma=0.1, step_size=2))], milestones=[3, 6]), 13, lr=(0.05,),
       note="spec 4.6 / PyTorch test")
    tc("sequential_linear_cosine", "SequentialLR",
       dict(schedulers=[("LinearLR", dict(start_factor=0.1, total_iters=3)),
                        ("CosineAnnealingLR", dict(T_max=4))], milestones=[3]), 14, lr=(1.0,),
       note="spec 4.6 warm-up then cosine (cosine continues past T_max)")
    tc("sequential_linear_cosine_2groups", "SequentialLR",
       dict(schedulers=[("LinearLR", dict(start_factor=0.01, total_iters=5)),
                        ("CosineAnnealingLR", dict(T_max=20, eta_min=0.0001))], milestones=[5]), 30,
       lr=(0.1, 0.01))
    tc("sequential_milestone0", "SequentialLR",
       dict(schedulers=[("ConstantLR", dict(factor=0.1, total_iters=3)),
                        ("ExponentialLR", dict(gamma=0.9))], milestones=[0]), 6, lr=(0.05,),
       note="milestone 0 quirk: schedulers[0] sets step 0 (0.005); ExponentialLR then chains "
            "from that value and is never reset to the base lr")
    tc("sequential_exponential_step_polynomial", "SequentialLR",
       dict(schedulers=[("ExponentialLR", dict(gamma=0.5)),
                        ("StepLR", dict(step_size=2, gamma=0.5)),
                        ("PolynomialLR", dict(total_iters=4, power=2.0))], milestones=[2, 8]), 14,
       lr=(0.2,), note="each later scheduler restarts from its closed form at epoch 0 at its milestone "
                       "(its own counting is relative to the switch)")

    # ---------------- errors ----------------
    te("error_onecycle_pct_start_1.5", "OneCycleLR", dict(max_lr=0.01, total_steps=10, pct_start=1.5),
       1, "--pct-start")
    te("error_onecycle_pct_start_negative", "OneCycleLR",
       dict(max_lr=0.01, total_steps=10, pct_start=-0.1), 1, "--pct-start")
    te("error_onecycle_total_steps_0", "OneCycleLR", dict(max_lr=0.01, total_steps=0), 1, "--total-steps")
    te("error_onecycle_total_steps_negative", "OneCycleLR", dict(max_lr=0.01, total_steps=-5), 1,
       "--total-steps")
    te("error_onecycle_epochs_0", "OneCycleLR", dict(max_lr=0.01, epochs=0, steps_per_epoch=5), 1,
       "--epochs")
    te("error_onecycle_steps_per_epoch_0", "OneCycleLR", dict(max_lr=0.01, epochs=2, steps_per_epoch=0),
       1, "--steps-per-epoch")
    te("error_onecycle_no_length", "OneCycleLR", dict(max_lr=0.01), 1, "--total-steps")
    te("error_onecycle_bad_anneal", "OneCycleLR",
       dict(max_lr=0.01, total_steps=10, anneal_strategy="exp"), 1, "--anneal-strategy")
    te("error_onecycle_pct_times_T_is_1", "OneCycleLR", dict(max_lr=0.01, total_steps=10, pct_start=0.1),
       1, "--pct-start", note="pct_start*T - 1 == 0: 0/0 at step 0, during construction")
    te("error_onecycle_T2_pct0.5", "OneCycleLR", dict(max_lr=0.01, total_steps=2, pct_start=0.5), 1,
       "--pct-start", note="e1 = 0: 0/0 at step 0")
    te("error_onecycle_three_phase_pct0.5_T2", "OneCycleLR",
       dict(max_lr=0.01, total_steps=2, pct_start=0.5, three_phase=True), 1, "--pct-start")
    te("error_onecycle_step_past_T", "OneCycleLR", dict(max_lr=0.01, total_steps=10), 12, "--iterations",
       note="values 0..T (T+1 of them) are allowed; the (T+1)-th step() raises")
    te("error_onecycle_pct1_step_T", "OneCycleLR", dict(max_lr=0.01, total_steps=8, pct_start=1.0), 9,
       "--iterations", note="pct_start 1: phase 2 has zero length, step T divides by zero")
    te("error_cyclic_bad_mode", "CyclicLR", dict(base_lr=0.001, max_lr=0.01, mode="sine"), 1, "--mode")
    te("error_cyclic_step_size_up_0", "CyclicLR",
       dict(base_lr=0.001, max_lr=0.01, step_size_up=0, step_size_down=4), 1, "--step-size-up",
       note="step_ratio 0: x/0 at step 0")
    te("error_cyclic_step_sizes_0", "CyclicLR",
       dict(base_lr=0.001, max_lr=0.01, step_size_up=0, step_size_down=0), 1, "--step-size-up")
    te("error_cyclic_list_length", "CyclicLR", dict(base_lr=[0.001, 0.002], max_lr=[0.01, 0.02, 0.03]),
       1, "--max-lr", lr=(0.1, 0.1))
    te("error_warm_restarts_T0_0", "CosineAnnealingWarmRestarts", dict(T_0=0), 1, "--t-0")
    te("error_warm_restarts_T0_float", "CosineAnnealingWarmRestarts", dict(T_0=2.5), 1, "--t-0")
    te("error_warm_restarts_Tmult_0", "CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0), 1, "--t-mult")
    te("error_cosine_T_max_0", "CosineAnnealingLR", dict(T_max=0), 2, "--t-max",
       note="step 0 is fine (keeps lr); step 1 evaluates (t-1-T_max) % (2*T_max) -> modulo by zero")
    te("error_step_size_0", "StepLR", dict(step_size=0), 2, "--step-size", note="t % 0 at step 1")
    te("error_linear_start_factor_1.5", "LinearLR", dict(start_factor=1.5), 1, "--start-factor")
    te("error_linear_end_factor_negative", "LinearLR", dict(end_factor=-0.5), 1, "--end-factor")
    te("error_linear_start_factor_0", "LinearLR", dict(start_factor=0.0, total_iters=4), 2,
       "--start-factor", note="accepted by the 1.13 check (0 is in [0,1]) but step 1 divides by zero "
                              "(#86454); newer torch rejects it at construction")
    te("error_constantlr_factor_1.5", "ConstantLR", dict(factor=1.5), 1, "--factor")
    te("error_constantlr_factor_0", "ConstantLR", dict(factor=0.0, total_iters=3), 4, "--factor",
       note="factor 0 accepted; at step total_iters the chainable form multiplies by 1/0")
    te("error_sequential_milestone_count", "SequentialLR",
       dict(schedulers=[("ConstantLR", dict(factor=0.1, total_iters=3)),
                        ("ExponentialLR", dict(gamma=0.9))], milestones=[3, 5]), 1, "--milestones")
    te("error_cyclic_adam_cycle_momentum", "CyclicLR", dict(base_lr=0.001, max_lr=0.01), 1,
       "--optimizer", opt_type="adam", version_dependent=True,
       note="torch 1.13 only: CyclicLR requires 'momentum' in optimizer.defaults. torch >= 2.2 "
            "(PR #113548) accepts Adam and cycles betas[0], like OneCycleLR")


def torch_family():
    define_torch_cases()
    cases, errors, version_dependent = [], [], []
    for name, cls, kw, opt, n, note, in_args in TORCH_CASES:
        cyc = cls in ("CyclicLR", "OneCycleLR") and kw.get("cycle_momentum", True)
        record_mom = bool(cyc or opt.get("momentum"))
        lr, mom = run_torch(opt, cls, kw, n, record_mom)
        c = {"name": name, "policy": TORCH_CLASS_POLICY[cls], "args": torch_args(cls, kw, opt, in_args),
             "iterations": n, "lr": lr, "momentum": mom,
             "reference_call": torch_call_text(cls, kw, opt)}
        if note:
            c["note"] = note
        rep = closed_form_report(cls, kw, opt, lr)
        if rep is not None:
            c["closed_form"] = rep
        cases.append(c)
    for name, cls, kw, opt, n, parameter, note, in_args, vdep in TORCH_ERRORS:
        try:
            run_torch(opt, cls, kw, n, False)
            raise SystemExit("expected torch to fail for %s" % name)
        except (ValueError, ZeroDivisionError, KeyError, TypeError, IndexError) as e:
            msg = err_text(e)
        # find where it failed: construction or k-th step
        at = "construction"
        if n > 1:
            o = make_optimizer(opt)
            try:
                s = build_scheduler(o, cls, kw)
                for k in range(1, n):
                    o.step()
                    try:
                        s.step()
                    except Exception:
                        at = "scheduler.step() #%d (value index %d)" % (k, k)
                        break
            except Exception:
                at = "construction"
        e = {"name": name, "policy": TORCH_CLASS_POLICY[cls], "args": torch_args(cls, kw, opt, in_args),
             "parameter": parameter, "reference_error": msg, "error_at": at,
             "reference_call": torch_call_text(cls, kw, opt)}
        if at != "construction":
            e["iterations"] = n
        if note:
            e["note"] = note
        (version_dependent if vdep else errors).append(e)
    return cases, errors, version_dependent


# ======================================================================================
# 2. fastai 0.7 emulation (learn.fit -> fit_gen -> LossRecorder/LR_Updater subclasses)
# ======================================================================================

def sum_geom(a, r, n):
    return a * n if r == 1 else math.ceil(a * (1 - r ** n) / (1 - r))


class Fa07Sched:
    """Base: LR_Updater. calc_lr once at on_train_begin and after every batch; calc_mom after."""

    def __init__(self, init_lrs, moms=None):
        self.init_lrs = list(init_lrs)
        self.moms = moms
        self.record_mom = moms is not None
        self.cycle_ends = []

    def scale(self, f):
        # init_lrs is a numpy float64 array in fastai; element-wise ops are plain IEEE doubles
        return [f(x) for x in self.init_lrs]


class Fa07Constant(Fa07Sched):
    def on_train_begin(self):
        self.iteration = 0
        self.lrs = list(self.init_lrs)
        self.mom = None

    def on_batch_end(self):
        self.iteration += 1


class Fa07Updater(Fa07Sched):
    def on_train_begin(self):
        self.cycle_iter, self.cycle_count = 0, 0
        self.iteration = 0
        self.lrs = self.calc_lr()
        self.mom = self.calc_mom() if self.record_mom else None

    def on_batch_end(self):
        self.iteration += 1
        self.lrs = self.calc_lr()
        if self.record_mom:
            self.mom = self.calc_mom()

    def end_of_iter(self):
        self.cycle_iter += 1
        if self.cycle_iter == self.nb:
            self.cycle_iter = 0
            self.after_cycle()
            self.cycle_ends.append(self.iteration)  # on_cycle_end(self, cycle_count)
            self.cycle_count += 1

    def after_cycle(self):
        pass


class Fa07CosAnneal(Fa07Updater):
    def __init__(self, init_lrs, nb, cycle_mult=1):
        super().__init__(init_lrs)
        self.nb, self.cycle_mult = nb, cycle_mult

    def calc_lr(self):
        if self.iteration < self.nb / 20:
            self.cycle_iter += 1
            return self.scale(lambda x: x / 100.)
        cos_out = math.cos(math.pi * self.cycle_iter / self.nb) + 1
        self.end_of_iter()
        return self.scale(lambda x: x / 2 * cos_out)

    def after_cycle(self):
        self.nb *= self.cycle_mult


class Fa07CircularLR(Fa07Updater):
    def __init__(self, init_lrs, nb, div, cut_div, moms=None):
        super().__init__(init_lrs, moms)
        self.nb, self.div, self.cut_div = nb, div, cut_div

    def calc_lr(self):
        cut_pt = self.nb // self.cut_div
        c = self.cycle_iter
        if c > cut_pt:
            pct = 1 - (c - cut_pt) / (self.nb - cut_pt)
        else:
            pct = c / cut_pt
        k = (1 + pct * (self.div - 1))
        res = self.scale(lambda x: x * k / self.div)
        self.end_of_iter()
        return res

    def calc_mom(self):
        cut_pt = self.nb // self.cut_div
        c = self.cycle_iter  # already advanced by calc_lr
        if c > cut_pt:
            pct = (c - cut_pt) / (self.nb - cut_pt)
        else:
            pct = 1 - c / cut_pt
        return self.moms[1] + pct * (self.moms[0] - self.moms[1])


class Fa07CircularLRBeta(Fa07Updater):
    def __init__(self, init_lrs, nb, div, pct, moms=None):
        super().__init__(init_lrs, moms)
        self.nb, self.div, self.pct = nb, div, pct
        self.cycle_nb = int(nb * (1 - pct / 100) / 2)

    def calc_lr(self):
        c, cn = self.cycle_iter, self.cycle_nb
        if c > 2 * cn:
            pct = (c - 2 * cn) / (self.nb - 2 * cn)
            k = (1 + (pct * (1 - 100) / 100))
        elif c > cn:
            pct = 1 - (c - cn) / cn
            k = (1 + pct * (self.div - 1))
        else:
            pct = c / cn
            k = (1 + pct * (self.div - 1))
        res = self.scale(lambda x: x * k / self.div)
        self.end_of_iter()
        return res

    def calc_mom(self):
        c, cn = self.cycle_iter, self.cycle_nb
        if c > 2 * cn:
            return self.moms[0]
        elif c > cn:
            pct = 1 - (c - cn) / cn
        else:
            pct = c / cn
        return self.moms[0] + pct * (self.moms[1] - self.moms[0])


def fa07_fit(lrs, n_cycle, bpe, cycle_len=None, cycle_mult=1, use_clr=None, use_clr_beta=None):
    """Returns (lr per group, momentum per group or None, n_epoch, sched)."""
    init = list(lrs)
    if use_clr is not None:
        div, cut_div = use_clr[:2]
        moms = use_clr[2:] if len(use_clr) > 2 else None
        assert cycle_len, "use_clr requires cycle_len arg"
        sched = Fa07CircularLR(init, bpe * cycle_len, div, cut_div, moms)
    elif use_clr_beta is not None:
        div, pct = use_clr_beta[:2]
        moms = use_clr_beta[2:] if len(use_clr_beta) > 3 else None
        assert cycle_len, "use_clr_beta requires cycle_len arg"
        sched = Fa07CircularLRBeta(init, bpe * cycle_len, div, pct, moms)
    elif cycle_len:
        sched = Fa07CosAnneal(init, bpe * cycle_len, cycle_mult)
    else:
        sched = Fa07Constant(init)
    n_epoch = int(sum_geom(cycle_len if cycle_len else 1, cycle_mult, n_cycle))
    out_lr = [[] for _ in init]
    out_mom = [[] for _ in init] if sched.record_mom else None
    sched.on_train_begin()
    for _ in range(n_epoch):
        for _b in range(bpe):
            for g in range(len(init)):
                out_lr[g].append(float(sched.lrs[g]))
                if out_mom is not None:
                    out_mom[g].append(float(sched.mom))  # set_mom writes every group
            sched.on_batch_end()
    return out_lr, out_mom, n_epoch, sched


FA07_CASES = []
FA07_ERRORS = []


def fa07_case(name, lrs, n_cycle, bpe, note=None, **kw):
    FA07_CASES.append((name, list(lrs), n_cycle, bpe, kw, note))


def fa07_error(name, lrs, n_cycle, bpe, parameter, note=None, **kw):
    FA07_ERRORS.append((name, list(lrs), n_cycle, bpe, kw, parameter, note))


def fa07_args(lrs, n_cycle, bpe, kw):
    a = ["--lr", fmt_value(lrs)]
    if n_cycle != 1:
        a += ["--cycles", fmt_value(n_cycle)]
    if kw.get("cycle_len") is not None:
        a += ["--cycle-len", fmt_value(kw["cycle_len"])]
    if kw.get("cycle_mult", 1) != 1:
        a += ["--cycle-mult", fmt_value(kw["cycle_mult"])]
    if kw.get("use_clr") is not None:
        a += ["--use-clr", fmt_value(list(kw["use_clr"]))]
    if kw.get("use_clr_beta") is not None:
        a += ["--use-clr-beta", fmt_value(list(kw["use_clr_beta"]))]
    a += ["--batches-per-epoch", fmt_value(bpe)]
    return a


def fa07_call(lrs, n_cycle, bpe, kw):
    lr = repr(lrs[0]) if len(lrs) == 1 else "np.array(%r)" % (lrs,)
    extra = "".join(", %s=%s" % (k, py_call(v)) for k, v in kw.items())
    return "learn.fit(%s, %r%s) with len(data.trn_dl) == %d" % (lr, n_cycle, extra, bpe)


def define_fa07_cases():
    fa07_case("fit_constant_3ep", [0.01], 3, 5, note="constant lr (LossRecorder)")
    fa07_case("fit_constant_3groups", [1e-4, 1e-3, 1e-2], 2, 3)
    # CosAnneal (cycle_len)
    fa07_case("cosanneal_nb10", [0.01], 1, 10, cycle_len=1, note="spec 1.3: warm-up of 1 batch at lr/100")
    fa07_case("cosanneal_nb4_mult2_3cycles", [0.01], 3, 4, cycle_len=1, cycle_mult=2,
              note="spec 1.3: 7 epochs, 28 batches; on_cycle_end after batches 3, 11, 27")
    fa07_case("cosanneal_nb100", [0.01], 1, 100, cycle_len=1, note="spec 1.3: 5 warm-up batches")
    fa07_case("cosanneal_3cycles_len1", [0.01], 3, 8, cycle_len=1)
    fa07_case("cosanneal_len2_mult2", [0.02], 3, 3, cycle_len=2, cycle_mult=2, note="14 epochs")
    fa07_case("cosanneal_len1_mult3", [0.01], 3, 2, cycle_len=1, cycle_mult=3, note="13 epochs")
    fa07_case("cosanneal_3groups", [1e-4, 1e-3, 1e-2], 2, 6, cycle_len=1, cycle_mult=2,
              note="differential lrs: same factor on every group")
    fa07_case("cosanneal_nb21", [0.05], 1, 21, cycle_len=1, note="nb/20 = 1.05: 2 warm-up batches")
    fa07_case("cosanneal_nb40_len2", [0.1], 2, 20, cycle_len=2,
              note="nb = 40, nb/20 = 2: 2 warm-up batches, 2 cycles")
    fa07_case("cosanneal_mult25_rewarm", [0.01], 2, 2, cycle_len=1, cycle_mult=25,
              note="cycle_mult > 20: after cycle 1 nb = 50, so iteration 2 < 50/20 and the lr/100 "
                   "warm-up fires again on the first batch of cycle 2")
    fa07_case("cosanneal_bpe1_len1", [0.1], 6, 1, cycle_len=1,
              note="nb = 1 quirk: the warm-up branch advances cycle_iter without the end-of-cycle test, so "
                   "cycle_iter runs past nb and never resets: lr/100, 0, lr, 0, lr, ... (no restarts)")
    # CircularLR (use_clr)
    fa07_case("clr_20_5_nb10_2cycles", [0.01], 2, 10, cycle_len=1, use_clr=(20, 5),
              note="spec 1.4; second cycle repeats exactly")
    fa07_case("clr_10_4_mom_nb10", [0.01], 1, 10, cycle_len=1, use_clr=(10, 4, 0.95, 0.85),
              note="spec 1.4; momentum leads lr by one batch")
    fa07_case("clr_32_10_nb12", [0.01], 1, 12, cycle_len=1, use_clr=(32, 10), note="spec 1.4")
    fa07_case("clr_20_5_3groups", [1e-3, 3e-3, 1e-2], 1, 10, cycle_len=1, use_clr=(20, 5),
              note="spec 1.4 differential lrs")
    fa07_case("clr_mult2_7cycles", [0.01], 3, 6, cycle_len=1, cycle_mult=2, use_clr=(10, 3, 0.95, 0.85),
              note="cycle_mult only changes n_epoch: 7 identical one-epoch cycles")
    fa07_case("clr_32_10_len10_bpe5", [0.003], 1, 5, cycle_len=10, use_clr=(32, 10),
              note="nb = 50, cut_pt = 5")
    fa07_case("clr_float_div", [0.02], 2, 7, cycle_len=1, use_clr=(4.5, 3.5, 0.9, 0.8),
              note="float div and cut_div: cut_pt = 7 // 3.5 = 2.0")
    fa07_case("clr_len3_mom_2groups", [0.01, 0.1], 2, 4, cycle_len=3, use_clr=(25, 6, 0.95, 0.85))
    fa07_case("clr_cut_div_equals_nb", [0.01], 1, 8, cycle_len=1, use_clr=(10, 8),
              note="cut_pt = 1")
    # CircularLR_beta (use_clr_beta)
    fa07_case("clr_beta_20_10_mom_nb10", [0.01], 1, 10, cycle_len=1, use_clr_beta=(20, 10, 0.95, 0.85),
              note="spec 1.5")
    fa07_case("clr_beta_10_10_mom_nb20", [0.01], 1, 20, cycle_len=1, use_clr_beta=(10, 10, 0.95, 0.85),
              note="spec 1.5")
    fa07_case("clr_beta_10_13.68_nb100", [0.01], 1, 100, cycle_len=1, use_clr_beta=(10, 13.68),
              note="spec 1.5: cycle_nb = 43")
    fa07_case("clr_beta_3values_no_mom", [0.01], 1, 12, cycle_len=1, use_clr_beta=(10, 10, 0.95),
              note="3 values: momentum needs all 4, so no momentum schedule and no error")
    fa07_case("clr_beta_3groups_2cycles", [1e-4, 1e-3, 1e-2], 2, 15, cycle_len=1,
              use_clr_beta=(25, 20, 0.95, 0.85))
    fa07_case("clr_beta_mult2", [0.01], 2, 5, cycle_len=1, cycle_mult=2, use_clr_beta=(10, 30, 0.9, 0.8),
              note="n_epoch = 3 (1+2), three identical cycles of nb = 5")
    fa07_case("clr_beta_pct0", [0.05], 1, 9, cycle_len=1, use_clr_beta=(10, 0, 0.95, 0.85),
              note="pct 0: cycle_nb = 4, phase 3 has the leftover batch")
    fa07_case("clr_beta_len5_bpe60", [0.1], 1, 60, cycle_len=5, use_clr_beta=(10, 10, 0.95, 0.85),
              note="300 batches, cycle_nb = 135")
    # errors
    fa07_error("error_clr_nb_lt_cut_div", [0.01], 1, 4, "--use-clr", cycle_len=1, use_clr=(20, 5),
               note="nb = 4 < cut_div = 5: cut_pt = 0, 0/0 in the first calc_lr (on_train_begin)")
    fa07_error("error_clr_without_cycle_len", [0.01], 1, 10, "--cycle-len", use_clr=(20, 5))
    fa07_error("error_clr_beta_without_cycle_len", [0.01], 1, 10, "--cycle-len", use_clr_beta=(10, 10))
    fa07_error("error_clr_one_value", [0.01], 1, 10, "--use-clr", cycle_len=1, use_clr=(20,))
    fa07_error("error_clr_three_values", [0.01], 1, 10, "--use-clr", cycle_len=1, use_clr=(20, 5, 0.95),
               note="moms = (0.95,), calc_mom reads moms[1]")
    fa07_error("error_clr_beta_cycle_nb_0", [0.01], 1, 1, "--use-clr-beta", cycle_len=1,
               use_clr_beta=(10, 10), note="nb = 1: cycle_nb = int(0.45) = 0, then 0/0")


def fa07_family():
    define_fa07_cases()
    cases, errors = [], []
    for name, lrs, n_cycle, bpe, kw, note in FA07_CASES:
        lr, mom, n_epoch, sched = fa07_fit(lrs, n_cycle, bpe, **kw)
        c = {"name": name, "policy": "fit", "args": fa07_args(lrs, n_cycle, bpe, kw),
             "iterations": n_epoch * bpe, "lr": lr, "momentum": mom,
             "reference_call": fa07_call(lrs, n_cycle, bpe, kw), "n_epoch": n_epoch}
        if isinstance(sched, Fa07Updater):
            c["on_cycle_end_at_iteration"] = sched.cycle_ends
        if note:
            c["note"] = note
        cases.append(c)
    for name, lrs, n_cycle, bpe, kw, parameter, note in FA07_ERRORS:
        try:
            fa07_fit(lrs, n_cycle, bpe, **kw)
            raise SystemExit("expected fastai 0.7 emulation to fail for %s" % name)
        except (AssertionError, ZeroDivisionError, ValueError, IndexError) as e:
            msg = err_text(e)
        e = {"name": name, "policy": "fit", "args": fa07_args(lrs, n_cycle, bpe, kw),
             "parameter": parameter, "reference_error": msg,
             "reference_call": fa07_call(lrs, n_cycle, bpe, kw)}
        if note:
            e["note"] = note
        errors.append(e)
    return cases, errors


# ======================================================================================
# 3. fastai v2 (fastai.callback.schedule + TrainEvalCallback), own transcription
# ======================================================================================
#
# combine_scheds: pcts = cumsum(tensor([0] + pcts)) in float32 torch tensors;
#   idx = min((pos >= pcts).nonzero().max(), len(pcts) - 2)
#   actual_pos = (pos - pcts[idx]) / (pcts[idx+1] - pcts[idx])        (float32 0-dim tensor)
#   upstream fastai (0a049e8 / 5108887) then calls scheds[idx](actual_pos.item()), so the
#   annealer sees the float32 value widened to a Python float and computes in doubles.
#   "lr"                 : that behaviour (current fastai v2).
#   tensor annealer      : the annealer gets the 0-dim float32 tensor itself (older fastai2 /
#                          course code without .item()): 1-pos and math.pi*(...) are float32.
#                          Only its distance to "lr" is stored (float32_effect).
#   "lr_float64"         : every step in Python doubles (no float32 at all).

def v2_positions(n_epoch, n_iter):
    """pct_train before each training batch, accumulated exactly like TrainEvalCallback."""
    out = []
    for epoch in range(n_epoch):
        pct_train = epoch / n_epoch                       # before_train
        for _ in range(n_iter):
            out.append(pct_train)                         # ParamScheduler.before_batch reads it
            pct_train += 1. / (n_iter * n_epoch)          # after_batch
    return out


def sched_cos(start, end, pos):
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def f32(x):
    """Round a double to the nearest float32 (as a double)."""
    return struct.unpack("f", struct.pack("f", x))[0]


class Combined:
    """combine_scheds(pcts, scheds) with mode 'item' | 'tensor' | 'float64' | 'emu32'.

    'emu32' is a torch-free restatement of what torch does in 'item' mode, asserted equal to it
    for every trace (this is the recipe a C# port can follow with float arithmetic):
      pcts32[0] = 0; pcts32[i+1] = f32(sum_{j<=i} f32(pcts[j]))   (torch's CPU cumsum accumulates
                                                                   float32 inputs in double)
      p = f32(pos)                                                 (the Python float is rounded)
      idx = min(max{i : p >= pcts32[i]}, len(pcts32) - 2)          (float32 comparison)
      actual_pos = f32(f32(p - pcts32[idx]) / f32(pcts32[idx+1] - pcts32[idx]))
      annealer(start, end, actual_pos) in doubles.
    """

    def __init__(self, pcts, scheds, mode):
        assert sum(pcts) == 1.
        self.scheds, self.mode = scheds, mode
        if mode == "emu32":
            assert all(p >= 0 for p in pcts)
            acc, cum = 0.0, [0.0]
            for p in pcts:
                acc += f32(p)
                cum.append(f32(acc))
            self.pcts = cum
        elif mode == "float64":
            acc, cum = 0.0, [0.0]
            assert all(p >= 0 for p in pcts)
            for p in pcts:
                acc = acc + p
                cum.append(acc)
            self.pcts = cum
        else:
            t = torch.tensor([0] + list(pcts))
            assert t.dtype == torch.float32
            assert bool(torch.all(t >= 0))
            self.pcts = torch.cumsum(t, 0)
        self.pct_lim = len(self.pcts) - 2

    def __call__(self, pos):
        if self.mode == "emu32":
            p = f32(pos)
            idx = min(max(i for i, c in enumerate(self.pcts) if p >= c), self.pct_lim)
            ap = f32(f32(p - self.pcts[idx]) / f32(self.pcts[idx + 1] - self.pcts[idx]))
            return self.scheds[idx](ap)
        if self.mode == "float64":
            idx = min(max(i for i, p in enumerate(self.pcts) if pos >= p), self.pct_lim)
            ap = (pos - self.pcts[idx]) / (self.pcts[idx + 1] - self.pcts[idx])
            return self.scheds[idx](ap)
        idx = min((pos >= self.pcts).nonzero().max(), self.pct_lim)
        ap = (pos - self.pcts[idx]) / (self.pcts[idx + 1] - self.pcts[idx])
        assert ap.dtype == torch.float32
        if self.mode == "item":
            return self.scheds[idx](ap.item())
        return self.scheds[idx](ap)

    def index(self, pos):
        if self.mode == "emu32":
            p = f32(pos)
            return min(max(i for i, c in enumerate(self.pcts) if p >= c), self.pct_lim)
        if self.mode == "float64":
            return min(max(i for i, p in enumerate(self.pcts) if pos >= p), self.pct_lim)
        return int(min((pos >= self.pcts).nonzero().max(), self.pct_lim))


def cos_sched(start, end):
    # start/end: list of per-group doubles (numpy arrays in fastai) or a scalar
    if isinstance(start, list):
        return lambda pos: [float(sched_cos(s, e, pos)) for s, e in zip(start, end)]
    return lambda pos: float(sched_cos(start, end, pos))


def combined_cos(pct, start, middle, end, mode):
    return Combined([pct, 1 - pct], [cos_sched(start, middle), cos_sched(middle, end)], mode)


def v2_run(make_scheds, n_epoch, n_iter, n_groups):
    """make_scheds(mode) -> {'lr': f, 'mom': f?}. Returns dict of traces per mode."""
    pos = v2_positions(n_epoch, n_iter)
    res = {}
    for mode in ("item", "tensor", "float64", "emu32"):
        sch = make_scheds(mode)
        lr = [[] for _ in range(n_groups)]
        mom = [[] for _ in range(n_groups)] if "mom" in sch else None
        for p in pos:
            v = sch["lr"](p)
            for g in range(n_groups):
                lr[g].append(v[g])
            if mom is not None:
                m = sch["mom"](p)
                for g in range(n_groups):
                    mom[g].append(m)
        res[mode] = (lr, mom, sch)
    return pos, res


def v2_fit_one_cycle(n_epoch, lr_max, n_iter, div=25., div_final=1e5, pct_start=0.25,
                     moms=(0.95, 0.85, 0.95)):
    lr_max = list(lr_max)

    def mk(mode):
        return {"lr": combined_cos(pct_start, [x / div for x in lr_max], lr_max,
                                   [x / div_final for x in lr_max], mode),
                "mom": combined_cos(pct_start, *moms, mode=mode)}
    return v2_run(mk, n_epoch, n_iter, len(lr_max))


def v2_fit_flat_cos(n_epoch, lr, n_iter, div_final=1e5, pct_start=0.75):
    lr = list(lr)

    def mk(mode):
        return {"lr": combined_cos(pct_start, lr, lr, [x / div_final for x in lr], mode)}
    return v2_run(mk, n_epoch, n_iter, len(lr))


def v2_sgdr_epochs(n_cycles, cycle_len, cycle_mult):
    return cycle_len * (cycle_mult ** n_cycles - 1) // (cycle_mult - 1)


def v2_fit_sgdr(n_cycles, cycle_len, lr_max, n_iter, cycle_mult=2):
    lr_max = list(lr_max)
    n_epoch = v2_sgdr_epochs(n_cycles, cycle_len, cycle_mult)
    pcts = [cycle_len * cycle_mult ** i / n_epoch for i in range(n_cycles)]

    def mk(mode):
        return {"lr": Combined(pcts, [cos_sched(lr_max, [0] * len(lr_max)) for _ in range(n_cycles)],
                               mode)}
    return n_epoch, v2_run(mk, n_epoch, n_iter, len(lr_max))


V2_CASES = []
V2_ERRORS = []


def v2_case(name, kind, kw, note=None):
    V2_CASES.append((name, kind, kw, note))


def v2_error(name, kind, kw, parameter, note=None):
    V2_ERRORS.append((name, kind, kw, parameter, note))


def v2_args(kind, kw):
    a = []
    if kind == "fit-one-cycle":
        a += ["--lr-max", fmt_value(kw["lr_max"])]
        for k in ("div", "div_final", "pct_start", "moms"):
            if k in kw:
                a += ["--" + kebab(k), fmt_value(kw[k])]
        a += ["--epochs", fmt_value(kw["n_epoch"]), "--batches-per-epoch", fmt_value(kw["n_iter"])]
    elif kind == "fit-flat-cos":
        a += ["--lr", fmt_value(kw["lr"])]
        for k in ("pct_start", "div_final"):
            if k in kw:
                a += ["--" + kebab(k), fmt_value(kw[k])]
        a += ["--epochs", fmt_value(kw["n_epoch"]), "--batches-per-epoch", fmt_value(kw["n_iter"])]
    else:
        a += ["--lr-max", fmt_value(kw["lr_max"]), "--n-cycles", fmt_value(kw["n_cycles"]),
              "--cycle-len", fmt_value(kw["cycle_len"])]
        if "cycle_mult" in kw:
            a += ["--cycle-mult", fmt_value(kw["cycle_mult"])]
        a += ["--batches-per-epoch", fmt_value(kw["n_iter"])]
    return a


def v2_call(kind, kw):
    def lrtxt(v):
        return repr(v[0]) if len(v) == 1 else "np.array(%r)" % (list(v),)
    if kind == "fit-one-cycle":
        extra = "".join(", %s=%s" % (k, py_call(kw[k])) for k in ("div", "div_final", "pct_start", "moms")
                        if k in kw)
        return "learn.fit_one_cycle(%d, lr_max=%s%s) with len(dls.train) == %d" % (
            kw["n_epoch"], lrtxt(kw["lr_max"]), extra, kw["n_iter"])
    if kind == "fit-flat-cos":
        extra = "".join(", %s=%s" % (k, py_call(kw[k])) for k in ("div_final", "pct_start") if k in kw)
        return "learn.fit_flat_cos(%d, lr=%s%s) with len(dls.train) == %d" % (
            kw["n_epoch"], lrtxt(kw["lr"]), extra, kw["n_iter"])
    extra = ", cycle_mult=%r" % kw["cycle_mult"] if "cycle_mult" in kw else ""
    return "learn.fit_sgdr(%d, %d, lr_max=%s%s) with len(dls.train) == %d" % (
        kw["n_cycles"], kw["cycle_len"], lrtxt(kw["lr_max"]), extra, kw["n_iter"])


def v2_compute(kind, kw):
    if kind == "fit-one-cycle":
        o = {k: kw[k] for k in ("div", "div_final", "pct_start", "moms") if k in kw}
        pos, res = v2_fit_one_cycle(kw["n_epoch"], kw["lr_max"], kw["n_iter"], **o)
        return kw["n_epoch"], pos, res
    if kind == "fit-flat-cos":
        o = {k: kw[k] for k in ("div_final", "pct_start") if k in kw}
        pos, res = v2_fit_flat_cos(kw["n_epoch"], kw["lr"], kw["n_iter"], **o)
        return kw["n_epoch"], pos, res
    n_epoch, (pos, res) = v2_fit_sgdr(kw["n_cycles"], kw["cycle_len"], kw["lr_max"], kw["n_iter"],
                                      kw.get("cycle_mult", 2))
    return n_epoch, pos, res


def define_v2_cases():
    v2_case("one_cycle_1ep_10b", "fit-one-cycle", dict(lr_max=[0.01], n_epoch=1, n_iter=10), "spec 3.3")
    v2_case("one_cycle_2ep_4b", "fit-one-cycle", dict(lr_max=[0.01], n_epoch=2, n_iter=4), "spec 3.3")
    v2_case("one_cycle_slice_3groups", "fit-one-cycle",
            dict(lr_max=[1e-5, 1e-4, 1e-3], n_epoch=3, n_iter=7),
            "slice(1e-5,1e-3) over 3 groups -> lr_max [1e-5, 1e-4, 1e-3] (spec 3.4)")
    v2_case("one_cycle_3groups_pct0.3", "fit-one-cycle",
            dict(lr_max=[0.0002, 0.0002, 0.002], pct_start=0.3, n_epoch=4, n_iter=5),
            "slice(2e-3) over 3 groups -> [2e-4, 2e-4, 2e-3]; float32 pcts[1] = 0.30000001")
    v2_case("one_cycle_pct0.3_div5", "fit-one-cycle",
            dict(lr_max=[0.001], div=5.0, pct_start=0.3, n_epoch=3, n_iter=11), "fine_tune's 2nd phase")
    v2_case("one_cycle_pct0.99", "fit-one-cycle", dict(lr_max=[0.002], pct_start=0.99, n_epoch=1, n_iter=20),
            "fine_tune's frozen phase")
    v2_case("one_cycle_moms_custom", "fit-one-cycle",
            dict(lr_max=[0.003], moms=(0.9, 0.8, 0.9), div_final=1e4, n_epoch=2, n_iter=9))
    v2_case("one_cycle_pct0.5_div10", "fit-one-cycle",
            dict(lr_max=[0.1], div=10.0, div_final=100.0, pct_start=0.5, n_epoch=3, n_iter=6))
    v2_case("one_cycle_pct0", "fit-one-cycle", dict(lr_max=[0.01], pct_start=0.0, n_epoch=1, n_iter=6),
            "pct_start 0: pcts [0,0,1], pos 0 already selects the decay phase")
    v2_case("one_cycle_pct1", "fit-one-cycle", dict(lr_max=[0.01], pct_start=1.0, n_epoch=1, n_iter=6),
            "pct_start 1: only the warm-up phase is used")
    v2_case("one_cycle_1batch", "fit-one-cycle", dict(lr_max=[0.01], n_epoch=1, n_iter=1))
    v2_case("one_cycle_5ep_60b", "fit-one-cycle", dict(lr_max=[0.004], n_epoch=5, n_iter=60),
            "300 batches")
    v2_case("one_cycle_7ep_3b_pct0.35", "fit-one-cycle",
            dict(lr_max=[0.01, 0.05], pct_start=0.35, n_epoch=7, n_iter=3))
    v2_case("one_cycle_3ep_13b", "fit-one-cycle", dict(lr_max=[0.03], n_epoch=3, n_iter=13))
    v2_case("flat_cos_1ep_8b", "fit-flat-cos", dict(lr=[0.01], n_epoch=1, n_iter=8), "spec 3.3")
    v2_case("flat_cos_3ep_10b", "fit-flat-cos", dict(lr=[0.001], n_epoch=3, n_iter=10))
    v2_case("flat_cos_3groups_pct0.5", "fit-flat-cos",
            dict(lr=[1e-4, 1e-3, 1e-2], pct_start=0.5, div_final=1e3, n_epoch=2, n_iter=7))
    v2_case("flat_cos_pct0.72_11b", "fit-flat-cos", dict(lr=[0.02], pct_start=0.72, n_epoch=5, n_iter=11))
    v2_case("sgdr_3_1_4b", "fit-sgdr", dict(lr_max=[0.01], n_cycles=3, cycle_len=1, n_iter=4),
            "spec 3.3; float32 boundary: the first batch of cycle 3 (index 12) maps to the END of "
            "cycle 2 (lr ~ 0) instead of lr_max")
    v2_case("sgdr_4_1_4b", "fit-sgdr", dict(lr_max=[0.01], n_cycles=4, cycle_len=1, n_iter=4),
            "float32 boundary at epochs 3 and 7")
    v2_case("sgdr_5_1_2b", "fit-sgdr", dict(lr_max=[0.01], n_cycles=5, cycle_len=1, n_iter=2),
            "boundaries exact in float32")
    v2_case("sgdr_2_2_5b", "fit-sgdr", dict(lr_max=[0.05], n_cycles=2, cycle_len=2, n_iter=5))
    v2_case("sgdr_3_1_mult3_3b", "fit-sgdr", dict(lr_max=[0.1], n_cycles=3, cycle_len=1, cycle_mult=3,
                                                  n_iter=3))
    v2_case("sgdr_3groups_3_1_3b", "fit-sgdr", dict(lr_max=[1e-4, 1e-3, 1e-2], n_cycles=3, cycle_len=1,
                                                    n_iter=3))
    v2_case("sgdr_1_cycle", "fit-sgdr", dict(lr_max=[0.01], n_cycles=1, cycle_len=3, n_iter=4))
    v2_case("sgdr_6_1_5b", "fit-sgdr", dict(lr_max=[0.01], n_cycles=6, cycle_len=1, n_iter=5),
            "63 epochs, 315 batches")
    v2_error("error_sgdr_cycle_mult_1", "fit-sgdr",
             dict(lr_max=[0.01], n_cycles=3, cycle_len=1, cycle_mult=1, n_iter=4), "--cycle-mult",
             "n_epoch = cycle_len*(1**n - 1)//0")
    v2_error("error_sgdr_n_cycles_0", "fit-sgdr", dict(lr_max=[0.01], n_cycles=0, cycle_len=1, n_iter=4),
             "--n-cycles", "n_epoch 0, pcts = [], assert sum(pcts) == 1. fails")
    v2_error("error_one_cycle_pct_start_1.5", "fit-one-cycle",
             dict(lr_max=[0.01], pct_start=1.5, n_epoch=1, n_iter=10), "--pct-start",
             "pcts [1.5, -0.5]: assert torch.all(pcts >= 0) fails")
    v2_error("error_flat_cos_pct_start_negative", "fit-flat-cos",
             dict(lr=[0.01], pct_start=-0.25, n_epoch=1, n_iter=10), "--pct-start",
             "pcts [-0.25, 1.25]: sum is 1.0 but assert torch.all(pcts >= 0) fails")


def v2_family():
    define_v2_cases()
    cases, errors, findings = [], [], {}
    for name, kind, kw, note in V2_CASES:
        n_epoch, pos, res = v2_compute(kind, kw)
        lr, mom, sch = res["item"]
        lr_t = res["tensor"][0]
        lr64, mom64, sch64 = res["float64"]
        if res["emu32"][0] != lr or res["emu32"][1] != mom:
            raise SystemExit("torch-free float32 restatement disagrees with torch for %s" % name)
        if [float(x) for x in sch["lr"].pcts] != res["emu32"][2]["lr"].pcts:
            raise SystemExit("float32 cumsum restatement disagrees with torch for %s" % name)
        c = {"name": name, "policy": kind, "args": v2_args(kind, kw), "iterations": len(pos),
             "lr": lr, "momentum": mom, "lr_float64": lr64}
        if mom is not None:
            c["momentum_float64"] = mom64
        c["reference_call"] = v2_call(kind, kw)
        c["n_epoch"] = n_epoch
        c["pcts_float32"] = [float(x) for x in sch["lr"].pcts]
        # phase index selected per batch, float32 vs float64
        idx32 = [sch["lr"].index(p) for p in pos]
        idx64 = [sch64["lr"].index(p) for p in pos]
        worst = 0.0
        for g in range(len(lr)):
            for a, b in zip(lr[g], lr64[g]):
                worst = max(worst, rel_diff(a, b))
        worst_m = 0.0
        if mom is not None:
            for a, b in zip(mom[0], mom64[0]):
                worst_m = max(worst_m, rel_diff(a, b))
        worst_t = 0.0
        for g in range(len(lr)):
            for a, b in zip(lr[g], lr_t[g]):
                worst_t = max(worst_t, rel_diff(a, b))
        c["float32_effect"] = {
            "max_rel_diff_lr_vs_float64": worst,
            "max_rel_diff_momentum_vs_float64": worst_m if mom is not None else None,
            "max_rel_diff_lr_vs_tensor_annealer": worst_t,
            "phase_index_differs_at": [i for i, (a, b) in enumerate(zip(idx32, idx64)) if a != b],
        }
        if note:
            c["note"] = note
        cases.append(c)
        findings[name] = c
    for name, kind, kw, parameter, note in V2_ERRORS:
        try:
            v2_compute(kind, kw)
            raise SystemExit("expected fastai v2 transcription to fail for %s" % name)
        except (AssertionError, ZeroDivisionError, ValueError) as e:
            msg = err_text(e) if str(e) else type(e).__name__
        e = {"name": name, "policy": kind, "args": v2_args(kind, kw), "parameter": parameter,
             "reference_error": msg, "reference_call": v2_call(kind, kw)}
        if note:
            e["note"] = note
        errors.append(e)
    return cases, errors, findings


# ======================================================================================
# 3b. fastai v2 fine_tune (fastai/callback/schedule.py), own transcription
# ======================================================================================
#
# fine_tune(epochs, base_lr=2e-3, freeze_epochs=1, lr_mult=100, pct_start=0.3, div=5.0, **kwargs):
#   freeze(); fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99, **kwargs)
#   base_lr /= 2; unfreeze()
#   fit_one_cycle(epochs, slice(base_lr/lr_mult, base_lr), pct_start=pct_start, div=div, **kwargs)
# fit_one_cycle hands the slice to Optimizer.set_hyper('lr', ...): slice(stop) -> [stop/10]*(n-1) + [stop],
# slice(start, stop) -> even_mults(start, stop, n); then lr_max = np.array(per-group lrs). ParamScheduler
# writes every group's value, frozen or not (a frozen group trains only its BatchNorm layers, train_bn=True).
# fit_one_cycle(0, ...) trains nothing: freeze_epochs = 0 has no frozen phase (base_lr is halved all the same).

def even_mults(start, stop, n):
    """fastai.torch_core.even_mults."""
    if n == 1:
        return stop
    mult = stop / start
    step = mult ** (1 / (n - 1))
    return [start * (step ** i) for i in range(n)]


def v2_slice_lrs(start, stop, n):
    """Optimizer.set_hyper('lr', slice(start, stop)) with n parameter groups."""
    v = even_mults(start, stop, n) if start else [stop / 10] * (n - 1) + [stop]
    if not isinstance(v, list):
        v = [v]
    if len(v) == 1:
        v = v * n
    return v


def v2_fine_tune(epochs, n_iter, n_groups, base_lr=2e-3, freeze_epochs=1, lr_mult=100, pct_start=0.3, div=5.0,
                 **kwargs):
    phases = []
    if freeze_epochs > 0:
        lrs = v2_slice_lrs(None, base_lr, n_groups)
        phases.append(("frozen", freeze_epochs, lrs,
                       v2_fit_one_cycle(freeze_epochs, lrs, n_iter, pct_start=0.99, **kwargs)))
    base_lr /= 2
    lrs = v2_slice_lrs(base_lr / lr_mult, base_lr, n_groups)
    phases.append(("unfrozen", epochs, lrs,
                   v2_fit_one_cycle(epochs, lrs, n_iter, pct_start=pct_start, div=div, **kwargs)))
    return phases


FT_CASES = []


def ft_case(name, kw, note=None):
    FT_CASES.append((name, kw, note))


def ft_args(kw):
    a = ["--epochs", fmt_value(kw["epochs"]), "--batches-per-epoch", fmt_value(kw["n_iter"]),
         "--groups", fmt_value(kw["n_groups"])]
    for k in ("base_lr", "freeze_epochs", "lr_mult", "pct_start", "div", "moms", "div_final"):
        if k in kw:
            a += ["--" + kebab(k), fmt_value(kw[k])]
    return a


def ft_call(kw):
    extra = "".join(", %s=%s" % (k, py_call(kw[k])) for k in
                    ("base_lr", "freeze_epochs", "lr_mult", "pct_start", "div", "moms", "div_final") if k in kw)
    return "learn.fine_tune(%d%s) with len(dls.train) == %d and %d parameter groups" % (
        kw["epochs"], extra, kw["n_iter"], kw["n_groups"])


def define_ft_cases():
    ft_case("fine_tune_defaults_3groups", dict(epochs=3, n_iter=7, n_groups=3),
            "a ResNet's three groups (fastai _resnet_split)")
    ft_case("fine_tune_freeze2_2groups", dict(epochs=2, freeze_epochs=2, n_iter=5, n_groups=2))
    ft_case("fine_tune_custom_4groups", dict(epochs=4, n_iter=3, n_groups=4, base_lr=1e-2, lr_mult=10.0,
                                             pct_start=0.25, div=10.0),
            "even_mults over 4 groups: step = 10**(1/3)")
    ft_case("fine_tune_freeze0", dict(epochs=2, freeze_epochs=0, n_iter=4, n_groups=3),
            "fit_one_cycle(0) trains nothing: no frozen phase, base_lr still halved")
    ft_case("fine_tune_moms_div_final", dict(epochs=1, n_iter=10, n_groups=3, moms=(0.9, 0.8, 0.9), div_final=1e4),
            "**kwargs reach both fit_one_cycle calls")
    ft_case("fine_tune_1batch", dict(epochs=1, n_iter=1, n_groups=2))
    ft_case("fine_tune_60b", dict(epochs=5, freeze_epochs=1, n_iter=60, n_groups=3, base_lr=1e-3),
            "a longer run")


def ft_family():
    define_ft_cases()
    cases = []
    for name, kw, note in FT_CASES:
        args = {k: v for k, v in kw.items() if k not in ("epochs", "n_iter", "n_groups")}
        phases = v2_fine_tune(kw["epochs"], kw["n_iter"], kw["n_groups"], **args)
        c = {"name": name, "args": ft_args(kw), "groups": kw["n_groups"], "batches_per_epoch": kw["n_iter"],
             "reference_call": ft_call(kw), "frozen": None}
        for phase, n_epoch, lrs, (pos, res) in phases:
            lr, mom, _ = res["item"]
            if res["emu32"][0] != lr or res["emu32"][1] != mom:
                raise SystemExit("torch-free float32 restatement disagrees with torch for %s" % name)
            c[phase] = {"epochs": n_epoch, "iterations": len(pos), "lr_max": lrs, "lr": lr, "momentum": mom}
        if note:
            c["note"] = note
        cases.append(c)
    return cases


# ======================================================================================
# 4. Hugging Face transformers (optimization.py helpers; multipliers for LambdaLR)
# ======================================================================================

def hf_constant(t, W):
    if t < W:
        return float(t) / float(max(1.0, W))
    return 1.0


def hf_linear(t, W, N):
    if t < W:
        return float(t) / float(max(1, W))
    return max(0.0, float(N - t) / float(max(1, N - W)))


def hf_cosine(t, W, N, num_cycles=0.5, min_lr_rate=0.0):
    # the module's second definition (with the min_lr_rate floor) is the one in effect
    if t < W:
        return float(t) / float(max(1, W))
    progress = float(t - W) / float(max(1, N - W))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
    factor = factor * (1 - min_lr_rate) + min_lr_rate
    return max(0, factor)


def hf_restarts(t, W, N, num_cycles=1):
    if t < W:
        return float(t) / float(max(1, W))
    progress = float(t - W) / float(max(1, N - W))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def hf_polynomial(t, W, N, lr_end, power, lr_init):
    if t < W:
        return float(t) / float(max(1, W))
    elif t > N:
        return lr_end / lr_init
    else:
        lr_range = lr_init - lr_end
        decay_steps = N - W
        pct_remaining = 1 - (t - W) / decay_steps
        decay = lr_range * pct_remaining ** power + lr_end
        return decay / lr_init


def hf_inverse_sqrt(t, W, timescale):
    if t < W:
        return float(t) / float(max(1, W))
    shift = timescale - W
    return 1.0 / math.sqrt((t + shift) / timescale)


def hf_wsd(t, W, S, D, warmup_type, decay_type, min_lr_ratio, num_cycles):
    if t < W:
        progress = float(t) / float(max(1, W))
        if warmup_type == "linear":
            factor = progress
        elif warmup_type == "cosine":
            factor = 0.5 * (1.0 - math.cos(math.pi * progress))
        elif warmup_type == "1-sqrt":
            factor = 1.0 - math.sqrt(1.0 - progress)
        factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
        return max(0.0, factor)
    if t < W + S:
        return 1.0
    if t < W + S + D:
        progress = float(t - W - S) / float(max(1, D))
        if decay_type == "linear":
            factor = 1.0 - progress
        elif decay_type == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
        elif decay_type == "1-sqrt":
            factor = 1.0 - math.sqrt(progress)
        factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
        return max(0.0, factor)
    return min_lr_ratio


WSD_TYPES = ("linear", "cosine", "1-sqrt")

HF_HELPER = {
    "warmup-constant": "get_constant_schedule_with_warmup",
    "warmup-linear": "get_linear_schedule_with_warmup",
    "warmup-cosine": "get_cosine_schedule_with_warmup",
    "warmup-cosine-min": "get_cosine_with_min_lr_schedule_with_warmup",
    "warmup-cosine-restarts": "get_cosine_with_hard_restarts_schedule_with_warmup",
    "warmup-polynomial": "get_polynomial_decay_schedule_with_warmup",
    "inverse-sqrt": "get_inverse_sqrt_schedule",
    "wsd": "get_wsd_schedule",
}


def hf_build(policy, lr0, kw):
    """Returns the multiplier m(t) after HF's construction-time validation (raises like HF)."""
    W = kw.get("num_warmup_steps")
    if policy == "warmup-constant":
        return lambda t: hf_constant(t, W)
    if policy == "warmup-linear":
        return lambda t: hf_linear(t, W, kw["num_training_steps"])
    if policy == "warmup-cosine":
        if "min_lr_rate" in kw:
            return lambda t: hf_cosine(t, W, kw["num_training_steps"], kw.get("num_cycles", 0.5),
                                       kw["min_lr_rate"])
        return lambda t: hf_cosine(t, W, kw["num_training_steps"], kw.get("num_cycles", 0.5))
    if policy == "warmup-cosine-restarts":
        return lambda t: hf_restarts(t, W, kw["num_training_steps"], kw.get("num_cycles", 1))
    if policy == "warmup-polynomial":
        lr_init = lr0[0]  # optimizer.defaults["lr"]
        lr_end, power = kw.get("lr_end", 1e-7), kw.get("power", 1.0)
        if not (lr_init > lr_end):
            raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr_init})")
        return lambda t: hf_polynomial(t, W, kw["num_training_steps"], lr_end, power, lr_init)
    if policy == "inverse-sqrt":
        timescale = kw.get("timescale")
        if timescale is None:
            timescale = W or 10_000
        return lambda t: hf_inverse_sqrt(t, W, timescale)
    if policy == "wsd":
        N, S = kw.get("num_training_steps"), kw.get("num_stable_steps")
        if N is None and S is None:
            raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
        wt, dt = kw.get("warmup_type", "linear"), kw.get("decay_type", "cosine")
        if wt not in WSD_TYPES:
            raise ValueError(f"Unknown warmup type: {wt}, expected 'linear', 'cosine' or '1-sqrt'")
        if dt not in WSD_TYPES:
            raise ValueError(f"Unknown decay type: {dt}, expected 'linear', 'cosine' or '1-sqrt'")
        if S is None:
            S = N - W - kw["num_decay_steps"]
        r, c, D = kw.get("min_lr_ratio", 0), kw.get("num_cycles", 0.5), kw["num_decay_steps"]
        return lambda t: hf_wsd(t, W, S, D, wt, dt, r, c)
    raise KeyError(policy)


HF_OPTION = {"num_warmup_steps": "--warmup-steps", "num_training_steps": "--total-steps",
             "num_decay_steps": "--decay-steps", "num_stable_steps": "--stable-steps",
             "num_cycles": "--num-cycles", "min_lr_rate": "--min-lr-ratio",
             "min_lr_ratio": "--min-lr-ratio", "lr_end": "--lr-end", "power": "--power",
             "timescale": "--timescale", "warmup_type": "--warmup-type", "decay_type": "--decay-type"}

HF_CASES = []
HF_ERRORS = []


def hf_case(name, policy, lr0, kw, steps, note=None):
    HF_CASES.append((name, policy, list(lr0), kw, steps, note))


def hf_error(name, policy, lr0, kw, steps, parameter, note=None):
    HF_ERRORS.append((name, policy, list(lr0), kw, steps, parameter, note))


def hf_args(lr0, kw):
    a = ["--lr", fmt_value(lr0)]
    for k, v in kw.items():
        a += [HF_OPTION[k], fmt_value(v)]
    return a


def hf_call(policy, lr0, kw):
    helper = HF_HELPER["warmup-cosine-min" if policy == "warmup-cosine" and "min_lr_rate" in kw
                      else policy]
    o = "SGD([%s], lr=%r)" % (", ".join("{lr=%r}" % x for x in lr0), lr0[0])
    return "%s(opt%s) on %s" % (helper, "".join(", %s=%s" % (k, py_call(v)) for k, v in kw.items()), o)


def define_hf_cases():
    lr = [0.1]
    # constant with warm-up
    hf_case("constant_w3", "warmup-constant", lr, dict(num_warmup_steps=3), 6, "spec 10.2")
    hf_case("constant_w0", "warmup-constant", lr, dict(num_warmup_steps=0), 4, "spec 10.2")
    hf_case("constant_w1", "warmup-constant", lr, dict(num_warmup_steps=1), 4, "spec 10.2")
    hf_case("constant_hf_test", "warmup-constant", [10.0], dict(num_warmup_steps=4), 10,
            "HF ScheduleInitTest vector, lr 10")
    hf_case("constant_w7_2groups", "warmup-constant", [0.1, 0.03], dict(num_warmup_steps=7), 10)
    # linear
    hf_case("linear_w3_n10", "warmup-linear", lr, dict(num_warmup_steps=3, num_training_steps=10), 12,
            "spec 10.3; clamped to 0 after N")
    hf_case("linear_w0_n4", "warmup-linear", lr, dict(num_warmup_steps=0, num_training_steps=4), 6)
    hf_case("linear_edge_w4_n4", "warmup-linear", lr, dict(num_warmup_steps=4, num_training_steps=4), 6,
            "W = N")
    hf_case("linear_edge_w6_n4", "warmup-linear", lr, dict(num_warmup_steps=6, num_training_steps=4), 9,
            "W > N: drops from (W-1)/W*lr0 straight to 0")
    hf_case("linear_hf_test", "warmup-linear", [10.0], dict(num_warmup_steps=2, num_training_steps=10), 10)
    hf_case("linear_w7_n37_2groups", "warmup-linear", [0.1, 0.3],
            dict(num_warmup_steps=7, num_training_steps=37), 40,
            "(N-t)/(N-W) differs from 1-p in the last bit for many t")
    hf_case("linear_w30_n300", "warmup-linear", [0.003], dict(num_warmup_steps=30, num_training_steps=300),
            305)
    # cosine
    hf_case("cosine_w3_n10", "warmup-cosine", lr, dict(num_warmup_steps=3, num_training_steps=10), 13,
            "spec 10.4; rises again past N")
    hf_case("cosine_w2_n10_cycles2", "warmup-cosine", lr,
            dict(num_warmup_steps=2, num_training_steps=10, num_cycles=2.0), 11, "spec 10.4")
    hf_case("cosine_edge_w3_n3", "warmup-cosine", lr, dict(num_warmup_steps=3, num_training_steps=3), 7,
            "spec 10.4: W = N alternates lr0, 0")
    hf_case("cosine_edge_w4_n4", "warmup-cosine", lr, dict(num_warmup_steps=4, num_training_steps=4), 9)
    hf_case("cosine_edge_w5_n2", "warmup-cosine", lr, dict(num_warmup_steps=5, num_training_steps=2), 9,
            "W > N")
    hf_case("cosine_w0_n8", "warmup-cosine", lr, dict(num_warmup_steps=0, num_training_steps=8), 10)
    hf_case("cosine_hf_test", "warmup-cosine", [10.0], dict(num_warmup_steps=2, num_training_steps=10), 10)
    hf_case("cosine_w25_n300_2groups", "warmup-cosine", [0.1, 0.001],
            dict(num_warmup_steps=25, num_training_steps=300), 310)
    hf_case("cosine_cycles1.5_w2_n13", "warmup-cosine", lr,
            dict(num_warmup_steps=2, num_training_steps=13, num_cycles=1.5), 16)
    # cosine with min lr
    hf_case("cosine_min_lr_rate0.1_w3_n10", "warmup-cosine", lr,
            dict(num_warmup_steps=3, num_training_steps=10, min_lr_rate=0.1), 11, "spec 10.5")
    hf_case("cosine_min_lr_0.005_w3_n10", "warmup-cosine", lr,
            dict(num_warmup_steps=3, num_training_steps=10, min_lr_rate=0.005 / 0.1), 11,
            "spec 10.5: min_lr=0.005 -> min_lr_rate = 0.005/0.1 = 0.049999999999999996")
    hf_case("cosine_min_lr_rate0.5_w0_n4", "warmup-cosine", lr,
            dict(num_warmup_steps=0, num_training_steps=4, min_lr_rate=0.5), 7, "spec 10.5")
    hf_case("cosine_min_lr_rate0", "warmup-cosine", lr,
            dict(num_warmup_steps=3, num_training_steps=10, min_lr_rate=0.0), 13, "identical to plain cosine")
    hf_case("cosine_min_lr_rate0.1_cycles2", "warmup-cosine", lr,
            dict(num_warmup_steps=2, num_training_steps=10, num_cycles=2.0, min_lr_rate=0.1), 12)
    hf_case("cosine_min_lr_rate0.05_2groups", "warmup-cosine", [0.1, 0.05],
            dict(num_warmup_steps=4, num_training_steps=20, min_lr_rate=0.05), 24)
    # hard restarts
    hf_case("restarts_w3_n10", "warmup-cosine-restarts", lr, dict(num_warmup_steps=3, num_training_steps=10),
            11, "spec 10.6 (default num_cycles 1): 0 from N on")
    hf_case("restarts_w2_n10_cycles2", "warmup-cosine-restarts", lr,
            dict(num_warmup_steps=2, num_training_steps=10, num_cycles=2), 11, "spec 10.6")
    hf_case("restarts_w1_n8_cycles2", "warmup-cosine-restarts", lr,
            dict(num_warmup_steps=1, num_training_steps=8, num_cycles=2), 9,
            "spec 10.6: restart between steps (c*p = 8/7)")
    hf_case("restarts_hf_test", "warmup-cosine-restarts", [10.0],
            dict(num_warmup_steps=2, num_training_steps=10, num_cycles=2), 10)
    hf_case("restarts_w0_n12_cycles3", "warmup-cosine-restarts", lr,
            dict(num_warmup_steps=0, num_training_steps=12, num_cycles=3), 14)
    hf_case("restarts_edge_w4_n4", "warmup-cosine-restarts", lr,
            dict(num_warmup_steps=4, num_training_steps=4), 7, "W = N: 0 right after the warm-up")
    hf_case("restarts_w5_n60_cycles4_2groups", "warmup-cosine-restarts", [0.1, 0.01],
            dict(num_warmup_steps=5, num_training_steps=60, num_cycles=4), 62)
    hf_case("restarts_cycles2.5", "warmup-cosine-restarts", lr,
            dict(num_warmup_steps=2, num_training_steps=12, num_cycles=2.5), 14, "float num_cycles")
    # polynomial
    hf_case("polynomial_w3_n10", "warmup-polynomial", lr, dict(num_warmup_steps=3, num_training_steps=10),
            11, "spec 10.7, defaults lr_end 1e-7 power 1")
    hf_case("polynomial_w2_n10_power2", "warmup-polynomial", lr,
            dict(num_warmup_steps=2, num_training_steps=10, lr_end=0.01, power=2.0), 12, "spec 10.7")
    hf_case("polynomial_w0_n4_power0.5", "warmup-polynomial", lr,
            dict(num_warmup_steps=0, num_training_steps=4, lr_end=0.01, power=0.5), 6, "spec 10.7")
    hf_case("polynomial_two_groups", "warmup-polynomial", [0.1, 0.05],
            dict(num_warmup_steps=2, num_training_steps=6, lr_end=0.01), 8,
            "lr_init = optimizer.defaults['lr'] = 0.1: group 1 ends at 0.005, not lr_end")
    hf_case("polynomial_edge_w5_n3", "warmup-polynomial", lr, dict(num_warmup_steps=5, num_training_steps=3),
            8, "W > N: never raises, lr_end after the warm-up")
    hf_case("polynomial_hf_test", "warmup-polynomial", [10.0],
            dict(num_warmup_steps=2, num_training_steps=10, power=2.0, lr_end=1e-7), 10)
    hf_case("polynomial_power0", "warmup-polynomial", lr,
            dict(num_warmup_steps=1, num_training_steps=5, lr_end=0.001, power=0.0), 8,
            "power 0: 0**0 = 1 at t = N, so m(N) = 1, then lr_end")
    hf_case("polynomial_w20_n250_power3", "warmup-polynomial", [0.5],
            dict(num_warmup_steps=20, num_training_steps=250, lr_end=1e-4, power=3.0), 255)
    # inverse sqrt
    hf_case("inverse_sqrt_w3", "inverse-sqrt", lr, dict(num_warmup_steps=3), 10, "spec 10.8 (tau = W)")
    hf_case("inverse_sqrt_w0", "inverse-sqrt", lr, dict(num_warmup_steps=0), 4, "tau = 10000 when W = 0")
    hf_case("inverse_sqrt_w4_tau10", "inverse-sqrt", lr, dict(num_warmup_steps=4, timescale=10), 8)
    hf_case("inverse_sqrt_w5_tau2", "inverse-sqrt", lr, dict(num_warmup_steps=5, timescale=2), 9)
    hf_case("inverse_sqrt_hf_test", "inverse-sqrt", [10.0], dict(num_warmup_steps=2), 10)
    hf_case("inverse_sqrt_w100_long_2groups", "inverse-sqrt", [0.001, 0.0005], dict(num_warmup_steps=100),
            300)
    # WSD
    hf_case("wsd_defaults_w2_d3_n10", "wsd", lr,
            dict(num_warmup_steps=2, num_decay_steps=3, num_training_steps=10), 12, "spec 10.9")
    hf_case("wsd_linear_decay_ratio0.1", "wsd", lr,
            dict(num_warmup_steps=2, num_decay_steps=4, num_training_steps=10, decay_type="linear",
                 min_lr_ratio=0.1), 12, "spec 10.9: warm-up starts at r")
    hf_case("wsd_1sqrt_both", "wsd", lr,
            dict(num_warmup_steps=4, num_decay_steps=4, num_training_steps=10, warmup_type="1-sqrt",
                 decay_type="1-sqrt"), 11, "spec 10.9")
    hf_case("wsd_cosine_warmup_ratio0.2", "wsd", lr,
            dict(num_warmup_steps=4, num_decay_steps=3, num_training_steps=10, warmup_type="cosine",
                 min_lr_ratio=0.2), 12, "spec 10.9")
    hf_case("wsd_edge_negative_stable", "wsd", lr,
            dict(num_warmup_steps=4, num_decay_steps=8, num_training_steps=10, decay_type="linear"), 11,
            "W + D > N: S = -2, the decay clock starts inside the warm-up")
    hf_case("wsd_stable_only_w0_cycles1", "wsd", lr,
            dict(num_warmup_steps=0, num_decay_steps=6, num_stable_steps=3, num_cycles=1.0), 12,
            "S given (no N); full cosine wave in the decay")
    hf_case("wsd_both_total_and_stable", "wsd", lr,
            dict(num_warmup_steps=2, num_decay_steps=3, num_training_steps=100, num_stable_steps=2,
                 min_lr_ratio=0.1), 10, "both given: S used, N ignored (HF warns)")
    hf_case("wsd_hf_test_config", "wsd", [10.0],
            dict(num_warmup_steps=2, num_stable_steps=2, num_decay_steps=3, min_lr_ratio=0.1), 10,
            "HF test config; current code starts the warm-up at r (old test expected 0)")
    hf_case("wsd_decay0", "wsd", lr, dict(num_warmup_steps=2, num_decay_steps=0, num_stable_steps=3,
                                           min_lr_ratio=0.25), 8, "D = 0: m = r after the stable phase")
    hf_case("wsd_cosine_warmup_linear_decay_2groups", "wsd", [0.1, 0.02],
            dict(num_warmup_steps=5, num_decay_steps=5, num_training_steps=16, warmup_type="cosine",
                 decay_type="linear", min_lr_ratio=0.05), 18)
    hf_case("wsd_1sqrt_warmup_cosine_decay", "wsd", lr,
            dict(num_warmup_steps=3, num_decay_steps=7, num_training_steps=14, warmup_type="1-sqrt",
                 decay_type="cosine", min_lr_ratio=0.01), 16)
    hf_case("wsd_linear_warmup_1sqrt_decay_long", "wsd", [0.0006],
            dict(num_warmup_steps=30, num_decay_steps=60, num_training_steps=300, decay_type="1-sqrt"), 302)
    hf_case("wsd_decay_skipped", "wsd", lr,
            dict(num_warmup_steps=5, num_decay_steps=2, num_training_steps=4, decay_type="linear",
                 min_lr_ratio=0.3), 8, "S = -3: W+S+D <= W, decay skipped, m = r after warm-up")
    # errors
    hf_error("error_wsd_unknown_decay_type", "wsd", lr,
             dict(num_warmup_steps=2, num_decay_steps=3, num_training_steps=10, decay_type="exp"), 10,
             "--decay-type")
    hf_error("error_wsd_unknown_warmup_type", "wsd", lr,
             dict(num_warmup_steps=2, num_decay_steps=3, num_training_steps=10, warmup_type="sqrt"), 10,
             "--warmup-type")
    hf_error("error_wsd_no_total_no_stable", "wsd", lr, dict(num_warmup_steps=2, num_decay_steps=3), 10,
             "--total-steps")
    hf_error("error_polynomial_lr_end_ge_lr", "warmup-polynomial", lr,
             dict(num_warmup_steps=2, num_training_steps=10, lr_end=0.1), 10, "--lr-end")
    hf_error("error_polynomial_lr_end_gt_lr", "warmup-polynomial", lr,
             dict(num_warmup_steps=2, num_training_steps=10, lr_end=0.5), 10, "--lr-end")
    hf_error("error_inverse_sqrt_timescale0_w0", "inverse-sqrt", lr, dict(num_warmup_steps=0, timescale=0),
             4, "--timescale", "W = 0: m(0) is evaluated at construction")
    hf_error("error_inverse_sqrt_timescale0_w3", "inverse-sqrt", lr, dict(num_warmup_steps=3, timescale=0),
             4, "--timescale", "raises at t = W")
    hf_error("error_polynomial_w4_n4", "warmup-polynomial", lr, dict(num_warmup_steps=4, num_training_steps=4),
             4, "--warmup-steps", "W = N: (t - W)/(N - W) divides by zero at t = N, i.e. in the "
                                  "scheduler.step() after the last of N steps")


def hf_trace(policy, lr0, kw, steps):
    m = hf_build(policy, lr0, kw)
    lr = [[base * m(t) for t in range(steps)] for base in lr0]
    return lr, m


def hf_torch_lambdalr(policy, lr0, kw, steps):
    """Cross-check: drive torch's own LambdaLR with the same multiplier."""
    m = hf_build(policy, lr0, kw)
    o = make_optimizer({"type": "sgd", "lr": lr0})
    s = torch.optim.lr_scheduler.LambdaLR(o, m)
    out = [[] for _ in lr0]
    for t in range(steps):
        for g, pg in enumerate(o.param_groups):
            out[g].append(float(pg["lr"]))
        if t < steps - 1:
            o.step()
            s.step()
    return out


def hf_family():
    define_hf_cases()
    cases, errors = [], []
    for name, policy, lr0, kw, steps, note in HF_CASES:
        lr, m = hf_trace(policy, lr0, kw, steps)
        tl = hf_torch_lambdalr(policy, lr0, kw, steps)
        if tl != lr:
            raise SystemExit("LambdaLR disagrees with the transcription for %s" % name)
        c = {"name": name, "policy": policy, "args": hf_args(lr0, kw), "iterations": steps,
             "lr": lr, "momentum": None, "reference_call": hf_call(policy, lr0, kw)}
        if note:
            c["note"] = note
        # m(steps): what the scheduler.step() after the last recorded step evaluates
        try:
            m(steps)
        except Exception as e:  # pragma: no cover - none of the stored cases raise here
            c["error_at"] = "scheduler.step() after step %d: %s" % (steps - 1, err_text(e))
        cases.append(c)
    for name, policy, lr0, kw, steps, parameter, note in HF_ERRORS:
        at = None
        try:
            m = hf_build(policy, lr0, kw)
            at = "construction"
            m(0)  # LambdaLR evaluates m(0) at construction
            for t in range(1, steps + 1):
                at = ("scheduler.step() after step %d (t = %d)" % (t - 1, t))
                m(t)
            raise SystemExit("expected HF transcription to fail for %s" % name)
        except (ValueError, ZeroDivisionError) as e:
            msg = err_text(e)
            if at is None:
                at = "construction"
        e = {"name": name, "policy": policy, "args": hf_args(lr0, kw), "parameter": parameter,
             "reference_error": msg, "error_at": at, "iterations": steps,
             "reference_call": hf_call(policy, lr0, kw)}
        if note:
            e["note"] = note
        errors.append(e)
    return cases, errors


# ======================================================================================
# Self-check against the worked examples of schedules.md
# ======================================================================================

def by_name(cases):
    return {c["name"]: c for c in cases}


def check_spec(torch_cases, fa07_cases, v2_cases, hf_cases, v2_findings):
    T, F, V, H = by_name(torch_cases), by_name(fa07_cases), by_name(v2_cases), by_name(hf_cases)

    # ---- 1.2 epochs and nb ----
    check_true("1.2 fit(0.01,3)", sum_geom(1, 1, 3) == 3)
    check_true("1.2 cycle_mult=2", sum_geom(1, 2, 3) == 7)
    check_true("1.2 len2 mult2", sum_geom(2, 2, 3) == 14)
    check_true("1.2 len1 mult3", sum_geom(1, 3, 3) == 13)
    s = Fa07CircularLR([0.01], 1000, 32, 10)
    check_true("1.2 use_clr cut_pt 100", 1000 // s.cut_div == 100)
    check_true("1.2 use_clr_beta cycle_nb 431", Fa07CircularLRBeta([0.01], 1000, 10, 13.68).cycle_nb == 431)
    check_true("1.2 clr mult2 -> 7 epochs", F["clr_mult2_7cycles"]["n_epoch"] == 7)

    # ---- 1.3 CosAnneal ----
    check_seq("1.3 nb10", F["cosanneal_nb10"]["lr"][0],
              S("1e-4, 0.0097553, 0.0090451, 0.0079389, 0.0065451, 0.005, 0.0034549, 0.0020611, "
                "0.00095492, 0.00024472"))
    l = F["cosanneal_nb4_mult2_3cycles"]["lr"][0]
    check_seq("1.3 nb4 cycle1", l, S("1e-4, .0085355, .005, .0014645"))
    check_seq("1.3 nb4 cycle2", l, S(".01, .0096194, .0085355, .0069134, .005, .0030866, .0014645, .00038060"),
              start=4)
    check_seq("1.3 nb4 cycle3 head", l, S(".01, .0099039"), start=12)
    check_seq("1.3 nb4 cycle3 tail", l, S(".00038060, 9.607e-5"), start=26)
    check_true("1.3 28 batches", len(l) == 28)
    check_true("1.3 on_cycle_end at 3, 11, 27",
               F["cosanneal_nb4_mult2_3cycles"]["on_cycle_end_at_iteration"] == [3, 11, 27])
    l = F["cosanneal_nb100"]["lr"][0]
    check_seq("1.3 nb100 head", l, S("1e-4, 1e-4, 1e-4, 1e-4, 1e-4, .0099384, .0099114, .0098796"))
    check_seq("1.3 nb100 tail", l, S("2.219e-5, 9.866e-6, 2.467e-6"), start=97)
    g = F["cosanneal_3groups"]["lr"]
    check_true("1.3 differential ratios kept",
               all(abs(g[0][t] * 100 - g[2][t]) <= 1e-15 * g[2][t] + 1e-300 for t in range(len(g[0]))))

    # ---- 1.4 CircularLR ----
    l = F["clr_20_5_nb10_2cycles"]["lr"][0]
    e = S("0.0005, 0.00525, 0.01, 0.0088125, 0.007625, 0.0064375, 0.00525, 0.0040625, 0.002875, 0.0016875")
    check_seq("1.4 (20,5) cycle1", l, e)
    check_seq("1.4 (20,5) cycle2", l, e, start=10)
    check_true("1.4 (20,5) cycles identical", l[:10] == l[10:])
    c = F["clr_10_4_mom_nb10"]
    check_seq("1.4 (10,4) lr", c["lr"][0],
              S(".001, .0055, .01, .008875, .00775, .006625, .0055, .004375, .00325, .002125"))
    check_seq("1.4 (10,4) mom", c["momentum"][0],
              S(".90, .85, .8625, .875, .8875, .90, .9125, .925, .9375, .95"))
    l = F["clr_32_10_nb12"]["lr"][0]
    check_seq("1.4 (32,10) nb12 head", l, S(".0003125, .01, .0091193, .0082386"))
    check_seq("1.4 (32,10) nb12 tail", l, S(".0020739, .0011932"), start=10)
    g = F["clr_20_5_3groups"]["lr"]
    check_seq("1.4 diff batch1", [g[0][0], g[1][0], g[2][0]], S("5e-5, 1.5e-4, 5e-4"))
    check_seq("1.4 diff batch3", [g[0][2], g[1][2], g[2][2]], S("1e-3, 3e-3, 1e-2"))
    check_true("1.4 nb < cut_div raises ZeroDivisionError", True)  # asserted via errors[] generation

    # ---- 1.5 CircularLR_beta ----
    c = F["clr_beta_20_10_mom_nb10"]
    check_seq("1.5 (20,10) lr", c["lr"][0],
              S(".0005, .002875, .00525, .007625, .01, .007625, .00525, .002875, .0005, .0002525"))
    check_seq("1.5 (20,10) mom", c["momentum"][0], S(".925, .90, .875, .85, .875, .90, .925, .95, .95, .95"))
    c = F["clr_beta_10_10_mom_nb20"]
    check_seq("1.5 (10,10) lr", c["lr"][0],
              S(".001, .002, .003, .004, .005, .006, .007, .008, .009, .01, .009, .008, .007, .006, .005, "
                ".004, .003, .002, .001, .000505"))
    check_seq("1.5 (10,10) mom head", c["momentum"][0], S(".93889, .92778"))
    check_seq("1.5 (10,10) mom batch9", c["momentum"][0], S(".85, .86111"), start=8)
    check_seq("1.5 (10,10) mom tail", c["momentum"][0], S(".95, .95, .95"), start=17)
    l = F["clr_beta_10_13.68_nb100"]["lr"][0]
    check_seq("1.5 (10,13.68) lr[0]", l, S(".001"))
    check_seq("1.5 (10,13.68) lr[43]", l, S(".01"), start=43)
    check_seq("1.5 (10,13.68) lr[86]", l, S(".001"), start=86)
    check_seq("1.5 (10,13.68) lr[99]", l, S("8.07e-5"), start=99)

    # ---- 3.3 fastai v2 ----
    # The spec's v2 numbers are [emu] in doubles: the float64 variant must match them to the
    # printed digits, the real (float32-pcts) trace to 5 significant digits.
    c = V["one_cycle_1ep_10b"]
    e = S("4e-4, .0037167, .0090833, .0098907, .0090451, .0075000, .0055227, .0034550, .0016544, .00043237")
    check_seq("3.3 one_cycle(1) lr float64", c["lr_float64"][0], e)
    check_seq("3.3 one_cycle(1) lr", c["lr"][0], e, sig=5)
    e = S(".95, .91545, .85955, .85109, .85955, .875, .89477, .91545, .93346, .94568")
    check_seq("3.3 one_cycle(1) mom float64", c["momentum_float64"][0], e)
    check_seq("3.3 one_cycle(1) mom", c["momentum"][0], e, sig=5)
    e = S("4e-4, .0052, .01, .0093301, .0075, .0050, .0025, .00066997")
    # (.0075/.0050/.0025 are rounded: the end value is lr_max/1e5, e.g. index 4 is 0.007500025)
    check_seq("3.3 one_cycle(2) 4b float64", V["one_cycle_2ep_4b"]["lr_float64"][0], e, exact_short=False)
    check_seq("3.3 one_cycle(2) 4b", V["one_cycle_2ep_4b"]["lr"][0], e, exact_short=False)
    c = V["sgdr_3_1_4b"]
    sg = S(".01, .0085355, .005, .0014645, .01, .0096194, .0085355, .0069134, .005, .0030866, .0014645, "
           ".00038060, .01, .0099039")
    check_seq("3.3 sgdr(3,1) float64", c["lr_float64"][0], sg)
    check_seq("3.3 sgdr(3,1) float64 tail", c["lr_float64"][0], S(".00038060, 9.607e-5"), start=26)
    sg32 = list(sg)
    sg32[12] = None  # the float32 boundary effect, checked below
    check_seq("3.3 sgdr(3,1) float32 (except index 12)", c["lr"][0], sg32, sig=5)
    check_seq("3.3 sgdr(3,1) float32 tail", c["lr"][0], S(".00038060, 9.607e-5"), start=26)
    check_true("3.3 sgdr(3,1) pcts float32 boundary 0.42857146",
               abs(c["pcts_float32"][2] - 0.4285714626312256) == 0)
    check_true("3.3 float32 caveat: index 12 maps to the end of cycle 2",
               c["float32_effect"]["phase_index_differs_at"] == [12] and c["lr"][0][12] < 1e-12)
    check_true("3.3 sgdr(4,1): boundary effect at epochs 3 and 7 (indices 12, 28)",
               V["sgdr_4_1_4b"]["float32_effect"]["phase_index_differs_at"] == [12, 28])
    check_true("3.3 sgdr(5,1): boundaries exact",
               V["sgdr_5_1_2b"]["float32_effect"]["phase_index_differs_at"] == [])
    check_seq("3.3 flat_cos(1) 8b float64", V["flat_cos_1ep_8b"]["lr_float64"][0],
              S(".01, .01, .01, .01, .01, .01, .01, .0050000"))
    check_seq("3.3 flat_cos(1) 8b", V["flat_cos_1ep_8b"]["lr"][0],
              S(".01, .01, .01, .01, .01, .01, .01, .0050000"), sig=5)
    g = V["one_cycle_slice_3groups"]["lr"]
    check_seq("3.4 slice first batch", [g[0][0], g[1][0], g[2][0]], S("4e-7, 4e-6, 4e-5"))
    check_true("3.3 fit_sgdr cycle_mult=1 ZeroDivisionError", True)  # asserted via errors[] generation
    # the cross-library identity: v2 fit_sgdr == 0.7 CosAnneal except the lr/100 batch
    check_true("5 v2 sgdr == 0.7 CosAnneal (float64) except batch 1",
               all(abs(a - b) <= 1e-14 * 0.01 for a, b in
                   zip(V["sgdr_3_1_4b"]["lr_float64"][0][1:], F["cosanneal_nb4_mult2_3cycles"]["lr"][0][1:])))

    # ---- 4.2 CyclicLR ----
    c = T["cyclic_triangular_test"]
    check_seq("4.2 triangular", c["lr"][0], [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3])
    check_seq("4.2 triangular mom", c["momentum"][0], [5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3])
    check_seq("4.2 triangular2", T["cyclic_triangular2_test"]["lr"][0],
              [1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2, 2.5, 3, 2.5, 2, 1.5, 1, 1.25, 1.5, 1.75, 2, 1.75])
    check_seq("4.2 exp_range", T["cyclic_exp_range_test"]["lr"][0],
              S("1, 1.9, 2.62, 3.187, 3.6244, 2.7715, 2.0629, 1.4783, 1, 1.3874, 1.6974, 1.9414, 2.1297"))
    xs = [0, .25, .5, .75, 1, .75, .5, .25, 0, .25, .5, .75, 1]
    check_seq("4.2 exp_range formula", T["cyclic_exp_range_test"]["lr"][0],
              [1 + 4 * x * 0.9 ** t for t, x in enumerate(xs)])
    check_seq("4.2 asymmetric", T["cyclic_asymmetric_up2_down6"]["lr"][0],
              S(".001, .0035, .006, .0051667, .0043333, .0035, .0026667, .0018333, .001, .0035"))

    # ---- 4.3 OneCycleLR ----
    c = T["onecycle_linear_test"]
    check_seq("4.3 linear lr", c["lr"][0], [1, 13, 25, 21.5, 18, 14.5, 11, 7.5, 4, 0.5, -3.0])
    check_seq("4.3 linear mom", c["momentum"][0], [22, 11.5, 1, 4, 7, 10, 13, 16, 19, 22])
    c = T["onecycle_linear_three_phase_test"]
    check_seq("4.3 three_phase lr", c["lr"][0], [1, 9, 17, 25, 17, 9, 1, 0.75, 0.5, 0.25])
    check_seq("4.3 three_phase mom", c["momentum"][0], [22, 15, 8, 1, 8, 15, 22, 22, 22, 22])

    def ann_cos(a, b, p):
        return b + (a - b) / 2.0 * (math.cos(math.pi * p) + 1)
    check_seq("4.3 cos test", T["onecycle_cos_test"]["lr"][0],
              [1, 13, 25] + [ann_cos(25, 0.5, k / 7) for k in range(1, 7)] + [0.5])
    c = T["onecycle_cos_default_T10"]
    check_seq("4.3 cos 0.01 lr", c["lr"][0],
              # spec prints .0095049; torch gives 0.00950484632... (= .0095048, a rounding slip)
              S("4e-4, .0052, .01, .0095048, .0081175, .0061126, .0038874, .0018826, .00049519, 4e-8, "
                ".00049519"))
    check_seq("4.3 cos 0.01 mom", c["momentum"][0],
              S(".95, .90, .85, .85495, .86883, .88887, .91113, .93117, .94505, .95"))
    check_seq("4.3 T50 last 3", T["onecycle_cos_T50_with_step_T"]["lr"][0],
              S("2.0168e-05, 4e-08, 2.0168e-05"), start=48)

    # ---- 4.4 CosineAnnealingLR ----
    check_seq("4.4 T5", T["cosine_T5_test"]["lr"][0],
              S(".5, .45225, .32725, .17275, .047746, 0, .047746, .17275, .32725, .45225, .5, .45225"))
    check_true("4.4 T5 recursion == closed form (<= 1e-12)",
               T["cosine_T5_test"]["closed_form"]["max_rel_diff"] <= 1e-12)
    check_true("4.4 lr at T_max is exactly eta_min (T10, eta 0.01)",
               T["cosine_T10_eta_min_3x"]["lr"][0][10] == 0.01)

    # ---- 4.5 CosineAnnealingWarmRestarts ----
    check_seq("4.5 T0=2 mult2", T["warm_restarts_T0_2_mult2"]["lr"][0],
              S(".01, .005, .01, .0085355, .005, .0014645, .01, .0096194, .0085355, .0069134, .005, .0030866, "
                ".0014645, .00038060"))
    check_seq("4.5 T0=10 eta_min", T["warm_restarts_T0_10_eta_min"]["lr"][0],
              S(".01, .0097798, .0091406, .008145, .0068906, .0055, .0041094, .002855, .0018594, .0012202, .01"))
    # (spec prints .0012203 for index 9; the value is 0.00122024568 -> .0012202, a rounding slip)

    # ---- 4.6 SequentialLR ----
    check_seq("4.6 const+exp", T["sequential_constant_exponential"]["lr"][0],
              S(".005, .005, .005") + [0.05 * 0.9 ** k for k in range(7)], exact_short=True)
    check_seq("4.6 exp+step", T["sequential_exponential_step"]["lr"][0],
              S(".05, .04, .032") + S(".05") * 4 + S(".005") * 4 + S(".0005") * 4 + S(".00005") * 4)
    check_seq("4.6 three", T["sequential_three"]["lr"][0],
              S(".005, .005, .005, .05, .04, .032, .05, .05, .005, .005, .0005, .0005"))
    check_seq("4.6 linear+cosine", T["sequential_linear_cosine"]["lr"][0],
              S("0.1, 0.4, 0.7, 1.0, 0.85355, 0.5, 0.14645, 0.0"))
    # related closed forms
    check_seq("4.6 ConstantLR doc", T["constantlr_doc_example"]["lr"][0], [0.025] * 4 + [0.05] * 3)
    check_seq("4.6 LinearLR doc", T["linear_doc_example"]["lr"][0],
              [0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05, 0.05])
    check_seq("PolynomialLR doc", T["polynomial_doc_example"]["lr"][0],
              [0.001, 0.00075, 0.0005, 0.00025, 0.0, 0.0, 0.0])

    # ---- 10 HF ----
    check_seq("10.2 W3", H["constant_w3"]["lr"][0], S("0, .033333, .066667, .1, .1, .1"))
    check_seq("10.2 W0", H["constant_w0"]["lr"][0], S(".1, .1, .1, .1"))
    check_seq("10.2 W1", H["constant_w1"]["lr"][0], S("0, .1, .1, .1"))
    check_seq("10.2 hf test", H["constant_hf_test"]["lr"][0], [0, 2.5, 5, 7.5, 10, 10, 10, 10, 10, 10])
    check_seq("10.3 W3 N10", H["linear_w3_n10"]["lr"][0],
              S("0, .033333, .066667, .1, .085714, .071429, .057143, .042857, .028571, .014286, 0, 0"))
    check_seq("10.3 W0 N4", H["linear_w0_n4"]["lr"][0], S(".1, .075, .05, .025, 0, 0"))
    check_seq("10.3 W=N=4", H["linear_edge_w4_n4"]["lr"][0], S("0, .025, .05, .075, 0, 0"))
    check_seq("10.3 hf test", H["linear_hf_test"]["lr"][0], [0, 5, 10, 8.75, 7.5, 6.25, 5, 3.75, 2.5, 1.25])
    check_seq("10.4 W3 N10", H["cosine_w3_n10"]["lr"][0],
              S("0, .033333, .066667, .1, .095048, .081174, .061126, .038874, .018826, .0049516, 0, .0049516, "
                ".018826"))
    check_seq("10.4 c=2", H["cosine_w2_n10_cycles2"]["lr"][0],
              S("0, .05, .1, .05, 0, .05, .1, .05, 0, .05, .1"))
    check_seq("10.4 W=N=3", H["cosine_edge_w3_n3"]["lr"][0], S("0, .033333, .066667, .1, 0, .1, 0"))
    check_seq("10.4 hf test", H["cosine_hf_test"]["lr"][0],
              S("0, 5, 10, 9.61, 8.53, 6.91, 5, 3.08, 1.46, 0.38"), abs_tol=1e-2)
    check_seq("10.5 r=0.1", H["cosine_min_lr_rate0.1_w3_n10"]["lr"][0],
              S("0, .033333, .066667, .1, .095544, .083057, .065013, .044987, .026943, .014456, .01"))
    check_seq("10.5 min_lr 0.005", H["cosine_min_lr_0.005_w3_n10"]["lr"][0],
              S("0, .033333, .066667, .1, .095296, .082116, .06307, .04193, .022884, .009704, .005"))
    check_true("10.5 r = 0.049999999999999996", 0.005 / 0.1 == 0.049999999999999996)
    check_seq("10.5 W0 r0.5", H["cosine_min_lr_rate0.5_w0_n4"]["lr"][0],
              S(".1, .092678, .075, .057322, .05, .057322, .075"))
    check_true("10.5 r=0 equals plain cosine",
               H["cosine_min_lr_rate0"]["lr"] == H["cosine_w3_n10"]["lr"])
    check_seq("10.6 W3 N10", H["restarts_w3_n10"]["lr"][0],
              S("0, .033333, .066667, .1, .095048, .081174, .061126, .038874, .018826, .0049516, 0"))
    check_seq("10.6 W2 N10 c2", H["restarts_w2_n10_cycles2"]["lr"][0],
              S("0, .05, .1, .085355, .05, .014645, .1, .085355, .05, .014645, 0"))
    check_seq("10.6 W1 N8 c2", H["restarts_w1_n8_cycles2"]["lr"][0],
              S("0, .1, .081174, .038874, .0049516, .095048, .061126, .018826, 0"))
    check_seq("10.6 hf test", H["restarts_hf_test"]["lr"][0],
              S("0, 5, 10, 8.53, 5, 1.46, 10, 8.53, 5, 1.46"), abs_tol=1e-2)
    check_seq("10.7 W3 N10", H["polynomial_w3_n10"]["lr"][0],
              S("0, .033333, .066667, .1, .085714, .071429, .057143, .042857, .028571, .014286, 1e-07"))
    check_seq("10.7 power2", H["polynomial_w2_n10_power2"]["lr"][0],
              S("0, .05, .1, .078906, .060625, .045156, .0325, .022656, .015625, .011406, .01, .01"))
    check_seq("10.7 power0.5", H["polynomial_w0_n4_power0.5"]["lr"][0],
              S(".1, .087942, .07364, .055, .01, .01"))
    check_seq("10.7 two groups g1", H["polynomial_two_groups"]["lr"][1],
              S("0, .025, .05, .03875, .0275, .01625, .005, .005"))
    check_seq("10.7 hf test", H["polynomial_hf_test"]["lr"][0],
              S("0, 5, 10, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156"), abs_tol=1e-2)
    check_seq("10.8 W3", H["inverse_sqrt_w3"]["lr"][0],
              S("0, .033333, .066667, .1, .086603, .07746, .070711, .065465, .061237, .057735"))
    check_seq("10.8 W0", H["inverse_sqrt_w0"]["lr"][0], S(".1, .099995, .09999, .099985"))
    check_seq("10.8 W4 tau10", H["inverse_sqrt_w4_tau10"]["lr"][0],
              S("0, .025, .05, .075, .1, .095346, .091287, .087706"))
    check_seq("10.8 W5 tau2", H["inverse_sqrt_w5_tau2"]["lr"][0],
              S("0, .02, .04, .06, .08, .1, .08165, .070711, .063246"))
    check_seq("10.8 hf test", H["inverse_sqrt_hf_test"]["lr"][0],
              S("0, 5, 10, 8.165, 7.071, 6.325, 5.774, 5.345, 5, 4.714"), abs_tol=1e-2)
    check_seq("10.9 defaults", H["wsd_defaults_w2_d3_n10"]["lr"][0],
              S("0, .05, .1, .1, .1, .1, .1, .1, .075, .025, 0, 0"))
    check_seq("10.9 linear r0.1", H["wsd_linear_decay_ratio0.1"]["lr"][0],
              S(".01, .055, .1, .1, .1, .1, .1, .0775, .055, .0325, .01, .01"))
    check_seq("10.9 1-sqrt", H["wsd_1sqrt_both"]["lr"][0],
              S("0, .013397, .029289, .05, .1, .1, .1, .05, .029289, .013397, 0"))
    check_seq("10.9 cosine warm-up r0.2", H["wsd_cosine_warmup_ratio0.2"]["lr"][0],
              S(".02, .031716, .06, .088284, .1"))
    check_seq("10.9 negative S", H["wsd_edge_negative_stable"]["lr"][0],
              S("0, .025, .05, .075, .075, .0625, .05, .0375, .025, .0125, 0"))

    failed = [lab for lab, ok in CHECKS if not ok]
    if failed:
        raise SystemExit("%d spec checks failed: %s" % (len(failed), ", ".join(failed)))
    return len(CHECKS)


# ======================================================================================
# main
# ======================================================================================

def torch_findings(cases):
    over = {c["name"]: c["closed_form"] for c in cases
            if "closed_form" in c and (c["closed_form"]["max_rel_diff"] > 1e-12 or "note" in c["closed_form"])}
    worst_other = max(c["closed_form"]["max_rel_diff"] for c in cases
                      if "closed_form" in c and c["name"] not in over)
    return {
        "PolynomialLR_exists": hasattr(torch.optim.lr_scheduler, "PolynomialLR"),
        "chainable_classes": "CosineAnnealingLR, ExponentialLR, PolynomialLR, StepLR, MultiStepLR, LinearLR and "
                             "ConstantLR compute step() recursively from the group's current lr (torch 1.13)",
        "closed_form_over_1e-12": over,
        "closed_form_max_rel_diff_other_cases": worst_other,
    }


def v2_summary(cases):
    by = {c["name"]: c for c in cases}
    s = by["sgdr_3_1_4b"]
    return {
        "sgdr_3_1_float32_boundary_happens": s["float32_effect"]["phase_index_differs_at"] == [12],
        "sgdr_3_1_index12": {"lr": s["lr"][0][12], "lr_float64": s["lr_float64"][0][12],
                             "pcts_float32": s["pcts_float32"], "pos": 3 / 7,
                             "pos_as_float32": f32(3 / 7)},
        "phase_index_differs": {c["name"]: c["float32_effect"]["phase_index_differs_at"] for c in cases
                                if c["float32_effect"]["phase_index_differs_at"]},
        "max_rel_diff_lr_vs_float64_excluding_boundary_flips": max(
            max(rel_diff(a, b) for g in range(len(c["lr"])) for i, (a, b) in
                enumerate(zip(c["lr"][g], c["lr_float64"][g]))
                if i not in c["float32_effect"]["phase_index_differs_at"])
            for c in cases),
        "max_rel_diff_momentum_vs_float64": max(c["float32_effect"]["max_rel_diff_momentum_vs_float64"] or 0.0
                                                for c in cases),
        "max_rel_diff_lr_item_vs_tensor_annealer": max(c["float32_effect"]["max_rel_diff_lr_vs_tensor_annealer"]
                                                       for c in cases),
    }

def dump(path, obj):
    text = json.dumps(obj, indent=None, separators=(",", ":"), allow_nan=False)
    # one case per line keeps diffs readable
    text = text.replace('{"name"', '\n{"name"')
    with open(path, "w") as f:
        f.write(text + "\n")
    return len(text)


def write_fine_tune(tv, py):
    ft_cases = ft_family()
    V = by_name(ft_cases)
    d = V["fine_tune_defaults_3groups"]
    # fastai's numbers, by hand: frozen lr_max = slice(2e-3) = [2e-4, 2e-4, 2e-3], first value lr_max/25;
    # unfrozen lr_max = even_mults(1e-3/100, 1e-3, 3) = [1e-5, 1e-4, 1e-3], first value lr_max/5.
    check_seq("ft frozen first lrs", [g[0] for g in d["frozen"]["lr"]], [2e-4 / 25, 2e-4 / 25, 2e-3 / 25])
    check_seq("ft unfrozen first lrs", [g[0] for g in d["unfrozen"]["lr"]], S("2e-6, 2e-5, 2e-4"))
    check_true("ft frozen phase 7 batches", d["frozen"]["iterations"] == 7)
    check_true("ft unfrozen phase 21 batches", d["unfrozen"]["iterations"] == 21)
    check_true("ft freeze0 has no frozen phase", V["fine_tune_freeze0"]["frozen"] is None)
    failed = [lab for lab, ok in CHECKS if not ok]
    if failed:
        raise SystemExit("%d fine_tune checks failed: %s" % (len(failed), ", ".join(failed)))
    size = dump(os.path.join(OUT_DIR, "fastai2_fine_tune.json"), {
        "source": "own transcription of fastai v2 Learner.fine_tune (fastai/callback/schedule.py) over "
                  "fit_one_cycle, Optimizer.set_hyper's slice semantics and torch_core.even_mults, with the "
                  "float32 combine_scheds of fastai2.json, executed with torch %s (bench/make_reference.py, "
                  "Python %s). 'frozen'/'unfrozen': the two fit_one_cycle calls; lr and momentum of every "
                  "parameter group at every batch (ParamScheduler writes all groups, frozen or not)." % (tv, py),
        "cases": ft_cases})
    print("%-22s %3d cases %7d bytes" % ("fastai2_fine_tune.json", len(ft_cases), size))


def main():
    torch.set_default_dtype(torch.float32)
    tv = torch.__version__
    if sys.argv[1:] == ["fine_tune"]:
        os.makedirs(OUT_DIR, exist_ok=True)
        write_fine_tune(tv, sys.version.split()[0])
        return
    torch_cases, torch_errors, torch_vdep = torch_family()
    fa07_cases, fa07_errors = fa07_family()
    v2_cases, v2_errors, v2_findings = v2_family()
    hf_cases, hf_errors = hf_family()
    n_checks = check_spec(torch_cases, fa07_cases, v2_cases, hf_cases, v2_findings)

    py = sys.version.split()[0]
    os.makedirs(OUT_DIR, exist_ok=True)
    sizes = {}
    sizes["pytorch.json"] = dump(os.path.join(OUT_DIR, "pytorch.json"), {
        "source": "torch.optim.lr_scheduler of torch %s (Debian bookworm python3-torch 1.13.1), run by "
                  "bench/make_reference.py under Python %s; value t = group lr (and momentum, or betas[0] "
                  "for Adam) after t scheduler.step() calls following construction. 'closed_form' compares "
                  "the chainable classes with their textbook formula." % (tv, py),
        "findings": torch_findings(torch_cases),
        "cases": torch_cases, "errors": torch_errors,
        "version_dependent_errors": torch_vdep})
    sizes["fastai07.json"] = dump(os.path.join(OUT_DIR, "fastai07.json"), {
        "source": "pure-Python emulation of fastai 0.7 learn.fit/fit_gen with LossRecorder, CosAnneal, "
                  "CircularLR (post d7b9633) and CircularLR_beta (3578ba9), following "
                  "schedules.md section 1 (bench/make_reference.py, Python %s, math.cos); value t = lr "
                  "(momentum) used for batch t+1; momentum leads the lr by one batch" % py,
        "cases": fa07_cases, "errors": fa07_errors})
    sizes["fastai2.json"] = dump(os.path.join(OUT_DIR, "fastai2.json"), {
        "source": "own transcription of fastai v2 fastai/callback/schedule.py (fit_one_cycle, fit_flat_cos, "
                  "fit_sgdr, combine_scheds, combined_cos) and TrainEvalCallback's pct_train counter, float32 "
                  "parts executed with torch %s (bench/make_reference.py, Python %s). 'lr'/'momentum': "
                  "upstream behaviour (float32 pcts, float32 pos comparison and actual_pos, then "
                  "actual_pos.item() into a double annealer). 'lr_float64'/'momentum_float64': the same in pure doubles. "
                  "float32_effect.max_rel_diff_lr_vs_tensor_annealer: size of the difference to the older "
                  "variant that passes the float32 tensor (no .item()) to the annealer." % (tv, py),
        "findings": v2_summary(v2_cases),
        "cases": v2_cases, "errors": v2_errors})
    sizes["hf_transformers.json"] = dump(os.path.join(OUT_DIR, "hf_transformers.json"), {
        "source": "pure-Python transcription of huggingface/transformers src/transformers/optimization.py "
                  "schedule helpers (schedules.md section 10), lr = base_lr * m(t); every trace was also "
                  "reproduced bit for bit by torch %s LambdaLR driving the same multiplier "
                  "(bench/make_reference.py, Python %s)" % (tv, py),
        "cases": hf_cases, "errors": hf_errors})

    write_fine_tune(tv, py)
    print("spec checks passed: %d" % n_checks)
    for fn, cs, es in (("pytorch.json", torch_cases, torch_errors), ("fastai07.json", fa07_cases, fa07_errors),
                       ("fastai2.json", v2_cases, v2_errors), ("hf_transformers.json", hf_cases, hf_errors)):
        print("%-22s %3d cases %3d errors %7d bytes" % (fn, len(cs), len(es), sizes[fn]))
    print("closed form vs torch chainable (max relative difference > 1e-12):")
    for c in torch_cases:
        cf = c.get("closed_form")
        if cf and (cf["max_rel_diff"] > 1e-12 or "note" in cf):
            print("  %-40s %.3g at step ranges %s %s" % (c["name"], cf["max_rel_diff"],
                                                         cf["steps_over_1e-12"], cf.get("note", "")))
    print("fastai v2 float32 effect (max rel diff lr vs float64, phase index differences):")
    for c in v2_cases:
        f = c["float32_effect"]
        print("  %-30s lr %.3g mom %s tensor-annealer %.3g idx %s" % (
            c["name"], f["max_rel_diff_lr_vs_float64"],
            "-" if f["max_rel_diff_momentum_vs_float64"] is None else "%.3g" % f["max_rel_diff_momentum_vs_float64"],
            f["max_rel_diff_lr_vs_tensor_annealer"], f["phase_index_differs_at"]))


if __name__ == "__main__":
    main()
