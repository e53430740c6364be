"""Seed spread of the benchmark rows, and each claim with its uncertainty.

    python benchmarks/seeds.py                                   # SEEDS.md + seeds.json
    python benchmarks/seeds.py --per-sample runs/per_sample      # + paired tests over samples

Gathers every row JSON ``benchmarks/results/<row>-<source>.json`` (the default seed, 1234) and
``<row>-<source>-s<N>.json`` (``benchmarks/run.py --seed N``), and tables, per row and source,
the mean +- sample standard deviation over seeds of P1, P2 (per sample and action-wise), the
fixed hard subsets, the model-free rarest 10% (rows scored since it exists) and the model's own
hardest 10%, with the number of seeds.

For each comparison of a flagship with a baseline, ablation or control (:data:`PAIRS`) it gives
the difference of seed means (baseline minus flagship: positive means the flagship is better),
the ratio flagship / baseline, and a 95% interval for the difference:

* **over seeds**: Welch's t interval when both rows have at least two seeds; when one has a
  single seed, the equal-variance t interval with the spread of the other row (``pooled``: it
  assumes both rows vary alike across seeds); nothing when neither has two seeds;
* **over test samples** (``--per-sample DIR``, where ``DIR`` holds ``<row>-<source>[-s<N>].npz``
  or ``<row>-<source>[-s<N>]/per_sample.npz``, written by ``skelgnn evaluate --per-sample``,
  ``benchmarks/run.py`` or ``benchmarks/hard_free.py``): each sample's error averaged over the
  seeds a row has files for, then :func:`skelgnn.evaluate.samples.paired_difference` (a bootstrap
  over whole test sequences, so correlated neighbouring frames are not counted as independent).
  It says whether the two models differ on this test set; only the interval over seeds says
  whether the difference survives retraining. The same test runs on the model-free rarest 10%
  (:mod:`skelgnn.evaluate.hard_free`; ``--data`` names the benchmark, ``--no-rare`` skips it).

A paired test that this run cannot redo (the per-sample files sit beside the checkpoints, outside
git) is kept from the previous ``seeds.json`` in the output directory and marked (``--fresh``
drops it).

Nothing here trains or scores a model.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_SEED = 1234

METRICS = [("p1", "P1"), ("p1_action", "P1 act."), ("p2", "P2"), ("p2_action", "P2 act."),
           ("hard5_p1", "fixed hard 5%"), ("hard10_p1", "fixed hard 10%"),
           ("rare10_p1", "rare 10%"), ("own_hard10_p1", "own 10%")]
CLAIM_METRICS = [("p1_action", "P1 act."), ("hard10_p1", "fixed hard 10%"),
                 ("rare10_p1", "rare 10%")]

# (flagship, other, sources): each claim the README and DESIGN make
PAIRS: list[tuple[str, str, tuple[str, ...]]] = [
    ("skelgnn-1f", "tcn-1f", ("det", "gt")),
    ("skelgnn-1f", "tcn-1f-tuned", ("det",)),
    ("skelgnn-1f", "mgcn-1f", ("det", "gt")),
    ("skelgnn-1f", "mgcn-1f-tuned", ("det",)),
    ("skelgnn-1f", "fcn-1f", ("det", "gt")),
    ("skelgnn-1f", "fcn-1f-tuned", ("det",)),
    ("skelgnn-1f", "semgcn-1f", ("det", "gt")),
    ("skelgnn-1f", "semgcn-1f-tuned", ("det",)),
    ("skelgnn-1f", "semgcn-nl-1f", ("det", "gt")),
    ("skelgnn-1f", "semgcn-nl-1f-tuned", ("det",)),
    ("skelgnn-1f", "skelgnn-1f-paper", ("det", "gt")),
    ("skelgnn-1f", "skelgnn-1f-nosqueeze", ("det",)),
    ("skelgnn-1f", "skelgnn-1f-flat", ("det",)),
    ("skelgnn-1f", "skelgnn-1f-static", ("det",)),
    ("skelgnn-1f", "control-mlp-1f", ("det", "gt")),
    ("skelgnn-1f", "control-lcn-1f", ("det", "gt")),
    ("skelgnn-1f", "control-mlp-1f-macs", ("det",)),
    ("skelgnn-1f", "control-lcn-1f-macs", ("det",)),
    ("skelgnn-27f", "tcn-27f", ("det", "gt")),
    ("skelgnn-27f", "skelgnn-27f-notemporal", ("det",)),
]

_STEM = re.compile(r"^(?P<row>.+)-(?P<source>det|gt)(?:-s(?P<seed>\d+))?$")


def parse_stem(stem: str) -> Optional[tuple[str, str, Optional[int]]]:
    """``(row, source, seed or None)`` of a result file stem, or None if it is not a row's."""
    m = _STEM.match(stem)
    if not m:
        return None
    return m["row"], m["source"], int(m["seed"]) if m["seed"] else None


