"""DepMap release reader on both libraries of the real sample, and its bad-input errors."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from screenfit.errors import ScreenfitInputError
from screenfit.io.depmap import read_depmap


def expected_rows(folder, library: str) -> tuple[int, set[str]]:
    """Rows an independent reading of the raw files predicts: kept replicates × kept guides."""
    counts = pd.read_csv(folder / f"{library}Readcounts.csv.gz", index_col=0)
    seq = pd.read_csv(folder / f"{library}SequenceMap.csv")
    guides = pd.read_csv(folder / f"{library}GuideMap.csv")
    ok_guides = guides[guides["DropReason"].isna() & guides["UsedByChronos"]]["sgrna"]
    ref = seq[seq["cell_line_name"] == "pDNA"]
    final = seq[(seq["cell_line_name"] != "pDNA") & seq["PassesQC"]]
    total = 0
    for batch, reps in final.groupby("pDNA_batch"):
        pdna = counts.loc[ref.loc[ref["pDNA_batch"] == batch, "sequence_ID"]].sum(min_count=1)
        pdna = pdna[ok_guides]
        usable = pdna[(pdna >= pdna.median() / 16) & (pdna > 0)].index
        total += int(counts.loc[reps["sequence_ID"], usable].notna().to_numpy().sum())
    return total, set(seq.loc[~seq["PassesQC"], "sequence_ID"])


@pytest.mark.parametrize("library", ["Avana", "KY"])
def test_row_counts_match_inputs_and_qc_handling(depmap_sample, library):
    screen = read_depmap(depmap_sample, library)
    rows, failed = expected_rows(depmap_sample, library)
    assert screen.n_rows == rows
    assert not failed & set(screen.table["replicate_id"].astype(str))
    guide_map = pd.read_csv(depmap_sample / f"{library}GuideMap.csv")
    multi = set(guide_map.loc[guide_map["nAlignments"] > 1, "sgrna"])
    flagged = set(screen.table.loc[screen.table["n_alignments"] > 1, "sgrna"].astype(str))
    assert flagged <= multi and len(flagged) >= 0.9 * len(multi)
    assert any(f"kept {len(multi)} guides that align to several loci" in n for n in screen.notes)
    if failed:
        assert any(f"dropped {len(failed)} replicates that fail DepMap QC" in n for n in screen.notes)
    assert screen.table["gene_cn"].notna().mean() > 0.99
    assert np.isfinite(screen.table["lfc"]).all()


def test_drop_multi_aligned_and_keep_failed(depmap_sample):
    screen = read_depmap(depmap_sample, "Avana", drop_multi_aligned=True, keep_failed_replicates=True)
    assert (screen.table["n_alignments"] == 1).all()
    assert (~screen.table["passes_qc"]).sum() > 0


def _copy(depmap_sample, tmp_path, library="Avana"):
    dst = tmp_path / "release"
    dst.mkdir()
    for f in depmap_sample.glob(f"{library}*"):
        shutil.copy(f, dst / f.name)
    return dst


def test_counts_in_either_orientation_read_the_same(depmap_sample, tmp_path):
    dst = _copy(depmap_sample, tmp_path)
    counts = pd.read_csv(dst / "AvanaReadcounts.csv.gz", index_col=0)
    counts.T.to_csv(dst / "AvanaReadcounts.csv.gz")
    flipped = read_depmap(dst, "Avana")
    original = read_depmap(depmap_sample, "Avana")
    assert flipped.n_rows == original.n_rows
    assert any("guides × sequences" in n for n in flipped.notes)


def test_replicate_without_pdna_in_its_batch(depmap_sample, tmp_path):
    dst = _copy(depmap_sample, tmp_path)
    seq = pd.read_csv(dst / "AvanaSequenceMap.csv")
    seq = seq[seq["sequence_ID"] != "pDNA_batch_Avana-2"]
    seq.to_csv(dst / "AvanaSequenceMap.csv", index=False)
    with pytest.raises(ScreenfitInputError) as info:
        read_depmap(dst, "Avana")
    assert "Avana-2" in info.value.message and info.value.column == "pdna_batch"


def test_guide_map_naming_guides_absent_from_counts(depmap_sample, tmp_path):
    dst = _copy(depmap_sample, tmp_path)
    gm = pd.read_csv(dst / "AvanaGuideMap.csv")
    extra = gm.iloc[:3].assign(
        sgrna=["GGGGGGGGGGGGGGGGGGG1", "GGGGGGGGGGGGGGGGGGG2", "GGGGGGGGGGGGGGGGGGG3"], gene="FAKE1 (1)"
    )
    pd.concat([gm, extra]).to_csv(dst / "AvanaGuideMap.csv", index=False)
    with pytest.raises(ScreenfitInputError) as info:
        read_depmap(dst, "Avana")
    assert "absent from the read counts" in info.value.message and "--allow-missing-guides" in info.value.message
    assert read_depmap(dst, "Avana", allow_missing_guides=True).n_rows > 0


def test_sequence_map_not_matching_counts(depmap_sample, tmp_path):
    dst = _copy(depmap_sample, tmp_path)
    seq = pd.read_csv(dst / "AvanaSequenceMap.csv")
    extra = seq.iloc[[0]].assign(sequence_ID="GHOST_RepA")
    pd.concat([seq, extra]).to_csv(dst / "AvanaSequenceMap.csv", index=False)
    with pytest.raises(ScreenfitInputError) as info:
        read_depmap(dst, "Avana")
    assert "GHOST_RepA" in info.value.message


def test_unknown_library_lists_found_ones(depmap_sample):
    with pytest.raises(ScreenfitInputError) as info:
        read_depmap(depmap_sample, "Brunello")
    assert "Avana" in info.value.message and "KY" in info.value.message


def test_fewer_than_100_control_guides_warns_and_keeps_total_scaling(depmap_sample):
    controls = tuple(pd.read_csv(depmap_sample / "AvanaGuideMap.csv")["sgrna"].iloc[:20])
    with pytest.warns(UserWarning, match="only 20 negative-control guides"):
        screen = read_depmap(depmap_sample, "Avana", control_sgrnas=controls)
    plain = read_depmap(depmap_sample, "Avana")
    assert np.allclose(screen.table["lfc"], plain.table["lfc"])


def test_mutation_flags_are_joined_and_usable_as_covariates(depmap_sample):
    """OmicsSomaticMutations' LikelyGoF / Driver become per gene × line flags a model can use."""
    from screenfit.data.design import build_design

    screen = read_depmap(depmap_sample, "Avana")
    muts = pd.read_csv(depmap_sample / "OmicsSomaticMutations.csv")
    gof = muts[muts["LikelyGoF"].astype(str).str.lower() == "true"]
    expected = set(zip(gof["ModelID"], gof["Gene"].str.split(" ").str[0], strict=True))
    t = screen.table
    gof_rows = t.loc[t["likely_gof"], ["depmap_id", "hugo_symbol"]].astype(str)
    flagged = set(zip(gof_rows["depmap_id"], gof_rows["hugo_symbol"], strict=True))
    assert flagged and flagged <= expected
    present = {(d, g) for d, g in expected if ((t["depmap_id"] == d) & (t["hugo_symbol"] == g)).any()}
    assert flagged == present
    assert (t["is_mutated"] | ~t["likely_gof"]).all() and (t["is_mutated"] | ~t["driver"]).all()
    design = build_design(screen, ("hugo_symbol", "depmap_id"), ("likely_gof", "driver"))
    assert set(np.unique(design.covariates["likely_gof"])) == {0.0, 1.0}


def test_depmap_negative_controls_centre_every_replicate(depmap_sample):
    """DepMap's own list of negative-control sgRNAs (shipped with the reference fit) normalises LFC."""
    file = depmap_sample / "chronos_reference_fit" / "avana_negative_control_sgrnas.csv"
    controls = tuple(pd.read_csv(file)["sgrna"].astype(str))
    screen = read_depmap(depmap_sample, "Avana", control_sgrnas=controls)
    t = screen.table
    present = t["sgrna"].astype(str).isin(set(controls))
    medians = t.loc[present].groupby("replicate_id", observed=True)["lfc"].median()
    assert np.allclose(medians, 0.0, atol=1e-9)
    n = t.loc[present, "sgrna"].nunique()
    assert n >= 1000 and any(f"median LFC of {n} negative-control guides" in note for note in screen.notes)
