"""The HTML report: content, self-containedness, and rendering in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from screenfit.io.fit_folder import load_fit
from screenfit.report import build_report, write_report
from screenfit.results.readouts import copy_number_curve, covariate_effects, ranked_dependencies, screen_quality


@pytest.fixture(scope="module")
def report_file(fitted_pair, tmp_path_factory) -> Path:
    _, folders = fitted_pair
    out = tmp_path_factory.mktemp("report") / "report.html"
    write_report([load_fit(f) for f in folders], out, title="test report")
    return out


def test_report_is_self_contained_and_has_every_section(report_file):
    text = report_file.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from a network
    for section in ('id="data"', 'id="qc"', 'id="comparison"', 'id="fit-0"', 'id="fit-1"'):
        assert section in text
    assert text.index('id="dependencies"') < text.index('id="data"') < text.index('id="fit-0"')  # biology first
    assert "κ_c ~ N(μ_κ, σ_κ)" in text  # the copy-number model's equations
    assert text.count("data:image/png;base64,") >= 6
    assert 'data-search-id="gene-search"' in text


def test_failed_fit_gets_a_loud_banner(fitted_pair):
    from dataclasses import replace

    from screenfit.inference.diagnostics import Diagnostics

    _, folders = fitted_pair
    good = load_fit(folders[0])
    d = good.diagnostics.to_dict()
    d.update(status="failed", problems=["R-hat 1.400 > 1.01 at mu_alpha"])
    failed = replace(good, diagnostics=Diagnostics.from_dict(d))
    text = build_report([failed])
    assert 'class="banner failed"' in text and "NOT CONVERGED" in text and "R-hat 1.400" in text


def test_readouts(fitted_pair):
    _, folders = fitted_pair
    cn = load_fit(folders[1])
    curve = copy_number_curve(cn)
    assert (
        curve is not None
        and (curve["hdi_lower"] <= curve["mean"]).all()
        and (curve["mean"] <= curve["hdi_upper"]).all()
    )
    # The simulated toxicity is negative: more copies, lower LFC.
    assert curve["mean"].iloc[-1] < 0 < curve["mean"].iloc[0]
    ranked = ranked_dependencies(cn, top=5)
    assert ranked["mean"].is_monotonic_increasing and len(ranked) == 5
    assert covariate_effects(cn) is None  # no covariate in this fit
    quality = screen_quality(cn)
    assert quality is not None and {"cell_line_effect_mean", "cn_slope_mean"} <= set(quality.columns)


def _chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser():
    paths = _chromium_paths()
    if paths is None:
        message = "Chromium/ChromeDriver not installed (scripts/install-chromium.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_report_renders_in_chromium_and_gene_search_finds_a_gene(report_file, browser, fitted_pair, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(report_file.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    tables = browser.find_elements(By.CSS_SELECTOR, "div.sf-table table")
    assert tables, "the interactive tables were not rendered"
    gene = load_fit(fitted_pair[1][0]).gene_effects["hugo_symbol"].iloc[7]
    search = browser.find_element(By.ID, "gene-search")
    search.send_keys(gene)
    container = search.find_element(By.XPATH, "./../..")
    rows = container.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) >= 1
    assert all(gene.lower() in r.text.lower() for r in rows)
    assert gene in rows[0].text
    assert f"of {len(load_fit(fitted_pair[1][0]).gene_effects)} rows" in container.text
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _gene_line_fit():
    """A fit's tables as a gene × line model writes them: two common essentials, one selective gene, one inert."""
    import numpy as np
    import pandas as pd

    from screenfit.inference.diagnostics import Diagnostics
    from screenfit.io.fit_folder import FitResult

    genes, lines = ["ESS1", "ESS2", "SEL", "INERT"], [f"ACH-{i:06d}" for i in range(6)]
    effect = {"ESS1": [-2.0] * 6, "ESS2": [-3.0] * 6, "SEL": [-2.5, -2.2, 0, 0, 0, 0], "INERT": [0.0] * 6}
    rows = [{"hugo_symbol": g, "depmap_id": c, "mean": effect[g][i], "hdi_lower": effect[g][i] - 0.4,
             "hdi_upper": effect[g][i] + 0.4} for g in genes for i, c in enumerate(lines)]  # fmt: skip
    effects = pd.DataFrame(rows)
    calls = pd.DataFrame({"hugo_symbol": genes, "n_dependent_lines": [6, 6, 2, 0],
                          "fraction_dependent": [1, 1, 1 / 3, 0], "median_effect": [-2, -3, 0, 0],
                          "common_essential": [True, True, False, False],
                          "strongly_selective": [False, False, True, False]})  # fmt: skip
    means = effects.groupby("hugo_symbol", as_index=False)[["mean", "hdi_lower", "hdi_upper"]].mean()
    gene_effects = means.assign(sd=0.2, prob_lt_threshold=np.where(means["mean"] < -0.5, 1.0, 0.0))
    diagnostics = Diagnostics.from_dict({"status": "approximate", "method": "svi", "problems": []})
    tables = {"gene_cell_line_effects": effects, "gene_calls": calls, "gene_line_means": means,
              "gene_effects": gene_effects}  # fmt: skip
    config = {"ci_prob": 0.94, "options": {"dependency_threshold": -0.5}}
    return FitResult("gene-by-line", diagnostics, tables, config, {})


def test_dependencies_lead_with_common_essentials_and_selective_genes():
    """The report's first section answers what a biologist asks: the common essentials, strongest
    first, and the selective genes with their most dependent line — never an inert gene."""
    from screenfit.plots.readouts import selective_heatmap
    from screenfit.results.readouts import common_essentials, selective_dependencies

    fit = _gene_line_fit()
    common = common_essentials(fit)
    assert common["hugo_symbol"].tolist() == ["ESS2", "ESS1"]
    selective = selective_dependencies(fit)
    assert selective["hugo_symbol"].tolist() == ["SEL"]
    assert selective.loc[0, "most_dependent_line"] == "ACH-000000" and selective.loc[0, "mean"] == -2.5
    heatmap = selective_heatmap(fit)
    assert heatmap is not None
    marks = [c for c in heatmap.axes[0].collections if len(c.get_offsets())]
    assert sum(len(c.get_offsets()) for c in marks) == 2  # the two dependent lines of SEL
    from screenfit.report import _dependencies_section, _Page

    page = _Page()
    _dependencies_section(page, "gene-by-line", fit)
    text = "\n".join(page.parts)
    assert "Common essentials" in text and "Selective dependencies" in text and "INERT" not in text
    assert text.count("data:image/png;base64,") == 1
