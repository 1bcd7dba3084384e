"""A generative simulator of DepMap-like CRISPR screens with known truth.

The latent log fold change of guide *s* (gene *g*) in replicate *r* of cell line *c* is

``z = o_c + f(t) · [q_c · e_s · β_gc + κ_c · (min(CN_gc, cn_max) − 1)] + d_{s,b(c)} + ε``,
``ε ~ Normal(0, σ_c)``, at each time point ``t`` (days) the replicate is read, with
``f(t) = (t − δ) / (t_ref − δ)`` the share of a ``t_ref``-day screen's effect a knockout has
reached ``t − δ`` days after it starts to act (``f = 1`` at the default single time point, day 21).

- ``β_gc`` the true gene effect in the line: core-essential genes (named after Hart CEGv2)
  ``≈ −1`` everywhere; selective genes ``≈ −1`` only in one lineage or in lines where the
  gene is mutated; inert genes (named after NEGv1, then synthetic) ``≈ 0``; plus a small
  gene × line deviation.
- ``e_s`` guide efficacy in (0, 1], with a fraction of dud guides; ``q_c`` screen quality;
  ``o_c`` a line offset; ``κ_c < 0`` copy-number cutting toxicity on segment-wise copy number;
  ``d_{s,b}`` guide offsets per pDNA batch; ``σ_c`` per-line noise.

Read counts follow: pDNA counts per batch ~ NegBin around a log-normal guide abundance; final
counts ~ NegBin with mean ∝ abundance · 2^z. The observed LFC is computed from those counts
with screenfit's own fold-change code, so the long table equals ingesting the count files.
Work is chunked over cell lines, so genome scale (18,000 genes × 1,000 lines) runs in
bounded memory.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from screenfit.data.foldchange import PSEUDOCOUNT, log2_fold_change
from screenfit.data.screen import Screen
from screenfit.errors import ScreenfitInputError
from screenfit.io.atomic import atomic_path
from screenfit.io.tables import CSV_TWIN_MAX_ROWS
from screenfit.reference import essential_sets

LINEAGES = (
    "lung", "breast", "skin", "haematopoietic", "colorectal", "central_nervous_system",
    "pancreas", "ovary", "kidney", "liver", "stomach", "bone",
)  # fmt: skip
SEGMENT_GENES = 20
MIN_REFERENCE_FRACTION = 1.0 / 16.0
ROWS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class SimulationConfig:
    """Sizes and generative parameters of a simulated screen (defaults: the seed's shape)."""

    n_genes: int = 26
    n_cell_lines: int = 300
    n_guides: int = 4
    n_replicates: int = 2
    n_lineages: int = 6
    n_pdna_batches: int = 2
    frac_essential: float = 0.2
    frac_selective: float = 0.15
    essential_mean: float = -1.0
    essential_sd: float = 0.3
    selective_mean: float = -1.0
    selective_sd: float = 0.25
    mutation_freq: float = 0.25
    inert_sd: float = 0.05
    gene_line_sd: float = 0.08
    dud_guide_fraction: float = 0.1
    line_offset_sd: float = 0.15
    quality_sd: float = 0.15
    noise_sd: float = 0.25
    noise_sd_spread: float = 0.25
    cn_slope_mean: float = -0.06
    cn_slope_sd: float = 0.02
    cn_max: float = 10.0
    amplified_fraction: float = 0.06
    deleted_fraction: float = 0.04
    batch_guide_sd: float = 0.05
    pdna_reads_per_guide: float = 1000.0
    reads_per_guide: float = 500.0
    count_dispersion: float = 0.01
    guide_efficacy: bool = True
    lfc_from_counts: bool = True
    time_points: tuple[float, ...] = (21.0,)
    screen_delay: float = 3.0
    reference_days: float = 21.0
    seed: int = 0

    @property
    def n_samples_per_line(self) -> int:
        """Sequenced samples per cell line: replicates × time points."""
        return self.n_replicates * len(self.time_points)

    def time_factors(self) -> np.ndarray:
        """``f(t) = max(t − δ, 0) / (t_ref − δ)`` at each time point."""
        t = np.asarray(self.time_points, dtype=float)
        return np.maximum(t - self.screen_delay, 0.0) / (self.reference_days - self.screen_delay)

    @classmethod
    def additive(cls, **overrides: object) -> SimulationConfig:
        """The additive Gaussian regime: ``LFC = o_c + β_gc + ε`` with one noise SD.

        Every guide fully efficient, screen quality 1, no copy-number or batch terms, no
        gene × line deviation, and the LFC is the latent value itself (read counts are still
        drawn from it). This is exactly the ``gene-cellline`` model's generative process.
        """
        base: dict[str, object] = dict(
            guide_efficacy=False, quality_sd=0.0, cn_slope_mean=0.0, cn_slope_sd=0.0, batch_guide_sd=0.0,
            gene_line_sd=0.0, noise_sd_spread=0.0, frac_selective=0.0, lfc_from_counts=False,
        )  # fmt: skip
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    def validate(self) -> None:
        """Raise a clear error for impossible sizes or fractions."""
        for name in ("n_genes", "n_cell_lines", "n_guides", "n_replicates", "n_lineages", "n_pdna_batches"):
            if getattr(self, name) < 1:
                raise ScreenfitInputError(
                    f"{name} must be at least 1.", fix=f"pass a positive --{name.replace('_', '-')}."
                )
        if self.frac_essential + self.frac_selective > 1:
            raise ScreenfitInputError("frac_essential + frac_selective must be ≤ 1.", fix="lower one of them.")
        if not self.time_points or len(set(self.time_points)) != len(self.time_points):
            raise ScreenfitInputError("time_points must be distinct days, at least one.", fix="pass e.g. 7,14,21.")
        if min(self.time_points) <= 0 or self.reference_days <= self.screen_delay:
            raise ScreenfitInputError(
                "time points must be after day 0 and reference_days after the screen delay.",
                fix="pass positive days and a reference_days above screen_delay.",
            )


@dataclass(frozen=True)
class Truth:
    """Gene-, guide- and line-level truth of a simulated screen (gene × line kept separately)."""

    genes: pd.DataFrame
    guides: pd.DataFrame
    cell_lines: pd.DataFrame


@dataclass(frozen=True)
class _World:
    """Everything drawn once, before the per-chunk work."""

    cfg: SimulationConfig
    genes: pd.DataFrame
    guides: pd.DataFrame
    lines: pd.DataFrame
    guide_gene: np.ndarray
    pdna: np.ndarray  # (batch, guide) counts
    abundance: np.ndarray  # (guide,)
    usable: np.ndarray  # (batch, guide) reference passes the filter
    batch_offsets: np.ndarray  # (batch, guide)
    mutation_rate: np.ndarray  # (gene,)


def gene_names(kinds: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Names for simulated genes: essential ones after Hart CEGv2, inert ones after NEGv1 (so the
    reference sets, QC and DepMap's scaling find them as in a real screen), the rest synthetic."""
    essential, nonessential = essential_sets()
    pools = {"essential": list(essential), "inert": list(nonessential)}
    for pool in pools.values():
        rng.shuffle(pool)
    names: list[str] = []
    used: set[str] = set()
    for i, kind in enumerate(kinds):
        pool = pools.get(str(kind), [])
        name = pool.pop() if pool else f"SIM{i:05d}"
        while name in used:
            name = f"SIM{i:05d}x"
        used.add(name)
        names.append(name)
    return names


def _random_sequences(n: int, rng: np.random.Generator) -> np.ndarray:
    letters = np.frombuffer(b"ACGT", dtype="S1")
    while True:
        seqs = letters[rng.integers(0, 4, size=(n, 20))].view("S20").ravel().astype(str)
        if len(set(seqs)) == n:
            return seqs


def negative_binomial(rng: np.random.Generator, mean: np.ndarray, dispersion: float) -> np.ndarray:
    """Read counts with the given means: gamma-Poisson with variance ``mean + dispersion · mean²``
    (Poisson for a dispersion of 0)."""
    if dispersion <= 0:
        return rng.poisson(mean).astype(np.float64)
    shape = 1.0 / dispersion
    return rng.poisson(rng.gamma(shape, mean / shape)).astype(np.float64)


def _draw_world(cfg: SimulationConfig) -> _World:
    rng = np.random.default_rng([cfg.seed, 0])
    n_g, n_c, n_b = cfg.n_genes, cfg.n_cell_lines, cfg.n_pdna_batches
    u = rng.random(n_g)
    kinds = np.where(u < cfg.frac_essential, "essential",
                     np.where(u < cfg.frac_essential + cfg.frac_selective, "selective", "inert"))  # fmt: skip
    sel_kind = np.where(rng.random(n_g) < 0.5, "lineage", "mutation")
    lineage_names = [
        LINEAGES[i % len(LINEAGES)] + ("" if i < len(LINEAGES) else f"_{i}") for i in range(cfg.n_lineages)
    ]
    chrom = np.sort(rng.integers(1, 23, size=n_g))
    genes = pd.DataFrame(
        {
            "hugo_symbol": gene_names(kinds, rng),
            "gene_class": kinds,
            "selectivity": np.where(kinds == "selective", sel_kind, ""),
            "selective_lineage": np.where(
                (kinds == "selective") & (sel_kind == "lineage"),
                np.asarray(lineage_names)[rng.integers(0, cfg.n_lineages, n_g)],
                "",
            ),
            "base_effect": np.where(
                kinds == "essential",
                rng.normal(cfg.essential_mean, cfg.essential_sd, n_g),
                rng.normal(0.0, cfg.inert_sd, n_g),
            ),
            "selective_effect": np.where(
                kinds == "selective", rng.normal(cfg.selective_mean, cfg.selective_sd, n_g), 0.0
            ),
            "chromosome": chrom.astype(str),
            "chrom_pos": np.arange(n_g) * 50_000 + 1_000_000,
        }
    )
    mutation_rate = np.where(genes["selectivity"] == "mutation", cfg.mutation_freq, 0.02)
    n_s = n_g * cfg.n_guides
    guide_gene = np.repeat(np.arange(n_g), cfg.n_guides)
    dud = rng.random(n_s) < cfg.dud_guide_fraction
    efficacy = np.where(dud, rng.uniform(0.0, 0.3, n_s), rng.beta(12.0, 1.5, n_s))
    if not cfg.guide_efficacy:
        efficacy, dud = np.ones(n_s), np.zeros(n_s, dtype=bool)
    guides = pd.DataFrame(
        {
            "sgrna": _random_sequences(n_s, rng),
            "hugo_symbol": genes["hugo_symbol"].to_numpy()[guide_gene],
            "efficacy": efficacy,
            "is_dud": dud,
            "chromosome": genes["chromosome"].to_numpy()[guide_gene],
            "chrom_pos": genes["chrom_pos"].to_numpy()[guide_gene] + np.tile(np.arange(cfg.n_guides) * 100, n_g),
        }
    )
    batch_offsets = rng.normal(0.0, cfg.batch_guide_sd, (n_b, n_s))
    for b in range(n_b):
        guides[f"offset_batch_{b + 1}"] = batch_offsets[b]
    log_sd = np.exp(rng.normal(np.log(cfg.noise_sd), cfg.noise_sd_spread, n_c))
    lines = pd.DataFrame(
        {
            "depmap_id": [f"ACH-{i + 1:06d}" for i in range(n_c)],
            "lineage": np.asarray(lineage_names)[rng.integers(0, cfg.n_lineages, n_c)],
            "pdna_batch": [f"Sim-{b + 1}" for b in rng.integers(0, n_b, n_c)],
            "offset": rng.normal(0.0, cfg.line_offset_sd, n_c),
            "quality": np.exp(rng.normal(0.0, cfg.quality_sd, n_c)),
            "noise_sd": log_sd,
            "cn_slope": rng.normal(cfg.cn_slope_mean, cfg.cn_slope_sd, n_c),
        }
    )
    abundance = np.exp(rng.normal(0.0, 0.5, n_s))
    abundance /= abundance.mean()
    pdna = np.stack(
        [negative_binomial(rng, cfg.pdna_reads_per_guide * abundance, cfg.count_dispersion) for _ in range(n_b)]
    )
    median = np.median(pdna, axis=1, keepdims=True)
    usable = (pdna >= median * MIN_REFERENCE_FRACTION) & (pdna > 0)
    return _World(cfg, genes, guides, lines, guide_gene, pdna, abundance, usable, batch_offsets, mutation_rate)


def _copy_number(world: _World, line_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relative gene copy number (lines × genes), constant along segments of SEGMENT_GENES genes."""
    cfg = world.cfg
    n_seg = -(-cfg.n_genes // SEGMENT_GENES)
    u = rng.random((len(line_idx), n_seg))
    seg_cn = np.ones_like(u)
    amp = u < cfg.amplified_fraction
    seg_cn[amp] = 1.0 + rng.gamma(1.5, 1.5, amp.sum())
    dele = (u >= cfg.amplified_fraction) & (u < cfg.amplified_fraction + cfg.deleted_fraction)
    seg_cn[dele] = 0.5
    seg = np.arange(cfg.n_genes) // SEGMENT_GENES
    cn = seg_cn[:, seg] * np.exp(rng.normal(0.0, 0.05, (len(line_idx), cfg.n_genes)))
    return cn


def _gene_line_effects(
    world: _World, line_idx: np.ndarray, mutated: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    g, cfg = world.genes, world.cfg
    lineage = world.lines["lineage"].to_numpy()[line_idx]
    in_lineage = lineage[:, None] == g["selective_lineage"].to_numpy()[None, :]
    dependent = np.where(
        (g["selectivity"] == "lineage").to_numpy()[None, :], in_lineage,
        (g["selectivity"] == "mutation").to_numpy()[None, :] & mutated,
    )  # fmt: skip
    beta = g["base_effect"].to_numpy()[None, :] + dependent * g["selective_effect"].to_numpy()[None, :]
    return beta + rng.normal(0.0, cfg.gene_line_sd, beta.shape)


@dataclass(frozen=True)
class _Chunk:
    long: pa.Table
    gene_line: pd.DataFrame
    counts: pd.DataFrame  # replicates × guides
    sequence_map: pd.DataFrame
    copy_number: pd.DataFrame  # lines × genes (log2(CN + 1))
    mutations: pd.DataFrame


def _dict_array(codes: np.ndarray, labels: np.ndarray) -> pa.DictionaryArray:
    """Dictionary-encoded text column from per-row codes into ``labels`` (labels may repeat)."""
    unique, inverse = np.unique(labels.astype(str), return_inverse=True)
    return pa.DictionaryArray.from_arrays(pa.array(inverse[codes].astype(np.int32)), pa.array(unique))


def _sample_labels(cfg: SimulationConfig, lines: pd.DataFrame) -> np.ndarray:
    """Sequenced-sample names of the lines: line, replicate, batch (and day in a time course)."""
    timed = len(cfg.time_points) > 1
    return np.array(
        [
            f"{d}_Rep{chr(65 + r)}_{b}" + (f"_day{t:g}" if timed else "")
            for d, b in zip(lines["depmap_id"], lines["pdna_batch"], strict=True)
            for r in range(cfg.n_replicates)
            for t in cfg.time_points
        ]
    )


def _depmap_files(
    world: _World, lines: pd.DataFrame, final: np.ndarray, rep_labels: np.ndarray, sample_days: np.ndarray,
    cn: np.ndarray, mutated: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """A chunk's rows of the DepMap-format files: read counts, sequence map, copy number, mutations."""
    cfg = world.cfg
    n_r = cfg.n_samples_per_line
    counts = pd.DataFrame(
        final.reshape(len(lines) * n_r, len(world.guides)), index=rep_labels, columns=world.guides["sgrna"].to_numpy()
    )
    sequence_map = pd.DataFrame(
        {
            "sequence_ID": rep_labels,
            "ScreenID": np.repeat([f"SC-{d}" for d in lines["depmap_id"]], n_r),
            "days": np.tile(sample_days, len(lines)),
            "pDNA_batch": np.repeat(lines["pdna_batch"].to_numpy(), n_r),
            "Replicate": np.tile(
                np.repeat([chr(65 + r) for r in range(cfg.n_replicates)], len(cfg.time_points)), len(lines)
            ),
            "cell_line_name": np.repeat(lines["depmap_id"].to_numpy(), n_r),
            "Library": "Sim",
            "PassesQC": True,
        }
    )
    copy_number = pd.DataFrame(
        np.log2(cn + 1.0), index=lines["depmap_id"].to_numpy(), columns=world.genes["hugo_symbol"].to_numpy()
    )
    li, gi = np.nonzero(mutated)
    mutations = pd.DataFrame(
        {"ModelID": lines["depmap_id"].to_numpy()[li], "Gene": world.genes["hugo_symbol"].to_numpy()[gi]}
    )
    return counts, sequence_map, copy_number, mutations


def _simulate_chunk(world: _World, line_idx: np.ndarray) -> _Chunk:
    cfg = world.cfg
    rng = np.random.default_rng([cfg.seed, 1, int(line_idx[0])])
    n_l, n_s = len(line_idx), len(world.guides)
    n_r = cfg.n_samples_per_line  # sequenced samples per line: replicates × time points
    lines = world.lines.iloc[line_idx]
    mutated = rng.random((n_l, cfg.n_genes)) < world.mutation_rate[None, :]
    cn = _copy_number(world, line_idx, rng)
    beta = _gene_line_effects(world, line_idx, mutated, rng)
    batch = lines["pdna_batch"].str.removeprefix("Sim-").astype(int).to_numpy() - 1
    gg = world.guide_gene
    factor = np.tile(cfg.time_factors(), cfg.n_replicates)[None, :, None]  # samples: replicate-major, then time
    gene_part = lines["quality"].to_numpy()[:, None] * world.guides["efficacy"].to_numpy()[None, :] * beta[:, gg]
    cn_part = lines["cn_slope"].to_numpy()[:, None] * (np.minimum(cn, cfg.cn_max)[:, gg] - 1.0)
    # Summed in this order so that one time point at the reference day (f = 1) gives the numbers
    # simulations gave before time courses, bit for bit (seeded benchmarks and tests stay put).
    mean = (
        lines["offset"].to_numpy()[:, None, None]
        + factor * gene_part[:, None, :]
        + factor * cn_part[:, None, :]
        + world.batch_offsets[batch][:, None, :]
    )  # (line, sample, guide)
    z = mean + rng.normal(0.0, 1.0, (n_l, n_r, n_s)) * lines["noise_sd"].to_numpy()[:, None, None]
    weight = world.abundance[None, None, :] * np.exp2(z)
    weight /= weight.mean(axis=2, keepdims=True)
    final = negative_binomial(rng, cfg.reads_per_guide * weight, cfg.count_dispersion)
    usable = world.usable[batch][:, None, :].repeat(n_r, axis=1)
    ref = world.pdna[batch][:, None, :].repeat(n_r, axis=1)
    ref_total = np.where(world.usable, world.pdna, 0.0).sum(axis=1)[batch][:, None, None]
    final_total = np.where(usable, final, 0.0).sum(axis=2, keepdims=True)
    lfc = log2_fold_change(final, final_total, ref, ref_total, PSEUDOCOUNT) if cfg.lfc_from_counts else z
    keep = usable.ravel()

    rep_labels = _sample_labels(cfg, lines)
    sample_days = np.tile(np.asarray(cfg.time_points, dtype=float), cfg.n_replicates)
    line_codes = np.repeat(np.arange(n_l), n_r * n_s)[keep]
    rep_codes = np.repeat(np.arange(n_l * n_r), n_s)[keep]
    guide_codes = np.tile(np.arange(n_s), n_l * n_r)[keep]
    gene_codes = gg[guide_codes]
    cn_rows = cn[line_codes, gene_codes]
    long = pa.table(
        {
            "sgrna": _dict_array(guide_codes, world.guides["sgrna"].to_numpy()),
            "hugo_symbol": _dict_array(gene_codes, world.genes["hugo_symbol"].to_numpy()),
            "depmap_id": _dict_array(line_codes, lines["depmap_id"].to_numpy()),
            "replicate_id": _dict_array(rep_codes, rep_labels),
            "lfc": lfc.ravel()[keep],
            "days": np.tile(np.repeat(sample_days, n_s), n_l)[keep],
            "pdna_batch": _dict_array(line_codes, lines["pdna_batch"].to_numpy()),
            "passes_qc": np.ones(keep.sum(), dtype=bool),
            "lineage": _dict_array(line_codes, lines["lineage"].to_numpy()),
            "n_alignments": np.ones(keep.sum(), dtype=np.int64),
            "chromosome": _dict_array(guide_codes, world.guides["chromosome"].to_numpy()),
            "chrom_pos": world.guides["chrom_pos"].to_numpy()[guide_codes].astype(np.int64),
            "gene_cn": cn_rows,
            "log2_gene_cn_p1": np.log2(cn_rows + 1.0),
            "is_mutated": mutated[line_codes, gene_codes],
            "counts_initial": ref.ravel()[keep],
            "counts_final": final.ravel()[keep],
            "library_size_initial": np.broadcast_to(ref_total, final.shape).ravel()[keep],
            "library_size_final": np.broadcast_to(final_total, final.shape).ravel()[keep],
        }
    )
    gene_line = pd.DataFrame(
        {
            "hugo_symbol": np.tile(world.genes["hugo_symbol"].to_numpy(), n_l),
            "depmap_id": np.repeat(lines["depmap_id"].to_numpy(), cfg.n_genes),
            "gene_effect": beta.ravel(),
            "is_mutated": mutated.ravel(),
            "gene_cn": cn.ravel(),
        }
    )
    return _Chunk(long, gene_line, *_depmap_files(world, lines, final, rep_labels, sample_days, cn, mutated))


def _chunks(world: _World) -> Iterator[_Chunk]:
    per_line = len(world.guides) * world.cfg.n_samples_per_line
    step = max(1, ROWS_PER_CHUNK // per_line)
    for start in range(0, world.cfg.n_cell_lines, step):
        yield _simulate_chunk(world, np.arange(start, min(start + step, world.cfg.n_cell_lines)))


def _truth(world: _World) -> Truth:
    return Truth(world.genes, world.guides, world.lines)


def simulate_screen(config: SimulationConfig | None = None) -> tuple[Screen, Truth, pd.DataFrame]:
    """Simulate a screen in memory (for small sizes): the screen, the truth, and gene × line truth.

    Use :func:`write_simulation` for large sizes; it streams to disk.
    """
    cfg = config or SimulationConfig()
    cfg.validate()
    world = _draw_world(cfg)
    chunks = list(_chunks(world))
    table = pa.concat_tables([c.long for c in chunks]).to_pandas()
    gene_line = pd.concat([c.gene_line for c in chunks], ignore_index=True)
    screen = Screen.from_frame(table, source=f"simulation (seed {cfg.seed})")
    return screen, _truth(world), gene_line


def _reference_rows(world: _World) -> pd.DataFrame:
    n_b = world.cfg.n_pdna_batches
    return pd.DataFrame(
        {
            "sequence_ID": [f"pDNA_batch_Sim-{b + 1}" for b in range(n_b)],
            "ScreenID": "pDNA", "days": 0, "pDNA_batch": [f"Sim-{b + 1}" for b in range(n_b)],
            "Replicate": "", "cell_line_name": "pDNA", "Library": "Sim", "PassesQC": True,
        }
    )  # fmt: skip


class _ParquetSink:
    """Appends Arrow tables as row groups; unifies dictionaries by writing plain strings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        plain = pa.table(
            {
                n: (c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c)
                for n, c in zip(table.column_names, table.columns, strict=True)
            }
        )
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, plain.schema, compression="zstd")
        self.writer.write_table(plain)
        self.rows += plain.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> _ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_simulation(
    config: SimulationConfig,
    out: str | Path,
    write_counts: bool = True,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Simulate a screen and write it to the folder ``out``, streaming chunk by chunk.

    Layout: ``screen.parquet`` (+ ``screen.csv`` when ≤ 2 M rows), ``truth/`` (``genes``,
    ``guides``, ``cell_lines``, ``gene_cell_line`` as Parquet, ``config.json``) and, with
    ``write_counts``, ``depmap/`` with DepMap-format ``SimReadcounts.csv.gz``,
    ``SimSequenceMap.csv``, ``SimGuideMap.csv``, ``OmicsCNGene.csv.gz`` and
    ``OmicsSomaticMutations.csv`` (read back with ``read_depmap(out/'depmap', 'Sim')``).
    """
    config.validate()
    world = _draw_world(config)
    n_chunks = -(-config.n_cell_lines // max(1, ROWS_PER_CHUNK // (len(world.guides) * config.n_samples_per_line)))
    with atomic_path(Path(out), force=force) as tmp, ExitStack() as files:
        (tmp / "truth").mkdir(parents=True)
        long_sink = files.enter_context(_ParquetSink(tmp / "screen.parquet"))
        gl_sink = files.enter_context(_ParquetSink(tmp / "truth" / "gene_cell_line.parquet"))
        seq_maps, muts = [_reference_rows(world)], []
        if write_counts:
            dm = tmp / "depmap"
            dm.mkdir()
            counts_fh = files.enter_context(gzip.open(dm / "SimReadcounts.csv.gz", "wt", compresslevel=1))
            pdna = pd.DataFrame(world.pdna, index=_reference_rows(world)["sequence_ID"], columns=world.guides["sgrna"])
            pdna.to_csv(counts_fh, float_format="%.0f")
            cn_fh = files.enter_context(gzip.open(dm / "OmicsCNGene.csv.gz", "wt", compresslevel=1))
        for i, chunk in enumerate(_chunks(world)):
            long_sink.write(chunk.long)
            gl_sink.write(pa.Table.from_pandas(chunk.gene_line, preserve_index=False))
            if write_counts:
                chunk.counts.to_csv(counts_fh, header=False, float_format="%.0f")
                chunk.copy_number.to_csv(cn_fh, header=(i == 0))
                seq_maps.append(chunk.sequence_map)
                muts.append(chunk.mutations)
            if progress is not None:
                progress(i + 1, n_chunks)
        files.close()
        if write_counts:
            pd.concat(seq_maps).to_csv(dm / "SimSequenceMap.csv", index=False)
            pd.concat(muts).assign(LikelyGoF=False, Driver=False).to_csv(dm / "OmicsSomaticMutations.csv", index=False)
            alignment = "chr" + world.guides["chromosome"] + "_" + world.guides["chrom_pos"].astype(str) + "_+"
            pd.DataFrame(
                {
                    "sgrna": world.guides["sgrna"],
                    "GenomeAlignment": alignment,
                    "gene": world.guides["hugo_symbol"],
                    "nAlignments": 1.0,
                    "DropReason": "",
                    "UsedByChronos": True,
                }
            ).to_csv(dm / "SimGuideMap.csv", index=False)
        if long_sink.rows <= CSV_TWIN_MAX_ROWS:
            pq.read_table(tmp / "screen.parquet").to_pandas().to_csv(tmp / "screen.csv", index=False)
        world.genes.to_parquet(tmp / "truth" / "genes.parquet", index=False)
        world.guides.to_parquet(tmp / "truth" / "guides.parquet", index=False)
        world.lines.to_parquet(tmp / "truth" / "cell_lines.parquet", index=False)
        (tmp / "truth" / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    return Path(out)


def read_truth(folder: str | Path) -> tuple[Truth, pd.DataFrame]:
    """Read the truth written by :func:`write_simulation`: (gene/guide/line truth, gene × line truth)."""
    t = Path(folder) / "truth"
    truth = Truth(
        pd.read_parquet(t / "genes.parquet"),
        pd.read_parquet(t / "guides.parquet"),
        pd.read_parquet(t / "cell_lines.parquet"),
    )
    return truth, pd.read_parquet(t / "gene_cell_line.parquet")


def _two_arm_table(cfg: SimulationConfig, what: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A simulated LFC table without read counts, its gene × line truth, and per row whether its
    replicate is in the second half of its line's replicates (by name) — the second arm."""
    if cfg.n_replicates < 2:
        raise ScreenfitInputError(f"a {what} screen needs at least 2 replicates per line.", fix="raise n_replicates.")
    screen, _, gene_line = simulate_screen(cfg)
    table = screen.table.drop(columns=[c for c in screen.table.columns if c.startswith(("counts_", "library_size_"))])
    reps = table[["depmap_id", "replicate_id"]].astype(str).drop_duplicates().sort_values(["depmap_id", "replicate_id"])
    by_line = reps.groupby("depmap_id")
    second = set(reps.loc[by_line.cumcount() >= by_line["replicate_id"].transform("size") // 2, "replicate_id"])
    return table, gene_line, table["replicate_id"].astype(str).isin(second).to_numpy()


def simulate_condition_screen(
    config: SimulationConfig | None = None,
    n_condition_genes: int = 10,
    effect_range: tuple[float, float] = (0.3, 0.8),
    conditions: tuple[str, str] = ("vehicle", "drug"),
) -> tuple[Screen, pd.DataFrame]:
    """A screen of every line in two conditions (e.g. vehicle and drug) with condition-specific genes.

    The first half of each line's replicates (``config.n_replicates``, at least 2) is the
    reference condition, the rest the treated one. ``n_condition_genes`` genes get a difference
    ``δ_g`` in the treated condition, half of them negative (the drug sensitises the line to the
    knockout), half positive (resistance), ``|δ_g|`` uniform on ``effect_range``; it is added to
    the treated rows' LFC, so this is an LFC-level simulation (read-count columns are dropped).

    Returns the screen (column ``condition``) and per gene ``hugo_symbol, condition_difference``.
    """
    cfg = config or SimulationConfig(n_replicates=4)
    t, _, treated = _two_arm_table(cfg, "two-condition")
    rng = np.random.default_rng(cfg.seed + 7919)
    genes = np.array(sorted(t["hugo_symbol"].astype(str).unique()))
    chosen = rng.choice(len(genes), size=min(n_condition_genes, len(genes)), replace=False)
    delta = np.zeros(len(genes))
    sizes = rng.uniform(*effect_range, size=len(chosen))
    delta[chosen] = np.where(np.arange(len(chosen)) % 2 == 0, -sizes, sizes)
    effect = pd.Series(delta, index=genes)
    t = t.assign(
        condition=np.where(treated, conditions[1], conditions[0]),
        lfc=t["lfc"].to_numpy() + treated * t["hugo_symbol"].astype(str).map(effect).to_numpy(),
    )
    truth = pd.DataFrame({"hugo_symbol": genes, "condition_difference": delta})
    return Screen.from_frame(t, source=f"condition simulation (seed {cfg.seed})"), truth


def simulate_library_screen(
    config: SimulationConfig | None = None,
    scale: float = 0.7,
    libraries: tuple[str, str] = ("LibA", "LibB"),
) -> tuple[Screen, float]:
    """A joint screen of two libraries: each line's replicates split between them, distinct guides.

    The first half of each line's replicates is screened with ``libraries[0]``, the rest with
    ``libraries[1]`` under other guide IDs (as in Avana vs KY), whose gene effects are scaled by
    ``scale`` (a shorter screen, e.g. day 14 vs 21): ``lfc' = lfc − (1 − scale) · β_gc`` with the
    true gene × line effect ``β_gc``. An LFC-level simulation, meant for the additive regime
    (``lfc_from_counts=False``); read-count columns are dropped. Returns the screen and ``scale``.
    """
    cfg = config or SimulationConfig.additive(n_replicates=4)
    t, gene_line, in_second = _two_arm_table(cfg, "two-library")
    beta = gene_line.set_index(["hugo_symbol", "depmap_id"])["gene_effect"]
    row_beta = beta.reindex(pd.MultiIndex.from_arrays([t["hugo_symbol"].astype(str), t["depmap_id"].astype(str)]))
    sgrna = t["sgrna"].astype(str)
    t = t.assign(
        library=np.where(in_second, libraries[1], libraries[0]),
        sgrna=np.where(in_second, sgrna + "_" + libraries[1], sgrna),
        lfc=t["lfc"].to_numpy() - in_second * (1.0 - scale) * row_beta.to_numpy(),
    )
    return Screen.from_frame(t, source=f"two-library simulation (seed {cfg.seed})"), scale
