"""The default fit on every bundled screen: `ingest`, then `screenfit fit SCREEN --out DIR` with no option.

For each real screen beside the repository — the DepMap sample's Avana and KY libraries and the
count-table screens of ``qc_real_data.py`` — the screen is ingested through the CLI and fitted
with screenfit's default (the preset it picks), as a user would. Prints, per screen, the preset
chosen and why, the exit code (0 converged, 2 written but failed its gate, anything else an
error), the fit's status, median per-line AUROC of the reference essential against
non-essential genes, and the wall time of the fit's process.

Run: ``python benchmarks/every_screen.py [--json benchmarks/every_screen.json] [--screens NAME,…]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from qc_real_data import COUNT_SCREENS
from single_screens import DEFAULT_DATA, reference_genes
from validate_models import DEPMAP_SAMPLE, auroc

import screenfit
from screenfit.io.fit_folder import load_fit

SCREENFIT = str(Path(sys.executable).with_name("screenfit"))


def ingest_commands(out: Path) -> dict[str, tuple[list[str], str | None]]:
    """Per screen: the ``screenfit ingest`` command that writes ``out/NAME.parquet``, and its reference sets."""
    commands: dict[str, tuple[list[str], str | None]] = {}
    for library in ("Avana", "KY"):
        commands[f"DepMap {library}"] = (["ingest", "depmap", str(DEPMAP_SAMPLE), "--library", library], None)
    for name, path, sheet, sets in COUNT_SCREENS:
        commands[name] = (["ingest", "counts", str(DEFAULT_DATA / path), "--bundled-sheet", sheet], sets)
    return commands


def run(cmd: list[str]) -> tuple[int, float, str]:
    """Exit code, wall seconds and the last lines of output of one CLI call."""
    t0 = time.perf_counter()
    done = subprocess.run([SCREENFIT, *cmd], capture_output=True, text=True, check=False)
    return done.returncode, time.perf_counter() - t0, (done.stdout + done.stderr)[-600:]


def one_screen(name: str, ingest: list[str], sets: str | None, work: Path) -> dict[str, object]:
    """Ingest and fit one screen with the default; its row of the table."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
    screen, fit_dir = work / f"{slug}.parquet", work / f"fit_{slug}"
    rc, _, tail = run([*ingest, "--out", str(screen), "--force", "--quiet"])
    if rc != 0:
        return {"screen": name, "step": "ingest", "exit_code": rc, "output": tail}
    rc, wall, tail = run(["fit", str(screen), "--out", str(fit_dir), "--quiet"])
    row: dict[str, object] = {"screen": name, "step": "fit", "exit_code": rc, "wall_s": wall}
    if rc not in (0, 2):
        return {**row, "output": tail}
    result = load_fit(fit_dir)
    effects = result.table("gene_effects") if "gene_cell_line_effects" not in result.tables else None
    if effects is None:
        wide = result.table("gene_cell_line_effects").pivot(index="depmap_id", columns="hugo_symbol", values="mean")
    else:
        wide = effects.set_index("hugo_symbol")["mean"].to_frame().T
    ess, non = reference_genes(sorted(wide.columns), sets, DEFAULT_DATA)
    per_line = [auroc(wide.loc[line], ess, non) for line in wide.index]
    row |= {"preset": result.preset, "reason": result.config.get("preset_reason"), "status": result.status,
            "median_auroc": float(np.median(per_line))}  # fmt: skip
    if "essential_calls" in result.tables:  # a single screen's calls against the reference sets
        calls = result.table("essential_calls")
        called = set(calls.loc[calls["essential"], "hugo_symbol"].astype(str))
        row |= {"called": len(called), "precision": len(called & ess) / max(len(called & (ess | non)), 1),
                "recall": len(called & ess) / max(len(ess), 1)}  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--screens", default=None, help="comma-separated screen names (default: all)")
    args = parser.parse_args()
    commands = ingest_commands(Path())
    wanted = args.screens.split(",") if args.screens else list(commands)
    rows = []
    meta = {"date": date.today().isoformat(), "machine": platform.platform(), "screenfit": screenfit.__version__}
    with tempfile.TemporaryDirectory(prefix="every-screen-") as tmp:
        for name in wanted:
            ingest, sets = commands[name]
            rows.append(one_screen(name, ingest, sets, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
            if args.json:  # after every screen, so a crash keeps what was measured
                args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    header = (
        "| screen | preset | exit code | status | median per-line AUROC | fit wall s | calls (precision / recall) |"
    )
    print(f"\n{header}\n|---|---|---|---|---|---|---|")
    for r in rows:
        auc = f"{r['median_auroc']:.4f}" if "median_auroc" in r else "—"
        wall = f"{r['wall_s']:.0f}" if "wall_s" in r else "—"
        status = r.get("status", r["step"])
        calls = f"{r['called']} ({r['precision']:.3f} / {r['recall']:.3f})" if "called" in r else "—"
        print(f"| {r['screen']} | {r.get('preset', '—')} | {r['exit_code']} | {status} | {auc} | {wall} | {calls} |")
    if any(r["exit_code"] not in (0, 2) for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
