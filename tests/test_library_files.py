"""Library annotation files: guides → genes and positions for count tables without a gene column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from screenfit.cli import app
from screenfit.errors import ScreenfitInputError
from screenfit.io.counts import bundled_sheet, read_count_table
from screenfit.io.library_files import LibraryColumns, read_library
from screenfit.io.positions import read_positions
from screenfit.io.tables import read_long_table

runner = CliRunner()
SAMPLES = ["pDNA", "rep1", "rep2"]


def _sheet(tmp_path):
    sheet = pd.DataFrame(
        {"sample": SAMPLES, "condition": ["initial", "final", "final"], "replicate": ["p", "1", "2"],
         "cell_line": "LINE1", "pdna_batch": "b1"}
    )  # fmt: skip
    path = tmp_path / "sheet.csv"
    sheet.to_csv(path, index=False)
    return path


def _library(n_genes: int = 30) -> pd.DataFrame:
    """A CRISPRcleanR-style library: 4 guides per gene along chromosome 1, with 20-mer sequences."""
    rng = np.random.default_rng(0)
    genes = np.repeat([f"GENE{g}" for g in range(n_genes)], 4)
    seqs = ["".join(rng.choice(list("ACGT"), 20)) for _ in genes]
    return pd.DataFrame(
        {"CODE": [f"{g}_{k}" for g, k in zip(genes, np.tile(range(4), n_genes), strict=True)], "GENES": genes,
         "CHRM": "1", "STARTpos": np.arange(len(genes)) * 1_000 + 500, "seq": seqs}
    )  # fmt: skip


def _counts(library: pd.DataFrame, id_column: str = "CODE", name: str = "sgRNA") -> pd.DataFrame:
    """A raw count table: guide ID in the first column, no gene column."""
    rng = np.random.default_rng(1)
    n = len(library)
    pdna = rng.integers(300, 600, n)
    frame = pd.DataFrame({name: library[id_column].to_numpy(), "pDNA": pdna})
    for rep in SAMPLES[1:]:
        frame[rep] = rng.poisson(pdna * np.where(library["GENES"].str.endswith(("1", "2")), 0.2, 1.0))
    return frame


@pytest.mark.parametrize(
    "renamed",
    [
        {},  # CRISPRcleanR: CODE, GENES, CHRM, STARTpos
        {"CODE": "sgRNA_ID", "GENES": "Gene", "CHRM": "chr", "STARTpos": "start"},  # Yusa / KY
        {"CODE": "sgRNA", "GENES": "gene", "seq": "sequence"},  # MAGeCK library (no positions)
        {"CODE": "sgRNA ID", "GENES": "Target Gene Symbol", "CHRM": "Chromosome",
         "STARTpos": "Position of Base After Cut (1-based)", "seq": "sgRNA Target Sequence"},  # Broad
    ],
)  # fmt: skip
def test_library_files_map_guides_to_genes_and_positions(tmp_path, renamed):
    library = _library()
    file = tmp_path / "library.csv"
    library.rename(columns=renamed).drop(columns=["CHRM", "STARTpos"] if "sequence" in renamed.values() else [])\
        .to_csv(file, index=False)  # fmt: skip
    counts = tmp_path / "counts.csv"
    _counts(library).to_csv(counts, index=False)
    screen = read_count_table(counts, _sheet(tmp_path), library=file)
    t = screen.table
    assert set(t["hugo_symbol"].astype(str)) == set(library["GENES"])
    pairs = t[["sgrna", "hugo_symbol"]].astype(str).drop_duplicates()
    assert (pairs["sgrna"].str.split("_").str[0] == pairs["hugo_symbol"]).all()
    if "sequence" in renamed.values():
        assert "chrom_pos" not in t.columns
    else:
        by_guide = t.drop_duplicates("sgrna").set_index("sgrna")["chrom_pos"]
        expected = library.set_index("CODE")["STARTpos"]
        assert (by_guide == expected.loc[by_guide.index]).all()


def test_count_table_guides_named_by_sequence_match_a_30mer_target_context(tmp_path):
    """Brunello's annotation gives a 30-mer context; a count table may name guides by the 20-mer spacer."""
    library = _library()
    context = library.assign(seq="CACC" + library["seq"] + "AGGTTT")
    file = tmp_path / "library.csv"
    context.to_csv(file, index=False)
    counts = tmp_path / "counts.tsv"
    _counts(library, id_column="seq").to_csv(counts, sep="\t", index=False)
    t = read_count_table(counts, _sheet(tmp_path), library=file).table
    assert set(t["hugo_symbol"].astype(str)) == set(library["GENES"])
    assert t["chrom_pos"].notna().all()


