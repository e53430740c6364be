"""Precise BN for every batch-norm model: what it changes in kept checkpoints, after the fact.

    python benchmarks/precise_bn.py --runs RUNS_DIR            # every finished RUN/last.pt
    python benchmarks/precise_bn.py --checkpoint tcn-1f-det-s1=path/last.pt --batches 100

Two graph baselines (``semgcn-1f``, ``mgcn-1f``) are trained with ``train.precise_bn_batches =
100`` (their running statistics lagged their weights); the other rows are not. Precise BN
changes no weight: it re-estimates every batch norm's running mean and variance with the final
weights (:func:`skelgnn.models.bn.recompute_bn_stats`), so it can be applied to a finished
checkpoint. For each checkpoint: the batches the last epoch of its row recipe would draw
(training subjects of the ``test`` split, every 2nd frame, the checkpoint's 2D source, batch 256,
random order and flips from the run's seed), ``--batches`` of them, then the test subjects scored
with and without (P1, action-wise P1, flip TTA). Prints a table and writes
``benchmarks/results/precise_bn.json``. Nothing here chooses a setting.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def with_precise_bn(checkpoint: Path, data, batches: int, out: Path) -> int:  # noqa: ANN001
    """Write ``checkpoint`` with re-estimated batch-norm statistics to ``out``; returns the
    batches used (0: the model has no batch norm)."""
    import numpy as np
    import torch

    from skelgnn.data import WindowDataset, load_benchmark, read_skeleton, read_split
    from skelgnn.data.benchmark import resolve_data_dir
    from skelgnn.models.bn import recompute_bn_stats
    from skelgnn.models.checkpoint import load_checkpoint, load_model, save_checkpoint
    from skelgnn.train.batches import bn_input_batches

    model, codec, info = load_model(checkpoint)
    state = load_checkpoint(checkpoint)
    root = resolve_data_dir(data)
    source = info.get("source", "det")
    subjects = read_split(root / "split.json")["train"]
    train_set = WindowDataset(load_benchmark(root, source, subjects=subjects),
                              model.receptive_field, stride=2, codec=codec)
    seed = int(state.get("config", {}).get("train", {}).get("seed", 1234))
    rng = np.random.default_rng((seed, int(state.get("epoch", 1)) - 1))
    order = rng.permutation(len(train_set))
    flips = torch.from_numpy(rng.random(len(order)) < 0.5)
    used = recompute_bn_stats(model, bn_input_batches(
        train_set, order, 256, batches, skeleton=read_skeleton(root, source), flips=flips))
    state["model"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_checkpoint(state, out)
    return used


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", action="append", default=[], metavar="STEM=PT")
    ap.add_argument("--runs", action="append", default=[], metavar="DIR",
                    help="run directories of benchmarks/run.py (each RUN/last.pt, named by RUN)")
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "precise_bn.json"))
    args = ap.parse_args(argv)
    import torch

    from skelgnn.evaluate.benchmark import evaluate_checkpoint
    from skelgnn.fileio import atomic_write_text
    from hard_free import finished

    torch.set_num_threads(1)
    todo: dict[str, Path] = {}
    for spec in args.checkpoint:
        stem, _, path = spec.partition("=")
        todo[stem] = Path(path)
    for directory in args.runs:
        for run in sorted(Path(directory).iterdir()):
            if finished(run):
                todo[run.name] = run / "last.pt"
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.is_file() else {}
    print("| checkpoint | batches | P1 as trained | P1 precise BN | act. as trained | act. precise BN |")
    print("|---|---|---|---|---|---|")
    for stem, path in todo.items():
        with tempfile.TemporaryDirectory() as tmp:
            precise = Path(tmp) / "precise.pt"
            used = with_precise_bn(path, args.data, args.batches, precise)
            before = evaluate_checkpoint(path, args.data, progress=False)
            after = evaluate_checkpoint(precise, args.data, progress=False) if used else before
        row = {"batches": used, "p1": before["p1"], "p1_action": before["p1_action"],
               "p1_precise": after["p1"], "p1_action_precise": after["p1_action"]}
        result[stem] = row
        print(f"| {stem} | {used} | {row['p1']:.2f} | {row['p1_precise']:.2f} | "
              f"{row['p1_action']:.2f} | {row['p1_action_precise']:.2f} |", flush=True)
        atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
