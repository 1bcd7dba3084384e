"""QC metrics: real libraries separate essentials, a hand-made example, a broken replicate is flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from screenfit.data.screen import Screen
from screenfit.io.depmap import read_depmap
from screenfit.qc import run_qc
from screenfit.reference import essential_sets


@pytest.mark.parametrize("library", ["Avana", "KY"])
def test_real_libraries_median_auroc_at_least_095(depmap_sample, library):
    result = run_qc(read_depmap(depmap_sample, library))
    assert result.summary()["median_auroc"] >= 0.95
    assert result.essential_match.via_alias  # renamed genes (e.g. IARS → IARS1) are matched


def test_auroc_and_nnmd_match_hand_computation():
    ess, non = essential_sets()
    e, n = ess[:6], non[:6]
    lfc_e = [-2.0, -1.5, -1.0, -0.5, 0.1, -1.2]
    lfc_n = [0.0, 0.2, -0.6, 0.3, -0.1, 0.05]
    genes = e + n
    df = pd.DataFrame(
        {"sgrna": [f"s{i}" for i in range(12)], "hugo_symbol": genes, "depmap_id": "L", "replicate_id": "r1",
         "lfc": lfc_e + lfc_n}
    )  # fmt: skip
    result = run_qc(Screen.from_frame(df), essential=e, nonessential=n)
    rep = result.replicates.iloc[0]
    wins = sum((x < y) + 0.5 * (x == y) for x in lfc_e for y in lfc_n)
    assert rep["auroc"] == pytest.approx(wins / 36)
    assert rep["nnmd"] == pytest.approx((np.mean(lfc_e) - np.mean(lfc_n)) / np.std(lfc_n, ddof=1))


def test_scrambled_replicate_is_flagged(depmap_sample):
    screen = read_depmap(depmap_sample, "KY")
    t = screen.table.copy()
    victim = t["replicate_id"].astype(str).iloc[0]
    rows = t["replicate_id"].astype(str) == victim
    rng = np.random.default_rng(0)
    t.loc[rows, "lfc"] = rng.permutation(t.loc[rows, "lfc"].to_numpy())
    result = run_qc(screen.with_table(t))
    reps = result.replicates.set_index("replicate_id")
    assert not reps.loc[victim, "passes"]
    assert reps.drop(index=victim)["passes"].all()


def _genome_wide_line(noise: float, n_other: int = 3000, seed: int = 0) -> Screen:
    """One line, 2 replicates, 4 guides a gene: reference essentials deplete by 2, every other guide
    is noise of SD ``noise`` — as in a genome-wide screen, where most guides have no effect."""
    rng = np.random.default_rng(seed)
    ess, non = essential_sets()
    genes = [*ess[:300], *non[:300], *(f"OTHER{i}" for i in range(n_other))]
    level = np.r_[np.full(300, -2.0), np.zeros(300 + n_other)] + rng.normal(0.0, 0.3, len(genes))
    guides = np.repeat(np.arange(len(genes)), 4)
    frames = [
        pd.DataFrame({"sgrna": [f"g{i}" for i in range(guides.size)], "hugo_symbol": np.asarray(genes)[guides],
                      "depmap_id": "L", "replicate_id": f"r{rep}",
                      "lfc": level[guides] + rng.normal(0.0, noise, guides.size)})
        for rep in (1, 2)
    ]  # fmt: skip
    return Screen.from_frame(pd.concat(frames, ignore_index=True))


def test_replicate_agreement_is_read_where_the_signal_is():
    """Most guides of a genome-wide screen have no effect: their noise sinks the correlation over all
    guides, while the reference genes' guides show whether replicates agree. A good screen passes;
    one whose replicates disagree on the reference genes too still fails."""
    good = run_qc(_genome_wide_line(noise=0.8)).cell_lines.iloc[0]
    assert good["replicate_correlation_all"] < 0.4 < good["replicate_correlation"] and good["passes"]
    noisy = run_qc(_genome_wide_line(noise=2.5)).cell_lines.iloc[0]
    assert noisy["replicate_correlation"] < 0.4 and not noisy["passes"]