def test_depmap_guide_maps_are_library_files(shared_data):
    """DepMap's guide map: 'SYMBOL (ENTREZ)' genes and chr_pos_strand alignments."""
    library = read_library(shared_data / "depmap_sample" / "KYGuideMap.csv")
    assert {"sgrna", "hugo_symbol", "chromosome", "chrom_pos"} <= set(library.columns)
    assert not library["hugo_symbol"].str.contains(r"\(", regex=True).any()
    assert library["chrom_pos"].notna().mean() > 0.9


def test_real_brunello_library_annotates_ht29_without_its_gene_column(shared_data, tmp_path):
    raw = pd.read_csv(shared_data / "screens" / "ht29_brunello" / "HT29-Brunello_counts.tsv", sep="\t")
    counts = tmp_path / "ht29.csv"
    raw.drop(columns=["gene"]).head(4000).to_csv(counts, index=False)  # first column: the guide ID only
    screen = read_count_table(counts, bundled_sheet("ht29_brunello"),
                              library=shared_data / "libraries" / "Brunello_Library.csv.gz")  # fmt: skip
    t = screen.table
    truth = raw.set_index("sgRNA")["gene"]
    pairs = t[["sgrna", "hugo_symbol"]].astype(str).drop_duplicates()
    assert (truth.loc[pairs["sgrna"]].to_numpy() == pairs["hugo_symbol"].to_numpy()).mean() > 0.99
    assert t["chrom_pos"].notna().mean() > 0.99 and set(t["chromosome"].dropna().astype(str)) <= {
        *map(str, range(1, 23)), "X", "Y"}  # fmt: skip


def test_positions_files_may_be_library_files(tmp_path):
    file = tmp_path / "library.csv"
    _library().to_csv(file, index=False)
    positions = read_positions(file)
    assert list(positions.columns) == ["sgrna", "chromosome", "chrom_pos"] and len(positions) == 120


def test_unrecognised_library_columns_name_what_was_found_and_looked_for(tmp_path):
    file = tmp_path / "library.csv"
    _library().rename(columns={"CODE": "oligo", "GENES": "target"}).drop(columns=["seq"]).to_csv(file, index=False)
    with pytest.raises(ScreenfitInputError) as err:
        read_library(file)
    text = str(err.value)
    assert "oligo" in text and "target" in text and "GENES" in text and "--library-columns" in text
    named = read_library(file, LibraryColumns.parse("guide=oligo,gene=target"))
    assert len(named) == 120 and named["chrom_pos"].notna().all()
    with pytest.raises(ScreenfitInputError, match="not a library column setting"):
        LibraryColumns.parse("guide:oligo")


def test_a_library_of_another_screen_is_refused(tmp_path):
    file = tmp_path / "library.csv"
    _library().assign(CODE=lambda f: "X" + f["CODE"], seq="A" * 20).to_csv(file, index=False)
    counts = tmp_path / "counts.csv"
    _counts(_library()).to_csv(counts, index=False)
    with pytest.raises(ScreenfitInputError, match="only 0 of 120 guides"):
        read_count_table(counts, _sheet(tmp_path), library=file)


