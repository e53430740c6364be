"""Where should the squeeze ratio come from? Val P1 against d, next to the ratios the information
gain and the learnt gates imply (docs/DESIGN.md, "Squeeze ratio" and "Learnable hop grading").

    python benchmarks/val.py --round r4-squeeze      # fixed grading at d = 0.5, 0.57, 0.79, 1
    python benchmarks/val.py --round r6-gate-l1      # gated, full width, L1 on the gates
    python benchmarks/squeeze.py                     # table, squeeze.json and squeeze.png

Reads the rounds' committed results (``benchmarks/results/val/r4-squeeze.json``,
``r6-gate-l1.json``) and the information-gain fits (``benchmarks/results/hops/det/hops.json``);
trains nothing. Every figure is the val subject's (S02) after the rounds' short protocol; the test
subjects are not read.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VAL = REPO / "benchmarks" / "results" / "val"
HOPS = REPO / "benchmarks" / "results" / "hops" / "det" / "hops.json"


def _last(run: dict) -> dict:
    return run["history"][-1]


def collect(val: Path = VAL, hops: Path = HOPS) -> dict:
    """Per ratio of r4: each seed's val figures and their mean; per run of r6: its L1 weight, the
    squeeze ratio its gates imply and its own val figures; the information-gain ratios."""
    fixed: dict[float, list[dict]] = {}
    r4 = json.loads((val / "r4-squeeze.json").read_text()) if (val / "r4-squeeze.json").is_file() else {"runs": {}}
    for variant, run in r4["runs"].items():
        last = _last(run)
        fixed.setdefault(float(run["model"]["squeeze"]), []).append(
            {"variant": variant, "seed": run["train"]["seed"], "p1": last["val_p1"],
             "p1_action": last["val_p1_action"], "own_hard10_p1": last["val_own_hard10_p1"]})
    ratios = []
    for d in sorted(fixed):
        runs = fixed[d]
        ratios.append({"d": d, "runs": runs, "p1_mean": statistics.fmean(r["p1"] for r in runs),
                       "p1_action_mean": statistics.fmean(r["p1_action"] for r in runs)})
    gated = []
    r6_path = val / "r6-gate-l1.json"
    for variant, run in (json.loads(r6_path.read_text())["runs"] if r6_path.is_file() else {}).items():
        last, g = _last(run), run["grading"]
        gated.append({"variant": variant, "gate_l1": run["train"]["gate_l1"],
                      "derived_squeeze": g["derived_squeeze"], "derived_widths": g["derived_widths"],
                      "mass_ratio": g["mass_ratio"], "p1": last["val_p1"],
                      "p1_action": last["val_p1_action"]})
    ig = json.loads(hops.read_text())
    return {"protocol": r4.get("protocol"), "fixed": ratios, "gated": gated,
            "ig_target_d": ig["target_fit"]["d"], "ig_lookhops_d": ig["lookhops_fit"]["d"]}


def table(result: dict) -> str:
    from skelgnn.tables import format_table

    rows = [[f"{r['d']:.2f}", "fixed", ", ".join(f"{x['p1']:.1f}" for x in r["runs"]),
             f"{r['p1_mean']:.1f}", f"{r['p1_action_mean']:.1f}"] for r in result["fixed"]]
    rows += [[f"{g['derived_squeeze']:.2f} (gates)", f"gated, L1 {g['gate_l1']:g}", f"{g['p1']:.1f}",
              f"{g['p1']:.1f}", f"{g['p1_action']:.1f}"] for g in result["gated"]]
    return (format_table(["d", "grading", "val P1 per seed", "val P1 mean", "val P1 act. mean"],
                         rows, markdown=True)
            + f"\n\nInformation gain (det, training subjects): target-aware d = "
            f"{result['ig_target_d']:.2f}, LookHops d = {result['ig_lookhops_d']:.2f}.\n")


def figure(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    xs = [r["d"] for r in result["fixed"]]
    ax.plot(xs, [r["p1_mean"] for r in result["fixed"]], "-", color="C0", label="fixed grading, seed mean")
    for r in result["fixed"]:
        ax.plot([r["d"]] * len(r["runs"]), [x["p1"] for x in r["runs"]], "o", color="C0", ms=4)
    for i, g in enumerate(result["gated"]):
        ax.plot([g["derived_squeeze"]], [g["p1"]], "s", color="C3", ms=6,
                label="gated run (its own P1) at the d its gates imply" if i == 0 else None)
        ax.annotate(f"gates, L1 {g['gate_l1']:g}", (g["derived_squeeze"], g["p1"]),
                    textcoords="offset points", xytext=(4, 4), fontsize=7, color="C3")
    for d, name, style in ((result["ig_target_d"], "IG target-aware", "--"),
                           (result["ig_lookhops_d"], "IG LookHops", ":")):
        ax.axvline(d, color="0.4", ls=style, lw=1, label=f"{name} d = {d:.2f}")
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi + 0.12 * (hi - lo))  # room for the annotations
    ax.set_xlabel("squeeze ratio d (long-range width = C d^g)")
    ax.set_ylabel("val P1 (mm, S02, det)")
    ax.set_title("Squeeze ratio: chosen on val vs derived")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--val", default=str(VAL), help="directory of the val rounds' JSON")
    ap.add_argument("--out", default=str(VAL), help="where squeeze.json / squeeze.png go")
    args = ap.parse_args(argv)
    result = collect(Path(args.val))
    if not result["fixed"]:
        sys.exit(f"no r4-squeeze results in {args.val}: run `python benchmarks/val.py --round "
                 "r4-squeeze` first")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "squeeze.json").write_text(json.dumps(result, indent=1) + "\n")
    figure(result, out / "squeeze.png")
    print(table(result))
    print(f"wrote {out / 'squeeze.json'} and {out / 'squeeze.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
