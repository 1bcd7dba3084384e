"""Real data no simulator tilts: the Avana and KY samples fitted separately should agree on the lines
screened in both libraries (benchmarks/real_data_agreement.py scores Chronos beside them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import screenfit as sf
from screenfit.io.depmap import read_depmap


def _centred_naive(screen: sf.Screen) -> pd.DataFrame:
    wide = screen.table.groupby(["depmap_id", "hugo_symbol"], observed=True)["lfc"].mean().unstack()
    return wide.sub(wide.median(axis=1), axis=0)


def _agreement(a: pd.DataFrame, b: pd.DataFrame, top: list[str]) -> tuple[float, float]:
    """Median per-line r between the libraries, and within-gene r on the ``top`` genes."""
    lines, genes = sorted(a.index.intersection(b.index)), sorted(a.columns.intersection(b.columns))
    a, b = a.loc[lines, genes], b.loc[lines, genes]
    keep = a.notna().all() & b.notna().all()
    a, b = a.loc[:, keep], b.loc[:, keep]
    per_line = float(np.median([np.corrcoef(a.loc[c], b.loc[c])[0, 1] for c in lines]))
    ca, cb = (x[[g for g in top if g in x.columns]] for x in (a, b))
    ca, cb = ca - ca.mean(), cb - cb.mean()
    return per_line, float(np.corrcoef(ca.to_numpy().ravel(), cb.to_numpy().ravel())[0, 1])


@pytest.mark.slow
def test_the_default_agrees_across_libraries_better_than_the_naive_mean(depmap_sample, tmp_path):
    screens = {lib: read_depmap(depmap_sample, lib) for lib in ("Avana", "KY")}
    naive = {lib: _centred_naive(s) for lib, s in screens.items()}
    lines = naive["Avana"].index.intersection(naive["KY"].index)
    genes = naive["Avana"].columns.intersection(naive["KY"].columns)
    assert len(lines) == 9
    variance = sum(naive[lib].loc[lines, genes].var() for lib in naive) / 2
    top = list(variance.sort_values(ascending=False).index[:100])
    fitted = {}
    for lib, screen in screens.items():
        result = sf.fit(screen, out=tmp_path / lib, progress=False)
        assert result.preset == "depmap" and result.status == "approximate", result.diagnostics.problems
        fitted[lib] = result.table("gene_cell_line_effects").pivot(index="depmap_id", columns="hugo_symbol",
                                                                   values="mean")  # fmt: skip
    ours, theirs = _agreement(fitted["Avana"], fitted["KY"], top), _agreement(naive["Avana"], naive["KY"], top)
    # Measured (3 seeds): per-line r 0.838 against 0.808, within-gene r 0.47–0.49 against 0.28.
    assert ours[0] >= theirs[0] + 0.015, (ours, theirs)
    assert ours[1] >= theirs[1] + 0.1, (ours, theirs)
