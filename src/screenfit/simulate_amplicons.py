"""A single-line screen with focal amplicons, simulated on a real library's coordinates.

Made to test copy-number-free bias correction (``screenfit correct``, CRISPRcleanR) where the
truth is known, by a process that is neither screenfit's model nor CRISPRcleanR's:

- **Genes.** Reference essential genes deplete (``N(−1.5, 0.5)`` per full knockout), reference
  non-essential genes do not, and of the rest 8% are weaker dependencies (``N(−0.6, 0.3)``); a
  guide's effect is its gene's times its efficacy (``Beta(6, 1.5)``: a cell is cut or not).
- **Copy number.** Diploid, with broad gains (10–40 Mb at 3–5 copies) and focal amplicons
  (1–6 Mb at 8–24 copies) placed on the library's chromosomes. Every cut costs fitness, so a
  guide's fold change gains ``−toxicity · log₂(CN / 2)`` whatever gene it targets.
- **Planted dependencies.** One gene per amplicon (the "driver") depletes by ``driver_effect``
  on top of the cutting toxicity: a correction must leave it standing out of its segment.
- **Reads.** pDNA counts log-normal around ``reads`` per guide; each replicate's final count is
  negative binomial around the pDNA abundance times ``2^(lfc + ε)``, ``ε ~ N(0, noise)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AMPLIFIED_CN = 8
"""Copy number from which a gene counts as amplified (the threshold the issue scores)."""


@dataclass(frozen=True)
class AmpliconConfig:
    """What :func:`simulate_amplified_screen` draws (see the module docstring)."""

    n_amplicons: int = 6
    amplicon_mb: tuple[float, float] = (1.0, 6.0)
    amplicon_cn: tuple[int, int] = (8, 24)
    n_gains: int = 8
    gain_mb: tuple[float, float] = (10.0, 40.0)
    gain_cn: tuple[int, int] = (3, 5)
    toxicity: float = 0.5
    driver_effect: float = -2.5
    reads: float = 500.0
    replicates: int = 3
    noise: float = 0.3
    dispersion: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class AmpliconScreen:
    """The simulated counts and what generated them.

    ``counts``: ``sgRNA``, ``gene``, ``pDNA``, ``rep1`` … (CRISPRcleanR's and MAGeCK's layout);
    ``genes``: per gene ``gene``, ``chromosome``, ``start``, ``copy_number``, ``effect`` (per full
    knockout, without the cutting toxicity), ``kind`` (``essential`` and ``nonessential``: the reference
    sets; ``weak``: the other dependencies; ``driver``; ``null``: the rest, without effect), ``expected``
    (the gene's guides' mean efficacy × effect: its fold change without the toxicity);
    ``regions``: the gains and amplicons (``chromosome``, ``start``, ``end``, ``copy_number``).
    """

    counts: pd.DataFrame
    genes: pd.DataFrame
    regions: pd.DataFrame

    @property
    def samples(self) -> list[str]:
        """The count table's sample columns, pDNA first."""
        return [c for c in self.counts.columns if c not in ("sgRNA", "gene")]


def _regions(genes: pd.DataFrame, cfg: AmpliconConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Gains first, then amplicons (later, so they win where the two overlap), each around a gene drawn at random."""
    rows = []
    for n, (lo_mb, hi_mb), (lo_cn, hi_cn) in (
        (cfg.n_gains, cfg.gain_mb, cfg.gain_cn),
        (cfg.n_amplicons, cfg.amplicon_mb, cfg.amplicon_cn),
    ):
        for centre in rng.choice(len(genes), n, replace=False):
            width = rng.uniform(lo_mb, hi_mb) * 1e6
            start = genes["start"].iat[centre] - width * rng.uniform(0.2, 0.8)
            cn = int(rng.integers(lo_cn, hi_cn + 1))
            rows.append({"chromosome": genes["chromosome"].iat[centre], "start": start, "end": start + width,
                         "copy_number": cn})  # fmt: skip
    return pd.DataFrame(rows)


def simulate_amplified_screen(
    library: pd.DataFrame, essential: set[str], nonessential: set[str], cfg: AmpliconConfig | None = None
) -> AmpliconScreen:
    """Simulate one line's screen on ``library``'s guides (columns ``sgRNA``, ``gene``, ``chromosome``,
    ``start``); ``essential`` and ``nonessential`` are the reference genes (module docstring)."""
    cfg = cfg or AmpliconConfig()
    rng = np.random.default_rng(cfg.seed)
    lib = library[["sgRNA", "gene", "chromosome", "start"]].dropna().drop_duplicates("sgRNA").reset_index(drop=True)
    lib = lib.assign(chromosome=lib["chromosome"].astype(str))
    genes = lib.groupby("gene", sort=True).agg(chromosome=("chromosome", "first"), start=("start", "median"))
    genes = genes.reset_index()
    regions = _regions(genes, cfg, rng)
    cn = np.full(len(genes), 2.0)
    amplicon = np.full(len(genes), -1)
    for i, r in regions.iterrows():
        inside = (genes["chromosome"] == r["chromosome"]).to_numpy() & genes["start"].between(
            r["start"], r["end"]
        ).to_numpy()
        cn[inside] = r["copy_number"]
        amplicon[inside] = i if r["copy_number"] >= AMPLIFIED_CN else -1
    kind = np.where(
        genes["gene"].isin(essential), "essential", np.where(genes["gene"].isin(nonessential), "nonessential", "other")
    )
    effect = np.zeros(len(genes))
    is_ess, is_other = kind == "essential", kind == "other"
    effect[is_ess] = rng.normal(-1.5, 0.5, is_ess.sum())
    weak = is_other & (rng.random(len(genes)) < 0.08)
    effect[weak] = rng.normal(-0.6, 0.3, weak.sum())
    kind[weak] = "weak"
    kind[kind == "other"] = "null"
    is_null = kind == "null"
    for i in np.unique(amplicon[amplicon >= 0]):
        candidates = np.flatnonzero((amplicon == i) & is_null)
        if candidates.size:
            driver = rng.choice(candidates)
            kind[driver], effect[driver] = "driver", cfg.driver_effect
    genes = genes.assign(copy_number=cn, effect=effect, kind=kind)
    per_guide = lib.merge(genes[["gene", "copy_number", "effect"]], on="gene", how="left")
    efficacy = rng.beta(6.0, 1.5, len(per_guide))
    knockout = efficacy * per_guide["effect"].to_numpy()
    expected = pd.Series(knockout).groupby(per_guide["gene"].to_numpy()).mean()
    genes = genes.assign(expected=expected.reindex(genes["gene"]).to_numpy())
    lfc = knockout - cfg.toxicity * np.log2(per_guide["copy_number"].to_numpy() / 2.0)
    abundance = rng.lognormal(0.0, 0.5, len(per_guide))
    abundance /= abundance.sum()
    total = cfg.reads * len(per_guide)
    counts = {"sgRNA": per_guide["sgRNA"].to_numpy(), "gene": per_guide["gene"].to_numpy()}
    counts["pDNA"] = rng.poisson(total * abundance)
    r = 1.0 / cfg.dispersion
    for rep in range(1, cfg.replicates + 1):
        growth = abundance * 2.0 ** (lfc + rng.normal(0.0, cfg.noise, len(lfc)))
        mean = total * growth / growth.sum()
        counts[f"rep{rep}"] = rng.negative_binomial(r, r / (r + mean))
    return AmpliconScreen(pd.DataFrame(counts), genes, regions)
