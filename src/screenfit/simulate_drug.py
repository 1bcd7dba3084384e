"""A drug-vs-vehicle screen simulated by growing cells through bottlenecks — no screenfit model's form.

One cell line, a library of ``n_genes × guides_per_gene`` targeting guides plus non-targeting
controls, grown as a lab grows it:

- The plasmid pool holds guides at log-normal abundances; ``infection_cells`` cells per guide
  are transduced (Poisson). A guide knocks its gene out in a share ``e_s ~ Beta(6, 1.5)`` of its
  cells (a cell is knocked out or not); after ``delay_days`` knocked-out cells grow at
  ``r (1 + f_g)`` doublings a day against the line's ``r`` (``f_g = −1`` stops growth, lower kills).
- After ``days_before_split`` days the pool is split into the vehicle and drug arms, each
  replicate seeded with a Poisson sample of ``bottleneck_cells`` cells per guide; every
  ``passage_days`` each flask is passaged through the same bottleneck, so depleted guides drift
  and drop out as they do in a flask.
- Under the drug the line grows at ``drug_growth · r`` and knocked-out cells at
  ``drug_growth · r (1 + f_g + d_g)``: ``d_g < 0`` sensitises (the knockout hurts more), ``d_g > 0``
  rescues; a share of genes has each, some weakly. Where the drug slows every cell
  (``drug_growth < 1``), an essential gene depletes less under the drug with ``d_g = 0`` — a
  property of drug screens at growth-inhibiting doses that a method must not call a hit.
- Reads are negative binomial at ``reads_per_guide`` a guide on average.

Written as a lab has it (:func:`write_drug_screen`): ``counts.tsv`` (MAGeCK-style: ``sgRNA``,
``gene``, one column per sample), ``samples.csv`` (screenfit's sample sheet with a ``treatment``
column), ``controls.txt`` (non-targeting guide IDs under a ``sgRNA`` header), ``truth.csv`` (per gene: ``fitness``
``f_g``, ``interaction`` ``d_g``, ``hit``, ``direction`` and ``expected_difference``, the drug
arm's LFC minus the vehicle arm's for a full knockout without noise) and ``guide_efficacy.csv``
(each targeting guide's ``e_s``, as another fit of the library would give it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from screenfit.errors import ScreenfitInputError
from screenfit.io.atomic import atomic_path
from screenfit.simulate import gene_names, negative_binomial

CONTROL_GENE = "NonTargeting"
#: The two arms, reference first, as the sample sheet's ``treatment`` values.
ARMS = ("vehicle", "drug")
#: Slowest growth (doublings a day) of a knocked-out cell: below 0 the cells die.
DEATH_RATE = -0.5
#: The seed's stream the growth simulator draws its library and cells from.
LIBRARY_STREAM = 11


@dataclass(frozen=True)
class DrugScreenConfig:
    """Sizes and generative parameters of a simulated drug-vs-vehicle screen."""

    n_genes: int = 2000
    guides_per_gene: int = 4
    n_control_guides: int = 100
    replicates: int = 3
    reads_per_guide: float = 500.0
    #: Read dispersion (variance ``μ + φ μ²``).
    dispersion: float = 0.02
    infection_cells: float = 500.0
    bottleneck_cells: float = 300.0
    frac_essential: float = 0.1
    frac_sensitising: float = 0.03
    frac_rescuing: float = 0.02
    #: ``|d_g|`` of interacting genes, uniform on this range (relative growth per doubling).
    interaction_range: tuple[float, float] = (0.03, 0.15)
    efficacy_beta: tuple[float, float] = (6.0, 1.5)
    growth_rate: float = 1.0
    drug_growth: float = 1.0
    delay_days: float = 3.0
    days_before_split: float = 7.0
    days_after_split: float = 14.0
    passage_days: float = 3.5
    seed: int = 0

    def validate(self) -> None:
        """Refuse designs the benchmark cannot use."""
        if self.n_genes < 50 or self.guides_per_gene < 1 or self.replicates < 2:
            raise ScreenfitInputError(
                "a drug-screen simulation needs at least 50 genes, 1 guide per gene and 2 replicates per arm.",
                fix="raise n_genes, guides_per_gene or replicates.",
            )
        if self.n_control_guides < 10:
            raise ScreenfitInputError(
                "a drug-screen simulation needs at least 10 non-targeting guides (normalisation uses them).",
                fix="raise n_control_guides.",
            )


def drug_genes(cfg: DrugScreenConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Per gene: name, fitness ``f_g`` (essential or near-neutral), drug interaction ``d_g``, whether
    it is a hit and its direction: the truth of a simulated drug screen, whatever grows its cells."""
    n = cfg.n_genes
    essential = rng.random(n) < cfg.frac_essential
    fitness = np.where(essential, -rng.uniform(0.05, 0.6, n), rng.normal(0.0, 0.01, n))
    u = rng.random(n)
    direction = np.where(u < cfg.frac_sensitising, -1, np.where(u < cfg.frac_sensitising + cfg.frac_rescuing, 1, 0))
    interaction = direction * rng.uniform(*cfg.interaction_range, n)
    names = gene_names(np.where(essential, "essential", "inert"), rng)
    return pd.DataFrame({"hugo_symbol": names, "essential": essential, "fitness": fitness,
                         "interaction": interaction, "hit": direction != 0,
                         "direction": direction_labels(direction)})  # fmt: skip


