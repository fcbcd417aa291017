"""The evidence set's params check: claims compare experiments with seeds, each claim in a form it can take.

Light on purpose (params.py validates with it, and every step runs params.py); the claims are judged in
:mod:`evosynth.reporting.claims` (docs/method.md §11.6).
"""

from __future__ import annotations

from typing import Any

from evosynth.errors import ParamsError
from evosynth.pipeline.seeds import FAMILIES


def check_evidence(params: dict[str, Any], source: str) -> None:
    """The evidence set compares experiments with seeds, paired seed by seed."""
    evidence = params.get("evidence")
    if not evidence:
        return
    families = params[FAMILIES]
    for name, claim in evidence["claims"].items():
        for role in ("treatment", "control"):
            if claim[role] not in families:
                raise ParamsError(f"{source}: evidence.claims.{name}.{role}: {claim[role]!r} is not an experiment with"
                                  f" seeds; allowed: {', '.join(families) or '(none: give an experiment seeds)'}")
        treated, control = families[claim["treatment"]]["seeds"], families[claim["control"]]["seeds"]
        if sorted(treated) != sorted(control):
            raise ParamsError(f"{source}: evidence.claims.{name}: treatment seeds {treated} differ from control seeds"
                              f" {control}; allowed: the same seeds (the effect is paired by seed)")
        if claim["form"] == "equivalence" and "margin" not in claim:
            raise ParamsError(f"{source}: evidence.claims.{name}: form equivalence needs a margin; allowed: a positive"
                              f" number in the claim's unit (pp for accuracy, log10 ratio for efficiencies)")
        if claim["form"] == "matched_accuracy" and claim["metric"] == "accuracy":
            raise ParamsError(f"{source}: evidence.claims.{name}: form matched_accuracy compares a reduction at"
                              f" matched accuracy; allowed metrics: synaptic_efficiency, cluster_efficiency,"
                              f" mac_reduction")
    for index, name in enumerate(evidence["sweep"]):
        if name not in families:
            raise ParamsError(f"{source}: evidence.sweep.{index}: {name!r} is not an experiment with seeds;"
                              f" allowed: {', '.join(families) or '(none: give an experiment seeds)'}")
