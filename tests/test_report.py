"""The HTML report: content, self-containedness, and rendering in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from screenfit.fitting import load_fit
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
