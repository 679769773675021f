#!/usr/bin/env python3
"""Prints peer time / nabla time for each model, from the JSON of `nabla bench` and of one or more
runs of bench/peer.py (in different environments): against the fastest peer run, model by model."""
import json
import sys

# The acceptance targets of the speed issue, for the step and the evaluation.
TARGETS = {"cnn": (2.0, 2.0), "mlp": (3.0, None), "mlp-deep": (3.0, None), "mlp-manual": (1.5, None)}


def main():
    nabla = {m["model"]: m for m in json.load(open(sys.argv[1]))["models"]}
    runs = [json.load(open(path))["models"] for path in sys.argv[2:]]
    print("== ratios (fastest peer run's median / nabla median; > 1: nabla faster)")
    print(f"{'model':10s} {'peer':18s} {'step':>8s} {'target':>7s} {'eval':>8s} {'target':>7s}")
    for name, first in runs[0].items():
        n = nabla[name]
        step_ms = min(run[name]["step_ms"] for run in runs)
        t_step, t_eval = TARGETS.get(name, (None, None))
        line = f"{name:10s} {first['peer']:18s} {step_ms / n['step_ms']:7.2f}x {fmt(t_step)}"
        if "eval_s" in first and "eval_s" in n:
            eval_s = min(run[name]["eval_s"] for run in runs)
            line += f" {eval_s / n['eval_s']:7.2f}x {fmt(t_eval)}"
        print(line)


def fmt(target):
    return f"{'>= %.1fx' % target:>7s}" if target else f"{'':>7s}"


if __name__ == "__main__":
    main()