def test_cli_ingest_with_a_library_then_correct_needs_no_positions_file(tmp_path):
    library = _library(n_genes=60)
    lib_file, counts = tmp_path / "library.csv", tmp_path / "counts.csv"
    library.to_csv(lib_file, index=False)
    _counts(library).to_csv(counts, index=False)
    out = tmp_path / "screen.parquet"
    args = ["ingest", "counts", str(counts), "--sheet", str(_sheet(tmp_path)), "--out", str(out), "--quiet"]
    bad = runner.invoke(app, [*args, "--library", str(lib_file), "--library-columns", "guide=nope"])
    assert bad.exit_code == 1 and "nope" in bad.output and not out.exists()
    done = runner.invoke(app, [*args, "--library", str(lib_file)])
    assert done.exit_code == 0, done.output
    assert read_long_table(out).has("chromosome", "chrom_pos")
    corrected = runner.invoke(app, ["correct", str(out), "--out", str(tmp_path / "corrected.parquet"), "--quiet"])
    assert corrected.exit_code == 0, corrected.output
    segments = _segments(tmp_path, [("LINE1", "1", 0, 10**6, 6)], "sample\tchrom\tstart\tend\ttotal_cn")
    with_cn = tmp_path / "with_cn.parquet"
    placed = runner.invoke(app, [*args[:-3], "--out", str(with_cn), "--library", str(lib_file), "--segments",
                                 str(segments), "--quiet"])  # fmt: skip
    assert placed.exit_code == 0, placed.output
    assert (read_long_table(with_cn).table["gene_cn"] == 3.0).all()
    no_gene = runner.invoke(app, args)  # neither a gene column nor a library
    assert no_gene.exit_code == 1 and "gene" in no_gene.output


def _segments(tmp_path, rows: list[tuple], header: str) -> object:
    path = tmp_path / "segments.tsv"
    path.write_text(header + "\n" + "\n".join("\t".join(map(str, r)) for r in rows) + "\n")
    return path


def test_segment_copy_number_becomes_gene_copy_number(tmp_path):
    """ABSOLUTE-style total copy number, and CBS log2 ratios, placed by each guide's cut site."""
    from screenfit.io.segments import read_segments, with_segment_copy_number

    library = _library()  # 30 genes × 4 guides on chromosome 1, 1 kb apart: gene g spans 4,000 g + 500 … 3,500
    lib_file, counts = tmp_path / "library.csv", tmp_path / "counts.csv"
    library.to_csv(lib_file, index=False)
    _counts(library).to_csv(counts, index=False)
    screen = read_count_table(counts, _sheet(tmp_path), library=lib_file)
    rows = [
        ("LINE1", "chr1", 0, 39_999, 2),
        ("LINE1", "chr1", 40_000, 80_000, 8),
        ("LINE1", "chr1", 80_001, 200_000, 3),
    ]
    absolute = _segments(tmp_path, rows, "Sample\tChromosome\tStart\tEnd\tModal_Total_CN")
    placed = with_segment_copy_number(screen, read_segments(absolute))
    cn = placed.table.groupby("hugo_symbol", observed=True)["gene_cn"].first()
    assert cn["GENE0"] == 1.0 and cn["GENE10"] == 4.0 and cn["GENE29"] == 1.5  # relative to two copies
    assert np.allclose(placed.table["log2_gene_cn_p1"], np.log2(placed.table["gene_cn"] + 1))
    cbs = _segments(tmp_path, [("1", 0, 200_000, 1.0)], "chrom\tloc.start\tloc.end\tseg.mean")  # one line: no sample
    assert (with_segment_copy_number(screen, read_segments(cbs)).table["gene_cn"] == 2.0).all()


def test_bad_segment_files_say_what_to_fix(tmp_path):
    from screenfit.io.segments import read_segments, with_segment_copy_number

    with pytest.raises(ScreenfitInputError, match="no end column") as err:
        read_segments(_segments(tmp_path, [("1", 0, 2)], "chrom\tstart\tCN"))
    assert "loc.end" in str(err.value)
    library = _library()
    lib_file, counts = tmp_path / "library.csv", tmp_path / "counts.csv"
    library.to_csv(lib_file, index=False)
    _counts(library).to_csv(counts, index=False)
    screen = read_count_table(counts, _sheet(tmp_path), library=lib_file)
    other = read_segments(_segments(tmp_path, [("LINE9", "1", 0, 9, 2)], "sample\tchrom\tstart\tend\tCN"))
    with pytest.raises(ScreenfitInputError, match="no cell line of the screen"):
        with_segment_copy_number(screen, other)
    no_positions = read_count_table(counts, _sheet(tmp_path), library=library.drop(columns=["CHRM", "STARTpos"])
                                    .rename(columns={"CODE": "sgrna", "GENES": "hugo_symbol"}))  # fmt: skip
    with pytest.raises(ScreenfitInputError, match="no guide positions"):
        with_segment_copy_number(no_positions, other)
