"""Signature compatibility: does the challenger accept every input the champion accepts, and
answer with the same kind of output? Read from the registry's model signatures, compared here
as plain values (no MLflow import)."""

from __future__ import annotations

from dataclasses import dataclass

NUMBER_WIDENING = {"integer": {"integer", "long", "float", "double"}, "long": {"long", "double"},
                   "float": {"float", "double"}, "double": {"double"}}


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: str
    required: bool = True


@dataclass(frozen=True)
class SignaturePair:
    champion_inputs: tuple[InputSpec, ...]
    challenger_inputs: tuple[InputSpec, ...]
    champion_outputs: tuple[str, ...]  # output types, in order ("double", "long", "tensor:float64", ...)
    challenger_outputs: tuple[str, ...]


def accepts(challenger_kind: str, champion_kind: str) -> bool:
    """Whether a column the champion takes as `champion_kind` is accepted as `challenger_kind`
    (the same type, or a wider number)."""
    return challenger_kind == champion_kind or challenger_kind in NUMBER_WIDENING.get(champion_kind, set())


def compare_signatures(pair: SignaturePair) -> list[str]:
    """The ways the challenger's signature breaks the champion's callers; [] when none."""
    problems = []
    theirs = {spec.name: spec for spec in pair.challenger_inputs}
    ours = {spec.name for spec in pair.champion_inputs}
    for spec in pair.champion_inputs:
        other = theirs.get(spec.name)
        if other is None:
            problems.append(f"input '{spec.name}' ({spec.kind}) is not an input of the challenger")
        elif not accepts(other.kind, spec.kind):
            problems.append(f"input '{spec.name}' is {spec.kind} for the champion and {other.kind} for the challenger")
        elif other.required and not spec.required:
            problems.append(f"input '{spec.name}' is optional for the champion and required by the challenger")
    for name, spec in theirs.items():
        if name not in ours and spec.required:
            problems.append(f"the challenger requires an input the champion does not take: '{name}' ({spec.kind})")
    if pair.champion_outputs != pair.challenger_outputs:
        problems.append(f"the outputs differ: {list(pair.champion_outputs) or 'none declared'} for the champion, "
                        f"{list(pair.challenger_outputs) or 'none declared'} for the challenger")
    return problems
