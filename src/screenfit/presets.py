"""Presets: named, documented model configurations, the rule that picks one for a screen, and
configuration files (TOML in, ``config.json`` back in).

``screenfit fit SCREEN --out DIR`` with no model option runs the preset :func:`choose_preset`
picks and says which and why; ``--preset``, ``--config FILE.toml`` (a preset plus overrides)
and single options override it, in that order (CONVENTIONS.md). A preset's term whose data the
screen lacks (no lineage, no mutation calls, no copy number) is left out with a note.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from screenfit.data.facts import ScreenFacts, screen_facts
from screenfit.data.screen import Screen
from screenfit.data.stream import StreamedScreen
from screenfit.errors import ScreenfitInputError
from screenfit.models.spec import ModelSpec
from screenfit.models.terms import CopyNumber, Covariate, GuideEfficacy, GuideNoise, GuideOffsets, TimeCourse

#: Cell lines from which a screen is fitted as DepMap-like (gene × line effects pooled across lines);
#: below it, as one or a few lines.
DEPMAP_LINES = 10


@dataclass(frozen=True)
class Preset:
    """A named configuration: the model as a spec, the sampler, and what data it is for."""

    name: str
    summary: str
    use_for: str
    spec: ModelSpec
    sampler: str = "nutpie"

    def to_dict(self) -> dict[str, object]:
        """Plain data: name, sampler and the spec."""
        return {"preset": self.name, "sampler": self.sampler, "model": self.spec.to_dict()}


DEPMAP_SPEC = ModelSpec(
    "gene-by-line-lineage",
    (GuideOffsets("learn"), GuideEfficacy(copy_number=True), GuideNoise(), CopyNumber("cn_excess"),
     Covariate("is_mutated")),
)  # fmt: skip

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "depmap",
            "gene × line effects pooled within lineage; guide offsets (learnt tails), efficacy and noise; "
            "copy number through each guide's cut; mutation slopes; SVI",
            "many cell lines (DepMap releases, ≥ 10 lines)",
            DEPMAP_SPEC,
            "svi",
        ),
        Preset(
            "time-course",
            "the depmap preset with effects that grow after a learnt screen delay; each time point fitted as such",
            "many lines read at several time points (days)",
            DEPMAP_SPEC.with_term(TimeCourse("learn")),
            "svi",
        ),
        Preset(
            "single-screen",
            "gene effects with a cell-line offset per line (gene-cellline), NUTS",
            "one or a few cell lines (a lab's screen)",
            ModelSpec("gene-cellline"),
        ),
        Preset(
            "drug",
            "per-gene differences between conditions (drug vs vehicle) with lfdr and q-values, NUTS",
            "screens with a condition column (treatment arms)",
            ModelSpec("condition"),
        ),
        Preset(
            "multi-library",
            "one gene effect across guide libraries, library offsets per gene, NUTS",
            "a screen joining several libraries (Avana + KY)",
            ModelSpec("multi-library"),
        ),
        Preset("seed-m1", "the seed notebook's m1: gene intercepts", "reproducing the notebook", ModelSpec("seed-m1")),
        Preset(
            "seed-m2",
            "the seed notebook's m2: gene + cell-line intercepts (not identified: fails the gate by design)",
            "reproducing the notebook",
            ModelSpec("seed-m2"),
        ),
    )
}


def preset_toml(preset: Preset) -> str:
    """``preset`` written out as a ``--config`` file: edit it to override any setting."""
    spec = preset.spec.to_dict()
    lines = [f"# {preset.name}: {preset.summary}", f"# for: {preset.use_for}", f'preset = "{preset.name}"',
             f'sampler = "{preset.sampler}"', "", "[model]", f'structure = "{spec["structure"]}"']  # fmt: skip
    for key in ("dependency_threshold", "min_difference"):
        lines.append(f"{key} = {spec[key]}")
    lines += ["", "[model.terms]"]
    for key, settings in spec["terms"].items():  # type: ignore[attr-defined]
        shown = ", ".join(f"{k} = {_toml_value(v)}" for k, v in settings.items() if v is not None)
        lines.append(f"{key} = {{ {shown} }}" if shown else f"{key} = true")
    return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; unknown names get the list of known ones."""
    if name not in PRESETS:
        raise ScreenfitInputError(
            f"unknown preset '{name}'. Known presets: {', '.join(PRESETS)}.",
            fix="pick one of those (`screenfit presets` describes them).",
        )
    return PRESETS[name]