def direction_labels(direction: np.ndarray) -> pd.Series:
    """``-1``/``1``/``0`` per gene as the truth's ``sensitising``/``rescuing``/``none``."""
    return pd.Series(direction).map({-1: "sensitising", 1: "rescuing", 0: "none"})


def sample_sheet(replicates: int) -> pd.DataFrame:
    """The sample sheet of a simulated drug screen: the pDNA, then ``vehicle_1…`` and ``drug_1…``
    (column ``treatment``), one line."""
    rows = [{"sample": "pDNA", "condition": "initial", "replicate": "pDNA", "cell_line": "reference",
             "pdna_batch": "pDNA", "treatment": ""}]  # fmt: skip
    for arm in ARMS:
        for r in range(replicates):
            name = f"{arm}_{r + 1}"
            rows.append({"sample": name, "condition": "final", "replicate": name, "cell_line": "SIMLINE",
                         "pdna_batch": "pDNA", "treatment": arm})  # fmt: skip
    return pd.DataFrame(rows)


def count_table(
    names: np.ndarray, guide_gene: np.ndarray, guides_per_gene: int, n_controls: int, columns: dict[str, np.ndarray]
) -> pd.DataFrame:
    """MAGeCK-style counts: ``sgRNA`` (``sg_<gene>_<k>``, then ``sg_NT_<k>``), ``gene`` and one
    integer column per sample; ``guide_gene`` is each targeting guide's position in ``names``."""
    sgrna = [f"sg_{names[g]}_{i % guides_per_gene + 1}" for i, g in enumerate(guide_gene)]
    sgrna += [f"sg_NT_{i + 1:04d}" for i in range(n_controls)]
    genes = list(np.asarray(names)[guide_gene]) + [CONTROL_GENE] * n_controls
    return pd.DataFrame({"sgRNA": sgrna, "gene": genes, **{k: v.astype(np.int64) for k, v in columns.items()}})


def _rates(fitness: np.ndarray, interaction: np.ndarray, cfg: DrugScreenConfig, drug: bool) -> tuple[float, np.ndarray]:
    """Doublings a day of uncut cells and of knocked-out cells, per guide."""
    line = cfg.growth_rate * (cfg.drug_growth if drug else 1.0)
    knocked = line * (1.0 + fitness + (interaction if drug else 0.0))
    return line, np.maximum(knocked, DEATH_RATE)


def _grow(cells: np.ndarray, rates: tuple[float, np.ndarray], days: float) -> np.ndarray:
    """Expected cells after ``days``: column 0 uncut, column 1 knocked out."""
    line, knocked = rates
    return np.column_stack([cells[:, 0] * np.exp2(line * days), cells[:, 1] * np.exp2(knocked * days)])


def _bottleneck(cells: np.ndarray, per_guide: float, rng: np.random.Generator) -> np.ndarray:
    """A passage: ``per_guide`` cells a guide kept on average, each cell kept independently."""
    keep = per_guide * cells.shape[0] / max(cells.sum(), 1e-12)
    return rng.poisson(cells * min(keep, 1.0)).astype(np.float64)


