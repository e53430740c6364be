"""The folded D-HCSF inference path against the unfolded one, in one process (docs/BENCHMARK.md, speed).

    python benchmarks/fold.py [--threads 2]

In eval mode with autograd off, each HCSF layer folds its static graphs and long-range projections
into precomputed weights (``skelgnn.layers.dhcsf.HCSF.folded_weights``); with autograd on (and no parameter
requiring a gradient, so no graph is built) the same model runs the unfolded path. Times both on
the shipped checkpoints at batch 1 and 1024, best of 3 rounds, prints the speed-ups and writes
``benchmarks/results/fold.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def time_modes(model, x, repeats: int) -> dict[str, float]:
    """Best-of-3 seconds per forward pass of ``model(x)``, unfolded and folded."""
    import torch

    best: dict[str, float] = {}
    for _ in range(3):
        for mode in ("unfolded", "folded"):
            with torch.enable_grad() if mode == "unfolded" else torch.no_grad():
                model(x)  # warm (and build the fold)
                t = time.perf_counter()
                for _ in range(repeats):
                    model(x)
                dt = (time.perf_counter() - t) / repeats
            best[mode] = min(best.get(mode, dt), dt)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "fold.json"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.evaluate.speed import machine_info
    from skelgnn.models.checkpoint import load_model

    torch.set_num_threads(args.threads)
    rows = []
    for name in ("skelgnn-1f-cmu-det.pt", "skelgnn-27f-cmu-det.pt"):
        model, _, _ = load_model(REPO / "checkpoints" / name)
        for p in model.parameters():
            p.requires_grad_(False)
        for batch in (1, 1024):
            x = torch.randn(batch, model.receptive_field, 17, 2) * 0.3
            best = time_modes(model, x, 200 if batch == 1 else 10)
            row = {"checkpoint": name, "batch": batch, "unfolded_ms": 1e3 * best["unfolded"],
                   "folded_ms": 1e3 * best["folded"],
                   "speedup": best["unfolded"] / best["folded"]}
            rows.append(row)
            print(f"{name} batch {batch}: unfolded {row['unfolded_ms']:.2f} ms, folded "
                  f"{row['folded_ms']:.2f} ms, speed-up {row['speedup']:.2f}x")
    Path(args.out).write_text(json.dumps({"machine": machine_info(), "threads": args.threads,
                                          "date": time.strftime("%Y-%m-%d"), "rows": rows},
                                         indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