def choose_preset(screen: Screen | ScreenFacts) -> tuple[Preset, str]:
    """The preset for ``screen`` (or a streamed screen's :class:`~screenfit.data.facts.ScreenFacts`)
    and why, in words: conditions → drug; several libraries → multi-library; fewer than
    :data:`DEPMAP_LINES` lines → single-screen; lines read at several time points → time-course;
    otherwise depmap."""
    facts = screen_facts(screen) if isinstance(screen, Screen) else screen
    n_lines = facts.n_lines
    if facts.n_conditions >= 2:
        return PRESETS["drug"], f"the screen has {facts.n_conditions} conditions"
    if facts.n_libraries >= 2:
        return PRESETS["multi-library"], f"the screen joins {facts.n_libraries} guide libraries"
    if n_lines < DEPMAP_LINES:
        return PRESETS["single-screen"], f"{n_lines} cell line(s), fewer than {DEPMAP_LINES}"
    if facts.timed_lines:
        return PRESETS["time-course"], f"{n_lines} cell lines, some read at several time points"
    return PRESETS["depmap"], f"{n_lines} cell lines"


@dataclass(frozen=True)
class Configuration:
    """What a fit runs: the spec, the sampler method, the screen, and where they came from.

    ``preset`` is the preset the configuration started from, ``reason`` why it was chosen,
    ``notes`` what was left out or changed for this screen.
    """

    spec: ModelSpec
    sampler: str
    screen: Screen | StreamedScreen | None
    """The screen fitted; ``None`` while a streamed screen, chosen for by its facts, is not yet read."""
    preset: str | None = None
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """For ``config.json``: preset, why, what was left out, and the resolved spec."""
        return {"preset": self.preset, "preset_reason": self.reason, "preset_notes": list(self.notes),
                "model_spec": self.spec.to_dict()}  # fmt: skip


def read_config_file(path: str | Path) -> dict[str, object]:
    """A configuration file: TOML (``preset``, ``sampler``, ``[model]`` with ``structure`` and
    ``[model.terms]``), or a fit's ``config.json`` (its resolved spec and sampler, so the fit reruns)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ScreenfitInputError(f"cannot read the configuration ({err.strerror}).", file=path,
                                  fix="pass an existing TOML file or a fit's config.json.") from None  # fmt: skip
    try:
        if path.suffix == ".json":
            data = json.loads(text)
            return {"preset": data.get("preset"), "sampler": (data.get("sampler") or {}).get("method"),
                    "model": data.get("model_spec") or {}}  # fmt: skip
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ScreenfitInputError(f"the configuration is not valid TOML/JSON: {err}.", file=path,
                                  fix="correct the file (docs/cli.md shows an example).") from None  # fmt: skip
    unknown = sorted(set(data) - {"preset", "sampler", "model"})
    if unknown:
        raise ScreenfitInputError(f"unknown configuration key(s) {', '.join(unknown)}.", file=path,
                                  fix="use preset, sampler and a [model] table.")  # fmt: skip
    return data


def configure(
    screen: Screen | ScreenFacts,
    preset: str | None = None,
    config: Mapping[str, object] | None = None,
    overrides: Mapping[str, object] | None = None,
    sampler: str | None = None,
) -> Configuration:
    """Resolve what to fit on ``screen``: the chosen (or named) preset, then the configuration's
    preset and ``[model]`` overrides, then the single-option ``overrides`` (in the same form as
    ``[model]``: terms set there replace the preset's), then ``sampler``.

    The preset's own terms whose data the screen lacks are left out with a note; terms the user
    asked for (in ``config`` or ``overrides``) are kept, and a missing column is then an error
    when the model is checked against the screen.
    """
    config = dict(config or {})
    name = preset or config.get("preset")
    if name:
        chosen, reason = get_preset(str(name)), "named" if preset else "named in the configuration"
    else:
        chosen, reason = choose_preset(screen)
    facts = screen_facts(screen) if isinstance(screen, Screen) else screen
    spec, notes = chosen.spec.adapted_to(set(facts.columns), facts.has_lineage)
    model = config.get("model") or {}
    if not isinstance(model, Mapping):
        raise ScreenfitInputError("'model' in the configuration must be a table.", fix="see docs/cli.md.")
    spec = ModelSpec.from_dict(overrides or {}, ModelSpec.from_dict(model, spec))
    method = sampler or str(config.get("sampler") or chosen.sampler)
    return Configuration(spec, method, screen if isinstance(screen, Screen) else None, chosen.name, reason,
                         tuple(notes))  # fmt: skip
