"""A second skeleton topology: the CMU benchmark rebuilt with 23 joints, the models trained on it.

    python benchmarks/topology.py                         # build the data, train missing rows, table
    python benchmarks/topology.py --rows skelgnn-1f tcn-1f
    python benchmarks/topology.py --table                 # collect only

The 23-joint layout (``src/skelgnn/resources/cmu23_joint_map.toml``) is the 17 Human3.6M joints
plus toe, hand-tip and thumb-tip joints from the BVH End Sites: end effectors, six more leaves at
hop distances the 17-joint hop grading never saw. The data are built from the raw BVH files of
the CMU benchmark with ``skelgnn prepare bvh`` (same cameras, same synthetic detector, the
benchmark's ``split.json``) into ``--data`` (outside the repository: derived from the mocap),
then each row trains with its benchmark config under the benchmark protocol (``benchmarks/run.py
--data``: the models build their graphs, hop masks and flip pairs from the data's skeleton) and
is scored once on the test subjects. Rows go to ``benchmarks/results/cmu23/<row>-<source>.json``;
the table (``benchmarks/results/cmu23/TOPOLOGY.md``) splits the error into the 17 joints both
layouts share and the 6 added ones, and puts the 17-joint benchmark's row beside each; the
figure ``per_joint.png`` shows every joint's error per row. ``--reference`` scores a 17-joint
checkpoint on the shared joints of the same test frames (a 17-joint slice of the data written
beside ``--data``), the like-for-like comparison for the "shared 17" column.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "cmu23"
MAP = REPO / "src" / "skelgnn" / "resources" / "cmu23_joint_map.toml"
ROWS = ("skelgnn-1f", "tcn-1f", "mgcn-1f")
SHARED = 17  # the first 17 joints of the 23-joint layout are the Human3.6M ones


def prepare(data: Path, cmu: Path) -> None:
    """Build the 23-joint benchmark in ``data`` from the BVH files of ``cmu`` (skipped when
    ``data`` already holds it)."""
    if (data / "data_2d_cmu_det.npz").is_file() and (data / "split.json").is_file():
        return
    for need in ("bvh", "cameras.json", "split.json"):
        if not (cmu / need).exists():
            sys.exit(f"{cmu / need} not found: --cmu must be the CMU benchmark directory "
                     "(with its bvh/ folder)")
    subprocess.run([sys.executable, "-m", "skelgnn.cli", "prepare", "bvh", "--bvh",
                    str(cmu / "bvh"), "--out", str(data), "--detector-noise", "--joint-map",
                    str(MAP), "--cameras", str(cmu / "cameras.json")], check=True)
    shutil.copy(cmu / "split.json", data / "split.json")


def slice_shared(data: Path, out: Path) -> Path:
    """A 17-joint copy of the 23-joint benchmark in ``out`` (its first 17 joints, the Human3.6M
    ones, with the 17-joint metadata): the same test frames and detector draws for a 17-joint
    model. Written once; the source files are not changed."""
    from skelgnn.data import read_positions_2d, read_positions_3d
    from skelgnn.prepare import write_positions_2d, write_positions_3d

    if (out / "data_2d_cmu_det.npz").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    p3 = read_positions_3d(data / "data_3d_cmu.npz")
    write_positions_3d(out / "data_3d_cmu.npz",
                       {s: {a: v[:, :SHARED] for a, v in acts.items()} for s, acts in p3.items()})
    for source in ("gt", "det"):
        p2, _ = read_positions_2d(data / f"data_2d_cmu_{source}.npz")
        write_positions_2d(out / f"data_2d_cmu_{source}.npz",  # default metadata: Human3.6M-17
                           {s: {a: [c[:, :SHARED] for c in cams] for a, cams in acts.items()}
                            for s, acts in p2.items()})
    for name in ("cameras.json", "split.json", "actions.csv"):
        if (data / name).is_file():
            shutil.copy(data / name, out / name)
    return out


def score_reference(data: Path, checkpoint: Path, source: str) -> dict:
    """``checkpoint`` (a 17-joint model) scored on the 17 shared joints of the 23-joint test
    frames (flip test, as the rows)."""
    from skelgnn.evaluate.benchmark import evaluate_checkpoint

    scores = evaluate_checkpoint(checkpoint, slice_shared(data, data.parent / (data.name + "-17")),
                                 source, flip_test=True, progress=False)
    return {"checkpoint": checkpoint.name, "p1": scores["p1"], "p2": scores["p2"],
            "p1_action": scores["p1_action"], "samples": scores["samples"]}


def _joint_names() -> list[str]:
    import tomllib

    return list(tomllib.loads(MAP.read_text())["skeleton"]["names"])


def collect(out: Path, source: str) -> dict:
    names = _joint_names()
    result: dict = {"joints": names, "shared": names[:SHARED], "added": names[SHARED:], "rows": {}}
    order = {n: i for i, n in enumerate(("skelgnn-1f", "skelgnn-1f-paper", "fcn-1f", "semgcn-1f",
                                         "mgcn-1f", "tcn-1f"))}
    paths = sorted(out.glob(f"*-{source}.json"),
                   key=lambda p: (order.get(p.name[:-len(f"-{source}.json")], 99), p.name))
    for path in paths:
        row = json.loads(path.read_text())
        if "row" not in row:
            continue
        per_joint = row.get("per_joint_p1")
        entry = {"params": row.get("parameters"), "train_minutes": row["train_minutes"],
                 "p1": row["p1"], "p2": row["p2"], "p1_action": row["p1_action"],
                 "p2_action": row["p2_action"]}
        if per_joint is not None:
            entry["p1_shared17"] = sum(per_joint[:SHARED]) / SHARED
            entry["p1_added6"] = sum(per_joint[SHARED:]) / (len(per_joint) - SHARED)
            entry["per_joint_p1"] = dict(zip(names, per_joint))
        ref = REPO / "benchmarks" / "results" / f"{row['row']}-{source}.json"
        if ref.is_file():
            entry["p1_17joint_benchmark"] = json.loads(ref.read_text())["p1"]
        result["rows"][row["row"]] = entry
    ref = out / f"reference-{source}.json"
    if ref.is_file():
        result["reference"] = json.loads(ref.read_text())
    return result


def table(result: dict, source: str) -> str:
    from skelgnn.tables import format_table

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    rows = [[name, f"{(r['params'] or 0) / 1e6:.2f}M", f"{r['train_minutes']:.0f}", f(r["p1"]),
             f(r["p2"]), f(r["p1_action"]), f(r.get("p1_shared17")), f(r.get("p1_added6")),
             f(r.get("p1_17joint_benchmark"))] for name, r in result["rows"].items()]
    head = format_table(["model", "params", "train min", "P1 (23)", "P2 (23)", "P1 act. (23)",
                         "P1 shared 17", "P1 added 6", "P1 17-joint benchmark"], rows,
                        markdown=True)
    added = ", ".join(result["added"])
    ref = result.get("reference")
    if ref:
        head += (f"\n\nReference: the shipped 17-joint `{ref['checkpoint']}` on the 17 shared joints "
                 f"of these test frames (same detector draws): P1 {ref['p1']:.1f}, P2 "
                 f"{ref['p2']:.1f}, P1 act. {ref['p1_action']:.1f}.\n")
    return (f"Second topology: the CMU benchmark with 23 joints ({source} 2D), errors in mm on the "
            "test subjects (S08, S11, S14), all cameras, every frame, flip test; trained on "
            "every 2nd frame of all train subjects, last epoch scored once. 'Shared 17': the "
            f"Human3.6M joints; 'added 6': {added}. Last column: the same model's P1 on the "
            "17-joint benchmark (`benchmarks/results/<row>-det.json`).\n\n" + head + "\n")


def figure(result: dict, path: Path) -> Path:
    """Per-joint P1 of every row (bars), the added joints shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = {n: r["per_joint_p1"] for n, r in result["rows"].items() if "per_joint_p1" in r}
    names = result["joints"]
    x = np.arange(len(names))
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(10, 3.8))
    ax.axvspan(SHARED - 0.5, len(names) - 0.5, color="0.92", zorder=0)
    for i, (row, per_joint) in enumerate(rows.items()):
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, [per_joint[n] for n in names], width,
               label=row, zorder=2)
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("P1 (mm)")
    ax.set_title("23-joint CMU benchmark: error per joint (shaded: the 6 added end effectors)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cmu", default=str(REPO.parent / "shared" / "data" / "cmu"),
                    help="the CMU benchmark directory (its bvh/, cameras.json, split.json)")
    ap.add_argument("--data", default=str(REPO / "runs" / "cmu23-data"),
                    help="where the 23-joint benchmark is built (outside git)")
    ap.add_argument("--runs", default=str(REPO / "runs" / "cmu23"), help="run directories")
    ap.add_argument("--rows", nargs="+", default=list(ROWS))
    ap.add_argument("--source", default="det", choices=("det", "gt"))
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--reference", default=str(REPO / "checkpoints" / "skelgnn-1f-cmu-det.pt"),
                    help="17-joint checkpoint scored on the shared joints of the same frames "
                         "('' for none)")
    ap.add_argument("--table", action="store_true", help="collect and print only")
    ap.add_argument("--set", action="append", default=[], dest="extra", metavar="KEY=VALUE",
                    help="config override for every row (e.g. train.threads=1)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if not args.table:
        prepare(Path(args.data), Path(args.cmu))
        for row in args.rows:
            cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--only", row,
                   "--source", args.source, "--data", args.data, "--runs", args.runs,
                   "--results", str(out)]
            for s in args.extra:
                cmd += ["--set", s]
            subprocess.run(cmd, check=True)
        if args.reference:
            ref = score_reference(Path(args.data), Path(args.reference), args.source)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"reference-{args.source}.json").write_text(json.dumps(ref, indent=1) + "\n")
    result = collect(out, args.source)
    out.mkdir(parents=True, exist_ok=True)
    (out / "topology.json").write_text(json.dumps(result, indent=1) + "\n")
    text = table(result, args.source)
    (out / "TOPOLOGY.md").write_text(text)
    readme, begin, end = (REPO / "docs" / "ANALYSIS.md", "<!-- TOPOLOGY TABLE -->",
                          "<!-- /TOPOLOGY TABLE -->")
    if out == OUT and readme.is_file() and begin in readme.read_text():
        head, rest = readme.read_text().split(begin, 1)
        readme.write_text(f"{head}{begin}\n{text}{end}{rest.split(end, 1)[1]}")
    if any("per_joint_p1" in r for r in result["rows"].values()):
        figure(result, out / "per_joint.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
