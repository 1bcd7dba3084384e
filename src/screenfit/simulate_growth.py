"""A screen simulated by cell growth, as Chronos models it — a process no screenfit model assumes.

:mod:`screenfit.simulate` draws LFC from screenfit's own generative form (an additive mean on
the log scale); a benchmark on it favours the models that share that form. This module instead
grows cells (Dempster et al. 2021, the Chronos model) and reads them:

- A fraction ``e_s · k_c`` of the cells given guide ``s`` in line ``c`` lose the gene (guide
  efficacy × the line's Cas9 activity); after a delay ``d`` they grow at ``r_c (1 + g_gc)``
  against the line's ``r_c`` doublings a day (``g_gc`` the gene effect: −1 stops growth). The
  rest grow as the line does, so depletion saturates at ``log2(1 − e_s k_c)``: a partial
  knockout of an essential gene never depletes as much as a full one, however long it grows.
- Cutting in amplified DNA costs growth by a saturating function of copy number,
  ``κ_c (1 − exp(−(CN − 2)₊ / 4))``, in the cells whose guide cut.
- Guides start at unequal abundances in the plasmid, which each pDNA batch measures with its own
  noise; a few guide × line pairs grow out (a clone with a proliferative advantage); reads are
  negative binomial with a dispersion per replicate; lines have 2, 3 or 4 replicates, screened
  for 14 or 21 days.
- The covariates are those a user has, not the causes: mutation calls with false negatives and
  false positives, copy number as DepMap ships it (log2 of relative copy number + 1, with
  measurement noise), and lineage labels.

The folder it writes is a DepMap release (``depmap/``: ``SimReadcounts.csv.gz``,
``SimSequenceMap.csv``, ``SimGuideMap.csv``, ``OmicsCNGene.csv.gz``, ``OmicsSomaticMutations.csv``,
``Model.csv``) that ``screenfit ingest depmap FOLDER --library Sim`` and Chronos read alike, and
``truth/`` in the layout of :func:`screenfit.simulate.read_truth` (``gene_effect`` is ``g_gc``).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.errors import ScreenfitInputError
from screenfit.io.atomic import atomic_path
from screenfit.simulate import gene_names, negative_binomial

LINEAGES = ("Lung", "Breast", "Skin", "Bowel", "Myeloid", "CNS/Brain")


@dataclass(frozen=True)
class GrowthSimulationConfig:
    """Sizes and generative parameters of a growth-simulated screen."""

    n_genes: int = 300
    n_cell_lines: int = 60
    n_guides: int = 4
    seed: int = 0
    #: Shares of gene classes: common essential, selective (lineage- or mutation-bound), weak.
    frac_essential: float = 0.12
    frac_selective: float = 0.08
    frac_weak: float = 0.1
    delay_days: float = 3.0
    #: Guides that barely cut (efficacy 0–0.3), the rest Beta(10, 1.5).
    dud_fraction: float = 0.12
    reads_per_guide: float = 500.0
    pdna_reads_per_guide: float = 1000.0
    outgrowth_rate: float = 0.001
    #: Mutation calls: the share of true mutations missed, and calls per gene × line without one.
    false_negative_rate: float = 0.15
    false_positive_rate: float = 0.003
    cn_noise_sd: float = 0.1

    def validate(self) -> None:
        """Refuse sizes too small to hold every gene class and lineage."""
        if self.n_genes < 20 or self.n_cell_lines < 6 or self.n_guides < 1:
            raise ScreenfitInputError(
                "a growth simulation needs at least 20 genes, 6 cell lines and 1 guide per gene.",
                fix="raise --genes, --cell-lines or --guides.",
            )


def _genes(cfg: GrowthSimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.n_genes
    kinds = np.full(n, "inert", dtype=object)
    order = rng.permutation(n)
    n_ess, n_sel, n_weak = (round(f * n) for f in (cfg.frac_essential, cfg.frac_selective, cfg.frac_weak))
    kinds[order[:n_ess]] = "essential"
    kinds[order[n_ess : n_ess + n_sel]] = "selective"
    kinds[order[n_ess + n_sel : n_ess + n_sel + n_weak]] = "weak"
    # Half the selective genes bind to a lineage, half to a mutation (oncogene addiction).
    bound = np.where(rng.random(n) < 0.5, "lineage", "mutation")
    return pd.DataFrame(
        {
            "hugo_symbol": gene_names(kinds, rng),
            "gene_class": kinds,
            "selective_by": np.where(kinds == "selective", bound, ""),
            "lineage": rng.choice(LINEAGES, n),
            "base_effect": np.select(
                [kinds == "essential", kinds == "weak"],
                [rng.normal(-1.0, 0.25, n), rng.normal(-0.3, 0.1, n)],
                rng.normal(0.0, 0.03, n),
            ),
            "mutation_rate": np.where(bound == "mutation", 0.3, 0.02) * (kinds == "selective") + 0.01,
        }
    )


def _lines(cfg: GrowthSimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    c = cfg.n_cell_lines
    return pd.DataFrame(
        {
            "depmap_id": [f"ACH-{i:06d}" for i in range(c)],
            "lineage": rng.choice(LINEAGES, c),
            "growth_rate": rng.uniform(0.35, 1.0, c),  # doublings a day
            "cas9_activity": rng.beta(8.0, 1.5, c),
            "cn_toxicity": np.clip(rng.normal(0.35, 0.1, c), 0.05, None),
            "days": rng.choice([14.0, 21.0], c, p=[0.3, 0.7]),
            "n_replicates": rng.choice([2, 3, 4], c, p=[0.3, 0.5, 0.2]),
            "pdna_batch": rng.choice(["Sim-1", "Sim-2"], c),
            "dispersion": rng.uniform(0.02, 0.15, c),
        }
    )


def _copy_number(genes: pd.DataFrame, lines: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Absolute copy number, lines × genes: ploidy 2–4 per line, amplified and deleted segments of
    genes in their order (their stand-in for the genome)."""
    c, n = len(lines), len(genes)
    cn = np.repeat(rng.choice([2.0, 3.0, 4.0], c, p=[0.5, 0.3, 0.2])[:, None], n, axis=1)
    for line in range(c):
        for _ in range(rng.poisson(2)):
            start, length = rng.integers(0, n), rng.integers(5, 25)
            cn[line, start : start + length] *= rng.choice([0.5, 2.0, 3.0, 5.0], p=[0.3, 0.35, 0.2, 0.15])
    return cn


