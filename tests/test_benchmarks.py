"""The quick speed benchmark still runs end to end (no timing asserts: numbers go to docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.mark.slow
def test_quick_speed_benchmark_runs_and_reports_every_case(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "plain PyMC + nutpie" in done.stdout and "plain ADVI" in done.stdout
    results = json.loads(out.read_text())
    for item in results["comparison"]:
        for who in ("screenfit", "reference"):
            r = item[who]
            assert "error" not in r and r["wall_s"] > 0 and r["peak_rss_mib"] > 0
            assert r["wall_s"] >= r["compile_s"] + r["sample_s"]
    assert all(item["screenfit"]["rows"] > 0 for item in results["scaling"])


@pytest.mark.slow
def test_quick_genome_benchmark_streams_fits_and_times_the_reference(tmp_path):
    out = tmp_path / "genome.json"
    cmd = [sys.executable, str(BENCH.parent / "genome_scale.py"), "--quick", "--skip-subsample", "--additive",
           "--work", str(tmp_path / "work"), "--json", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    g = json.loads(out.read_text())["genome"]
    assert g["summary"]["rows"] == 100 * 40 * 4 * 2 and g["status"] in ("approximate", "failed")
    assert g["peak_rss_gib"] > 0 and g["reference"]["per_step_s"] > 0
    # The additive regime is the streamed model's own: the effects are recovered, and their 94%
    # intervals hold the truth once its overall level (fixed by normalisation only) is matched.
    assert g["r_truth"] > 0.99 and g["coverage_94_aligned"] >= 0.9, (g["r_truth"], g["coverage_94_aligned"])
    assert (tmp_path / "work" / "fit" / "config.json").is_file()


def test_accuracy_metrics_score_a_perfect_and_a_copy_number_biased_estimate():
    """The accuracy-vs-Chronos metrics: 1 for the truth itself, a CN bias shows in cn_r_nonessential."""
    import importlib.util

    import numpy as np
    import pandas as pd

    spec = importlib.util.spec_from_file_location("accuracy", BENCH.parent / "accuracy_vs_chronos.py")
    accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accuracy)
    rng = np.random.default_rng(0)
    lines, genes = [f"L{i}" for i in range(30)], [f"G{j}" for j in range(40)]
    classes = ["essential"] * 10 + ["selective"] * 5 + ["inert"] * 25
    truth = pd.DataFrame(rng.normal(0, 0.1, (30, 40)), index=lines, columns=genes)
    truth.iloc[:, :10] -= 1.0
    truth.iloc[:15, 10:15] -= 1.0  # selective: half the lines depend
    cn = pd.DataFrame(rng.gamma(2.0, 1.0, (30, 40)), index=lines, columns=genes)
    table = pd.DataFrame({"hugo_symbol": genes, "gene_class": classes})
    perfect = accuracy.metrics(truth, truth, table, cn)
    assert perfect["r"] == pytest.approx(1.0) and perfect["auroc_dependency"] == pytest.approx(1.0)
    assert perfect["within_gene_r_selective"] == pytest.approx(1.0)
    biased = accuracy.metrics(truth - 0.2 * cn, truth, table, cn)
    assert biased["cn_r_nonessential"] < -0.5 < perfect["cn_r_nonessential"]
    # Gene level: a constant offset is no error for r or for the median-aligned coverage, and
    # intervals that miss a quarter of the genes cover the other three quarters.
    means = truth.mean(axis=0) + 0.3
    exact = accuracy.gene_metrics(means, truth, pd.DataFrame({"hdi_lower": means - 0.01, "hdi_upper": means + 0.01}))
    assert exact["r_gene"] == pytest.approx(1.0) and exact["auroc_gene"] == pytest.approx(1.0)
    assert exact["coverage_90_gene"] == 1.0
    off = means + np.where(np.arange(40) < 10, 0.5, 0.0)
    half = accuracy.gene_metrics(off, truth, pd.DataFrame({"hdi_lower": off - 0.01, "hdi_upper": off + 0.01}))
    assert half["coverage_90_gene"] == pytest.approx(0.75)
    assert "coverage_90_gene" not in accuracy.gene_metrics(off, truth)


def test_accuracy_benchmark_rescales_point_estimates_to_depmap_medians():
    """Chronos' estimates are scored on DepMap's scale too: a per-line shift and scale is undone."""
    import importlib.util

    import numpy as np
    import pandas as pd

    from screenfit.reference import essential_sets

    spec = importlib.util.spec_from_file_location("accuracy", BENCH.parent / "accuracy_vs_chronos.py")
    accuracy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(accuracy)
    essential, nonessential = essential_sets()
    genes = [*essential[:9], *nonessential[:9], "OTHER"]
    rng = np.random.default_rng(1)
    truth = np.r_[np.full(9, -1.0), np.zeros(9), -0.4][None, :] + rng.normal(0, 0.01, (6, 19))
    shift, scale = rng.normal(0, 0.3, (6, 1)), rng.uniform(0.5, 1.5, (6, 1))
    est = pd.DataFrame(truth * scale + shift, columns=genes)
    scaled = accuracy.depmap_scaled(est)
    np.testing.assert_allclose(scaled[essential[:9]].median(axis=1), -1.0)
    np.testing.assert_allclose(scaled[nonessential[:9]].median(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled["OTHER"], -0.4, atol=0.05)


def _benchmark(name: str):  # type: ignore[no-untyped-def]
    """A module of benchmarks/ (which import each other by name) loaded as ``<name>_bench``."""
    import importlib.util

    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"{name}_bench", BENCH.parent / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH.parent))
    return module


def test_proximity_benchmark_scores_neighbour_correlation_and_copy_number_bias():
    """benchmarks/proximity.py: a bias shared by neighbouring genes shows in the lag-1 and CN scores."""
    import numpy as np
    import pandas as pd

    bench = _benchmark("proximity")
    rng = np.random.default_rng(1)
    genes = [f"G{j}" for j in range(2000)]
    ess, non = set(genes[:200]), set(genes[200:])
    clean = pd.DataFrame({"L1": rng.normal(0, 0.1, 2000)}, index=genes)
    clean.iloc[:200] -= 1.0
    cn = pd.Series(np.repeat(rng.gamma(2.0, 1.0, 100), 20), index=genes)  # 20-gene segments
    order = pd.Series(np.arange(2000), index=genes)
    base = bench.line_scores(clean, ess, non, cn, order)
    biased = bench.line_scores(clean - 0.2 * cn.to_frame("L1").to_numpy(), ess, non, cn, order)
    assert base["auroc"] == pytest.approx(1.0)
    assert abs(base["lag1_autocorrelation"]) < 0.1 < 0.5 < biased["lag1_autocorrelation"]  # SE ≈ 0.024
    assert biased["cn_r_nonessential"] < -0.5 < base["cn_r_nonessential"]


def test_single_screen_calls_benchmark_scores_rankings_and_calls_on_reference_genes():
    """benchmarks/single_screen_calls.py: AUROC/AP of a ranking, and calls' precision/recall on the reference genes."""
    import numpy as np
    import pandas as pd

    bench = _benchmark("single_screen_calls")
    genes = [f"G{j}" for j in range(300)]
    ess, non = set(genes[:50]), set(genes[50:150])  # 150 genes outside both sets
    effect = pd.Series(np.linspace(-3.0, 1.0, 300), index=genes)  # essential genes lowest
    called = effect < -2.3  # the 50 essential genes and 3 non-essential ones
    m = bench.metrics(effect, called, ess, non)
    assert m["auroc"] == pytest.approx(1.0) and m["average_precision"] == pytest.approx(1.0)
    assert m["calls"] == int(called.sum()) and m["recall"] == pytest.approx(1.0)
    assert m["precision"] == pytest.approx(50 / int(called.sum()))
    flipped = bench.metrics(-effect, -effect < -0.5, ess, non)
    assert flipped["auroc"] == pytest.approx(0.0) and flipped["recall"] == 0.0