def _timeline(cells: np.ndarray, rates: tuple[float, np.ndarray], start: float, end: float,
              cfg: DrugScreenConfig, rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Grow from day ``start`` to ``end``, passaging every ``passage_days``; knockouts act after the delay."""
    day = start
    while day < end - 1e-9:
        step = min(cfg.passage_days, end - day)
        acting = max(0.0, day + step - max(day, cfg.delay_days))
        still = step - acting  # days before the knockout acts: every cell grows as the line does
        cells = _grow(cells * np.exp2(rates[0] * still), rates, acting)
        day += step
        if day < end - 1e-9:
            cells = _bottleneck(cells, cfg.bottleneck_cells, rng)
    return cells


def simulate_drug_counts(config: DrugScreenConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(counts, samples, truth)``: the count table (guides × samples, with ``sgRNA`` and ``gene``),
    the sample sheet and the per-gene truth (module docstring)."""
    config.validate()
    cfg = config
    rng = np.random.default_rng([cfg.seed, LIBRARY_STREAM])
    library = draw_library(cfg, rng)
    genes, guide_gene, efficacy = library.genes, library.guide_gene, library.efficacy
    fitness, interaction = library.fitness, library.interaction
    n_guides = len(efficacy)
    abundance = np.exp(rng.normal(0.0, 0.5, n_guides))
    abundance /= abundance.mean()
    infected = rng.poisson(cfg.infection_cells * abundance).astype(np.float64)
    knocked = rng.binomial(infected.astype(np.int64), efficacy).astype(np.float64)
    cells = np.column_stack([infected - knocked, knocked])
    vehicle_rates = _rates(fitness, interaction, cfg, drug=False)
    split = _timeline(cells, vehicle_rates, 0.0, cfg.days_before_split, cfg, rng)
    end = cfg.days_before_split + cfg.days_after_split
    columns = {"pDNA": negative_binomial(rng, cfg.reads_per_guide * abundance, cfg.dispersion)}
    for arm in ARMS:
        rates = _rates(fitness, interaction, cfg, drug=arm == "drug")
        for r in range(cfg.replicates):
            flask = _timeline(
                _bottleneck(split, cfg.bottleneck_cells, rng), rates, cfg.days_before_split, end, cfg, rng
            )
            share = flask.sum(axis=1) / max(flask.sum(), 1e-12)
            columns[f"{arm}_{r + 1}"] = negative_binomial(rng, cfg.reads_per_guide * n_guides * share, cfg.dispersion)
    names = genes["hugo_symbol"].to_numpy()
    counts = count_table(names, guide_gene, cfg.guides_per_gene, cfg.n_control_guides, columns)
    truth = genes.assign(expected_difference=_expected_difference(genes, cfg))
    return counts, sample_sheet(cfg.replicates), truth


@dataclass(frozen=True)
class Library:
    """A simulated library's truth: the genes' (:func:`drug_genes`), each targeting guide's gene, and
    per guide (targeting guides first, then the controls' zeros) its efficacy, fitness and interaction."""

    genes: pd.DataFrame
    guide_gene: np.ndarray
    efficacy: np.ndarray
    fitness: np.ndarray
    interaction: np.ndarray


def draw_library(cfg: DrugScreenConfig, rng: np.random.Generator) -> Library:
    """The genes' truth and the guides' efficacies drawn from ``rng``, whatever then grows the cells."""
    genes = drug_genes(cfg, rng)
    guide_gene = np.repeat(np.arange(cfg.n_genes), cfg.guides_per_gene)
    pad = np.zeros(cfg.n_control_guides)

    def per_guide(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values[guide_gene], pad])

    efficacy = np.concatenate([rng.beta(*cfg.efficacy_beta, len(guide_gene)), pad])
    return Library(genes, guide_gene, efficacy, per_guide(genes["fitness"].to_numpy()),
                   per_guide(genes["interaction"].to_numpy()))  # fmt: skip


def guide_efficacies(config: DrugScreenConfig) -> pd.DataFrame:
    """The targeting guides' simulated efficacies (``sgRNA``, ``efficacy``): what a fit of many lines
    with the library (Chronos' ``guide_efficacy.csv``) would estimate, here exact."""
    library = draw_library(config, np.random.default_rng([config.seed, LIBRARY_STREAM]))
    genes, guide_gene, efficacy = library.genes, library.guide_gene, library.efficacy
    names = genes["hugo_symbol"].to_numpy()
    guides = count_table(names, guide_gene, config.guides_per_gene, config.n_control_guides, {})["sgRNA"]
    return pd.DataFrame({"sgRNA": guides[: len(guide_gene)], "efficacy": efficacy[: len(guide_gene)]})


def _expected_difference(genes: pd.DataFrame, cfg: DrugScreenConfig) -> np.ndarray:
    """Drug-arm LFC minus vehicle-arm LFC of a full knockout, each against non-targeting guides, no noise."""
    f, d = genes["fitness"].to_numpy(), genes["interaction"].to_numpy()
    acting = cfg.days_after_split - max(0.0, cfg.delay_days - cfg.days_before_split)
    out = []
    for drug in (False, True):
        line, knocked = _rates(f, d, cfg, drug)
        out.append((knocked - line) * acting)
    return out[1] - out[0]


def write_drug_screen(config: DrugScreenConfig, out: str | Path, force: bool = False) -> Path:
    """Simulate a drug screen (module docstring) and write its folder atomically."""
    counts, samples, truth = simulate_drug_counts(config)
    record = {"generator": "drug-growth", **asdict(config)}
    return write_screen_folder(counts, samples, truth, record, out, force, guide_efficacies(config))


def write_screen_folder(
    counts: pd.DataFrame, samples: pd.DataFrame, truth: pd.DataFrame, record: dict[str, object],
    out: str | Path, force: bool = False, efficacy: pd.DataFrame | None = None,
) -> Path:  # fmt: skip
    """A simulated drug screen's folder, written atomically: ``counts.tsv``, ``samples.csv``,
    ``controls.txt`` (the non-targeting guides), ``truth.csv``, ``config.json`` (``record``) and,
    given ``efficacy``, ``guide_efficacy.csv``."""
    with atomic_path(Path(out), force=force) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        counts.to_csv(tmp / "counts.tsv", sep="\t", index=False)
        samples.to_csv(tmp / "samples.csv", index=False)
        controls = counts.loc[counts["gene"] == CONTROL_GENE, "sgRNA"]
        controls.to_csv(tmp / "controls.txt", index=False, header=True)
        truth.to_csv(tmp / "truth.csv", index=False)
        if efficacy is not None:
            efficacy.to_csv(tmp / "guide_efficacy.csv", index=False)
        (tmp / "config.json").write_text(json.dumps(record, indent=1) + "\n")
    return Path(out)
