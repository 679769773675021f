#!/usr/bin/env python3
"""Prints peer time / nabla time for each model, from the JSON of `nabla bench` and bench/peer.py."""
import json
import sys

# The acceptance targets of the speed issue, for the step and the evaluation.
TARGETS = {"cnn": (2.0, 2.0), "mlp": (3.0, None), "mlp-deep": (3.0, None), "mlp-manual": (1.5, None)}


def main():
    nabla = {m["model"]: m for m in json.load(open(sys.argv[1]))["models"]}
    peer = json.load(open(sys.argv[2]))["models"]
    print("== ratios (peer median / nabla median; > 1: nabla faster)")
    print(f"{'model':10s} {'peer':18s} {'step':>8s} {'target':>7s} {'eval':>8s} {'target':>7s}")
    for name, p in peer.items():
        n = nabla[name]
        step = p["step_ms"] / n["step_ms"]
        t_step, t_eval = TARGETS.get(name, (None, None))
        line = f"{name:10s} {p['peer']:18s} {step:7.2f}x {fmt(t_step)}"
        if "eval_s" in p and "eval_s" in n:
            line += f" {p['eval_s'] / n['eval_s']:7.2f}x {fmt(t_eval)}"
        print(line)


def fmt(target):
    return f"{'>= %.1fx' % target:>7s}" if target else f"{'':>7s}"


if __name__ == "__main__":
    main()
