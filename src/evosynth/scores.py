"""Which accuracy a decision reads and which one a report quotes (both are keys of a generation's metrics.json).

``accuracy`` is measured on the dataset's test part and is only reported;
``val_accuracy`` on the validation part, a fixed, stratified, seeded share of
the *training* images that training never sees (:func:`evosynth.data.sources.validation_split`,
docs/method.md §9). Every decision inside a run (the adaptive environment, a
sexual population's choice of parents by fitness, the synthesized network of a
chain, a report's selection of a run's network) reads :data:`DECISION`; the
functions that decide take the key as an argument, so the test set never decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evosynth.errors import ArtifactError

#: Accuracy on the test part: reported, never read by a decision.
TEST = "accuracy"
#: Accuracy on the validation part carved from the training images.
VALIDATION = "val_accuracy"
#: The key every decision inside a run reads.
DECISION = VALIDATION


def decision_value(metrics: Mapping[str, Any], where: object, key: str = DECISION) -> float:
    """``metrics[key]`` as a float, or one line saying why the decision cannot be taken (no validation part)."""
    value = metrics.get(key)
    if value is None:
        raise ArtifactError(f"{where}: no {key!r} to decide on (the dataset has no validation part: its"
                            " datasets.<name>.validation.fraction is 0 or holds out no image, or it is not a"
                            " classification set); raise the fraction and prepare it again")
    return float(value)