def gather(results: Path) -> dict[tuple[str, str], dict[int, dict]]:
    """``{(row, source): {seed: row JSON}}`` of every row result in ``results``."""
    out: dict[tuple[str, str], dict[int, dict]] = {}
    for path in sorted(results.glob("*.json")):
        parsed = parse_stem(path.stem)
        if parsed is None:
            continue
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "row" not in data or "source" not in data:
            continue
        row, source, seed = parsed
        if (data["row"], data["source"]) != (row, source):
            raise ValueError(f"{path}: names row {data['row']!r} / {data['source']!r}")
        if seed is None:
            seed = int(data.get("seed", data.get("config", {}).get("train", {}).get(
                "seed", DEFAULT_SEED)))
        if seed in out.setdefault((row, source), {}):
            raise ValueError(f"{path}: seed {seed} of {row} / {source} appears twice")
        out[(row, source)][seed] = data
    return out


MODEL_FREE = ("rare5_p1", "rare10_p1", "noisy10_p1")


def fill_model_free(table: dict, rows_dir: Path) -> list[str]:
    """Add the model-free subset figures that ``benchmarks/hard_free.py`` measured on a row's
    checkpoint (``rows_dir/<stem>.json``) to row results scored before they existed; the stems
    filled, in order."""
    filled = []
    for (row, source), seeds in table.items():
        for seed, data in seeds.items():
            if all(k in data for k in MODEL_FREE):
                continue
            stems = [f"{row}-{source}-s{seed}"] + ([f"{row}-{source}"] if seed == DEFAULT_SEED
                                                  else [])
            for stem in stems:
                path = rows_dir / f"{stem}.json"
                if path.is_file():
                    measured = json.loads(path.read_text())
                    for k in MODEL_FREE:
                        if k not in data and k in measured:
                            data[k] = measured[k]
                    filled.append(stem)
                    break
    return sorted(filled)


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (None for one value), n, and the values."""
    a = np.asarray(values, np.float64)
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if len(a) > 1 else None,
            "n": int(len(a)), "values": [float(v) for v in a]}


def _t_quantile(df: float, level: float = 0.95) -> float:
    from scipy import stats  # the dev / test extra; only this script needs it

    return float(stats.t.ppf(0.5 + level / 2, df))


def seed_interval(a: list[float], b: list[float], level: float = 0.95) -> dict[str, Any]:
    """Interval for ``mean(b) - mean(a)`` over seeds (see the module docstring)."""
    na, nb = len(a), len(b)
    diff = float(np.mean(b) - np.mean(a))
    out: dict[str, Any] = {"diff": diff, "method": None, "ci_low": None, "ci_high": None,
                           "df": None, "p": None}
    va = float(np.var(a, ddof=1)) if na > 1 else None
    vb = float(np.var(b, ddof=1)) if nb > 1 else None
    if va is not None and vb is not None:
        se2 = va / na + vb / nb
        if se2 == 0:
            return out
        df = se2 ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
        method = "welch"
    elif va is not None or vb is not None:
        v = va if va is not None else vb
        df = (na if va is not None else nb) - 1
        se2 = v * (1 / na + 1 / nb)
        if se2 == 0:
            return out
        method = "pooled"
    else:
        return out
    from scipy import stats

    se = math.sqrt(se2)
    q = _t_quantile(df, level)
    out.update(method=method, df=float(df), ci_low=diff - q * se, ci_high=diff + q * se,
               p=float(2 * stats.t.sf(abs(diff) / se, df)))
    return out


def find_per_sample(directory: Path, row: str, source: str, seed: int) -> Optional[Path]:
    stems = [f"{row}-{source}-s{seed}"] + ([f"{row}-{source}"] if seed == DEFAULT_SEED else [])
    for stem in stems:
        for path in (directory / f"{stem}.npz", directory / stem / "per_sample.npz"):
            if path.is_file():
                return path
    return None


def seed_mean_errors(directory: Path, row: str, source: str, seeds: list[int]):
    """Per-sample errors averaged over the seeds of ``row`` that have a file, and those seeds."""
    from skelgnn.evaluate.samples import PerSample, load_per_sample

    files = [(s, find_per_sample(directory, row, source, s)) for s in seeds]
    found = [(s, p) for s, p in files if p is not None]
    if not found:
        return None, []
    loaded = [load_per_sample(p)[0] for _, p in found]
    first = loaded[0]
    keys = first.keys()
    for other in loaded[1:]:
        if not np.array_equal(other.keys(), keys):
            raise ValueError(f"{row} / {source}: the seeds' per-sample files list different samples")
    mean = PerSample(np.mean([e.p1 for e in loaded], 0), np.mean([e.p2 for e in loaded], 0),
                     first.subject, first.action, first.camera, first.frame)
    return mean, [s for s, _ in found]


def rare_keys(data: Optional[str]) -> np.ndarray:
    """``subject/action/camera/frame`` strings of the model-free rarest 10% of the test samples
    (:mod:`skelgnn.evaluate.hard_free`, cached after its first run)."""
    from skelgnn.evaluate.hard_free import hard_free_measures

    keys = hard_free_measures(data).subset("rarity_mm", 0.10)
    return np.array([f"{s}/{a}/{c}/{f}" for s, a, c, f in keys])


def claims(table: dict, per_sample: Optional[Path],
           rare: Optional[np.ndarray] = None) -> list[dict]:
    out = []
    for a, b, sources in PAIRS:
        for source in sources:
            if (a, source) not in table or (b, source) not in table:
                continue
            ra, rb = table[(a, source)], table[(b, source)]
            entry: dict[str, Any] = {"flagship": a, "other": b, "source": source,
                                     "seeds": [sorted(ra), sorted(rb)], "metrics": {}}
            for key, _ in CLAIM_METRICS:
                va = [r[key] for r in ra.values() if key in r]
                vb = [r[key] for r in rb.values() if key in r]
                if not va or not vb:
                    continue
                iv = seed_interval(va, vb)
                iv.update(ratio=float(np.mean(va) / np.mean(vb)), n=[len(va), len(vb)])
                entry["metrics"][key] = iv
            if per_sample is not None:
                ea, sa = seed_mean_errors(per_sample, a, source, sorted(ra))
                eb, sb = seed_mean_errors(per_sample, b, source, sorted(rb))
                if ea is not None and eb is not None:
                    from skelgnn.evaluate.samples import paired_difference

                    entry["paired_samples"] = {"seeds": [sa, sb],
                                               **paired_difference(ea, eb, "p1")}
                    mask = np.isin(ea.keys(), rare) if rare is not None else None
                    if mask is not None and mask.any():
                        entry["paired_samples_rare10"] = {
                            "seeds": [sa, sb], **paired_difference(ea, eb, "p1", mask=mask)}
            out.append(entry)
    return out


def keep_earlier(pairs: list[dict], earlier: list[dict]) -> list[str]:
    """Keep an earlier run's paired test where this run cannot redo it with at least its seeds.

    Per-sample files live beside the checkpoints, outside git; a fresh checkout has none. A
    paired test of ``earlier`` (the ``claims`` of a previous ``seeds.json``) is kept, marked
    ``"carried": true``, when this run computed none for the same pair and source, or one over
    fewer seeds of either row. Returns ``flagship / other / source`` of each pair kept.
    """
    old = {(e["flagship"], e["other"], e["source"]): e for e in earlier}
    kept = []
    for entry in pairs:
        prev = old.get((entry["flagship"], entry["other"], entry["source"]))
        if prev is None:
            continue
        carried = False
        for key in ("paired_samples", "paired_samples_rare10"):
            before, now = prev.get(key), entry.get(key)
            if before is None:
                continue
            covers = now is not None and all(
                set(b) <= set(n) for b, n in zip(before["seeds"], now["seeds"]))
            if not covers:
                entry[key] = {**before, "carried": True}
                carried = True
        if carried:
            kept.append(f"{entry['flagship']} / {entry['other']} / {entry['source']}")
    return kept


def _fmt(s: Optional[dict]) -> str:
    if s is None:
        return "-"
    sd = "" if s["sd"] is None else f" +- {s['sd']:.1f}"
    return f"{s['mean']:.1f}{sd}"


def _ci(iv: dict) -> str:
    if iv["ci_low"] is None:
        return f"{iv['diff']:+.1f} (no interval)"
    return (f"{iv['diff']:+.1f} [{iv['ci_low']:+.1f}, {iv['ci_high']:+.1f}] "
            f"{iv['method']}, p {iv['p']:.2g}")


def markdown(rows: dict, pairs: list[dict], filled: Optional[list[str]] = None) -> str:
    from skelgnn.tables import format_table

    order = {a: i for i, (a, _, _) in enumerate(PAIRS)}
    order.update({b: 100 + i for i, (_, b, _) in enumerate(PAIRS)})
    keys = sorted(rows, key=lambda k: (k[1], order.get(k[0], 999), k[0]))
    lines = ["# Seeds: every row as mean +- sd over its training seeds", "",
             "Generated by `python benchmarks/seeds.py` from the row JSONs in this directory "
             f"(`<row>-<source>.json` = seed {DEFAULT_SEED}, `<row>-<source>-s<N>.json` = seed N). "
             "mm on the test subjects, flip TTA, last epoch; sd is the sample standard deviation "
             "over seeds (none for one seed). `rare 10%`: the model-free hard subset "
             "(`skelgnn.evaluate.hard_free`), in the row JSON for rows scored since it exists, "
             "else from `benchmarks/results/hard_free/rows/` where the row's checkpoint was kept "
             f"({', '.join(f'`{s}`' for s in filled or []) or 'none'}; the default-seed "
             "checkpoints there are the shipped half-precision copies); '-' where neither "
             "exists.", "",
             format_table(["row", "source", "seeds"] + [label for _, label in METRICS],
                          [[r, s, str(rows[(r, s)]["n"])]
                           + [_fmt(rows[(r, s)]["metrics"].get(k)) for k, _ in METRICS]
                           for r, s in keys], markdown=True), "",
             "## Claims with their uncertainty", "",
             "Difference = other row minus flagship (positive: the flagship is better), in mm, "
             "with a 95% t interval over seeds: `welch` when both rows have two or more seeds, "
             "`pooled` when one has a single seed (the other row's seed spread stands in for "
             "both: an assumption), none when neither has two. ratio = flagship / other, "
             "seed means.", ""]
    table = []
    for p in pairs:
        n = f"{len(p['seeds'][0])} / {len(p['seeds'][1])}"
        cells = [p["flagship"], p["other"], p["source"], n]
        for key, _ in CLAIM_METRICS:
            iv = p["metrics"].get(key)
            cells.append("-" if iv is None else f"{_ci(iv)}; x{iv['ratio']:.3f}")
        for key in ("paired_samples", "paired_samples_rare10"):
            ps = p.get(key)
            cells.append("-" if ps is None else
                         f"{ps['mean']:+.2f} [{ps['ci_low']:+.2f}, {ps['ci_high']:+.2f}], "
                         f"better on {100 * ps['a_better_share']:.0f}% (seeds "
                         f"{len(ps['seeds'][0])} / {len(ps['seeds'][1])})"
                         + ("*" if ps.get("carried") else ""))
        table.append(cells)
    lines.append(format_table(["flagship", "other", "source", "seeds"]
                              + [label for _, label in CLAIM_METRICS]
                              + ["P1 paired over samples", "same, rare 10%"], table,
                              markdown=True))
    lines += ["", "P1 paired over samples: per-sample P1 averaged over the seeds that have "
              "per-sample files, difference of the means over the common test samples, 95% "
              "bootstrap interval over whole test sequences (2,000 resamples); the share of "
              "samples on which the flagship is better. It measures this test set, not "
              "retraining. `same, rare 10%`: the same test on the model-free rarest 10% of "
              "test samples only. `*`: kept from an earlier run of this script whose per-sample "
              "files this run did not have (they sit beside the checkpoints, outside git); its "
              "seeds are the ones named."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=str(RESULTS), help="directory of the row JSONs")
    ap.add_argument("--per-sample", default=None, metavar="DIR",
                    help="directory of per-sample .npz files (paired tests over samples)")
    ap.add_argument("--hard-free", default=str(RESULTS / "hard_free" / "rows"), metavar="DIR",
                    help="benchmarks/hard_free.py's per-checkpoint figures: the model-free subsets "
                         "of rows scored before they existed ('' for none)")
    ap.add_argument("--data", default=None, help="benchmark directory (for the rarest 10%% in the "
                                                 "paired tests)")
    ap.add_argument("--no-rare", action="store_true",
                    help="no paired test on the rarest 10%% (needs no benchmark directory)")
    ap.add_argument("--fresh", action="store_true",
                    help="drop the paired tests of the previous seeds.json that this run cannot "
                         "redo (by default they are kept and marked)")
    ap.add_argument("--out", default=None, help="where SEEDS.md and seeds.json go "
                                                "(default: --results)")
    args = ap.parse_args(argv)
    results = Path(args.results)
    if not results.is_dir():
        raise SystemExit(f"error: results directory not found: {results}")
    gathered = gather(results)
    filled = fill_model_free(gathered, Path(args.hard_free)) if args.hard_free else []
    rows = {}
    for (row, source), seeds in gathered.items():
        metrics = {}
        for key, _ in METRICS:
            vals = [seeds[s][key] for s in sorted(seeds) if key in seeds[s]]
            if vals:
                metrics[key] = spread(vals)
        rows[(row, source)] = {"n": len(seeds), "seeds": sorted(seeds), "metrics": metrics,
                               "commits": sorted({seeds[s].get("commit", "?") for s in seeds})}
    per_sample = Path(args.per_sample) if args.per_sample else None
    if per_sample is not None and not per_sample.is_dir():
        raise SystemExit(f"error: per-sample directory not found: {per_sample}")
    rare = rare_keys(args.data) if per_sample is not None and not args.no_rare else None
    pairs = claims(gathered, per_sample, rare)
    out = Path(args.out) if args.out else results
    previous = out / "seeds.json"
    if not args.fresh and previous.is_file():
        kept = keep_earlier(pairs, json.loads(previous.read_text()).get("claims", []))
        if kept:
            print(f"kept {len(kept)} earlier paired tests whose per-sample files are not here "
                  f"(--fresh drops them): {'; '.join(kept)}")
    out.mkdir(parents=True, exist_ok=True)
    from skelgnn.fileio import atomic_write_text

    atomic_write_text(out / "seeds.json", json.dumps(
        {"default_seed": DEFAULT_SEED,
         "rows": [{"row": r, "source": s, **v} for (r, s), v in sorted(rows.items())],
         "model_free_from_hard_free": filled, "claims": pairs}, indent=2) + "\n")
    atomic_write_text(out / "SEEDS.md", markdown(rows, pairs, filled))
    print(f"{len(rows)} rows, {sum(v['n'] for v in rows.values())} runs, {len(pairs)} claims; "
          f"wrote {out / 'SEEDS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