def _gene_effects(
    genes: pd.DataFrame, lines: pd.DataFrame, mutated: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``g_gc``, lines × genes: the base effect, selective genes only where their lineage or mutation is."""
    base = genes["base_effect"].to_numpy()
    g = np.repeat(base[None, :], len(lines), axis=0) + rng.normal(0.0, 0.05, (len(lines), len(genes)))
    selective = (genes["gene_class"] == "selective").to_numpy()
    by_lineage = selective & (genes["selective_by"] == "lineage").to_numpy()
    by_mutation = selective & (genes["selective_by"] == "mutation").to_numpy()
    in_lineage = lines["lineage"].to_numpy()[:, None] == genes["lineage"].to_numpy()[None, :]
    strength = rng.uniform(0.5, 1.2, len(genes))
    dependent = (by_lineage[None, :] & in_lineage) | (by_mutation[None, :] & mutated)
    g[:, selective] = rng.normal(0.0, 0.05, (len(lines), int(selective.sum())))
    g -= dependent * strength[None, :]
    return g


def write_growth_simulation(config: GrowthSimulationConfig, out: str | Path, force: bool = False) -> Path:
    """Simulate a screen by cell growth (see the module docstring) and write it to ``out``."""
    config.validate()
    rng = np.random.default_rng([config.seed, 7])
    genes, lines = _genes(config, rng), _lines(config, rng)
    g_n, c_n, s_per = len(genes), len(lines), config.n_guides
    guide_gene = np.repeat(np.arange(g_n), s_per)
    sgrna = np.array(["".join(rng.choice(list("ACGT"), 20)) for _ in guide_gene])
    dud = rng.random(len(guide_gene)) < config.dud_fraction
    efficacy = np.where(dud, rng.uniform(0.0, 0.3, len(dud)), rng.beta(10.0, 1.5, len(dud)))
    abundance = np.exp(rng.normal(0.0, 0.6, len(guide_gene)))
    mutated = rng.random((c_n, g_n)) < genes["mutation_rate"].to_numpy()[None, :]
    cn = _copy_number(genes, lines, rng)
    effect = _gene_effects(genes, lines, mutated, rng)
    counts, sequences = _reads(config, lines, effect, cn, guide_gene, efficacy, abundance, rng)
    counts.columns = sgrna
    with atomic_path(Path(out), force=force) as tmp:
        dm, truth = tmp / "depmap", tmp / "truth"
        dm.mkdir(parents=True)
        truth.mkdir()
        with gzip.open(dm / "SimReadcounts.csv.gz", "wt", compresslevel=1) as fh:
            counts.to_csv(fh, float_format="%.0f")
        sequences.to_csv(dm / "SimSequenceMap.csv", index=False)
        pd.DataFrame({"sgrna": sgrna, "gene": genes["hugo_symbol"].to_numpy()[guide_gene]}).to_csv(
            dm / "SimGuideMap.csv", index=False
        )
        observed_cn = np.log2(cn / 2.0 * np.exp(rng.normal(0.0, config.cn_noise_sd, cn.shape)) + 1.0)
        with gzip.open(dm / "OmicsCNGene.csv.gz", "wt", compresslevel=1) as fh:
            pd.DataFrame(observed_cn, index=lines["depmap_id"], columns=genes["hugo_symbol"]).to_csv(fh)
        called = (mutated & (rng.random(mutated.shape) >= config.false_negative_rate)) | (
            ~mutated & (rng.random(mutated.shape) < config.false_positive_rate)
        )
        li, gi = np.nonzero(called)
        pd.DataFrame(
            {"ModelID": lines["depmap_id"].to_numpy()[li], "Gene": genes["hugo_symbol"].to_numpy()[gi]}
        ).to_csv(dm / "OmicsSomaticMutations.csv", index=False)
        pd.DataFrame({"ModelID": lines["depmap_id"], "OncotreeLineage": lines["lineage"]}).to_csv(
            dm / "Model.csv", index=False
        )
        genes.to_parquet(truth / "genes.parquet")
        pd.DataFrame({"sgrna": sgrna, "hugo_symbol": genes["hugo_symbol"].to_numpy()[guide_gene],
                      "efficacy": efficacy, "is_dud": dud}).to_parquet(truth / "guides.parquet")  # fmt: skip
        lines.assign(offset=0.0).to_parquet(truth / "cell_lines.parquet")
        pd.DataFrame(
            {
                "hugo_symbol": np.tile(genes["hugo_symbol"].to_numpy(), c_n),
                "depmap_id": np.repeat(lines["depmap_id"].to_numpy(), g_n),
                "gene_effect": effect.ravel(),
                "is_mutated": mutated.ravel(),
                "gene_cn": cn.ravel(),
            }
        ).to_parquet(truth / "gene_cell_line.parquet")
        (truth / "config.json").write_text(json.dumps({"generator": "growth", **asdict(config)}, indent=1) + "\n")
    return Path(out)


def _reads(
    cfg: GrowthSimulationConfig, lines: pd.DataFrame, effect: np.ndarray, cn: np.ndarray, guide_gene: np.ndarray,
    efficacy: np.ndarray, abundance: np.ndarray, rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Read counts (sequences × guides) of the pDNA batches and every replicate, and the sequence map."""
    rows, seq_rows = [], []
    batch_abundance = {}
    for batch in ("Sim-1", "Sim-2"):
        drift = abundance * np.exp(rng.normal(0.0, 0.15, abundance.size))  # each batch's own plasmid prep
        batch_abundance[batch] = drift / drift.mean()
        rows.append(negative_binomial(rng, cfg.pdna_reads_per_guide * batch_abundance[batch], 0.01))
        seq_rows.append({"sequence_ID": f"pDNA_{batch}", "days": 0, "pDNA_batch": batch, "Replicate": "",
                         "cell_line_name": "pDNA", "Library": "Sim", "PassesQC": True})  # fmt: skip
    for c, line in enumerate(lines.itertuples()):
        k_e = efficacy * line.cas9_activity
        toxicity = line.cn_toxicity * (1.0 - np.exp(-np.maximum(cn[c, guide_gene] - 2.0, 0.0) / 4.0))
        grown = max(line.days - cfg.delay_days, 0.0) * line.growth_rate
        # Knocked-out cells' growth relative to the line's: 2^(r (g − toxicity)(t − d)); the
        # uncut rest keeps the line's rate, so depletion saturates at log2(1 − e k).
        relative = (1.0 - k_e) + k_e * np.exp2((effect[c, guide_gene] - toxicity) * grown)
        for r in range(line.n_replicates):
            weight = batch_abundance[line.pdna_batch] * relative * np.exp(rng.normal(0.0, 0.05, relative.size))
            outgrown = rng.random(weight.size) < cfg.outgrowth_rate
            weight = np.where(outgrown, weight * np.exp2(rng.uniform(2.0, 5.0, weight.size)), weight)
            weight /= weight.mean()
            rows.append(negative_binomial(rng, cfg.reads_per_guide * weight, line.dispersion))
            rep = "ABCD"[r]
            seq_rows.append({"sequence_ID": f"{line.depmap_id}_Rep{rep}", "days": line.days,
                             "pDNA_batch": line.pdna_batch, "Replicate": rep, "cell_line_name": line.depmap_id,
                             "Library": "Sim", "PassesQC": True})  # fmt: skip
    sequences = pd.DataFrame(seq_rows)
    return pd.DataFrame(np.vstack(rows), index=sequences["sequence_ID"]), sequences
