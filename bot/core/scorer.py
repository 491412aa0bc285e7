"""The trained weighing of a candidate fact's features into the chance that it answers the
question (a logistic model). The weights are data (`data/scorer.json`), fitted by
`scripts/train_scorer.py` on question sets of several disputes, none of them named here."""

from __future__ import annotations

import importlib.resources
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT = "scorer.json"


@dataclass(frozen=True, slots=True)
class Scorer:
    """P(correct) = sigmoid(bias + sum of weight * feature), features standardised."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    bias: float

    def __call__(self, features: dict[str, float]) -> float:
        z = self.bias
        for name, w, mean, scale in zip(
            self.names, self.weights, self.means, self.scales, strict=True
        ):
            z += w * (features.get(name, 0.0) - mean) / scale
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "weights": list(self.weights),
            "means": list(self.means),
            "scales": list(self.scales),
            "bias": self.bias,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scorer:
        names = tuple(str(n) for n in data["names"])
        values = [tuple(float(v) for v in data[k]) for k in ("weights", "means", "scales")]
        if any(len(v) != len(names) for v in values) or any(s <= 0 for s in values[2]):
            raise ValueError("scorer weights, means and scales must match its feature names")
        return cls(names, values[0], values[1], values[2], float(data["bias"]))


def load_scorer(path: Path | None = None) -> Scorer | None:
    """The scorer at `path`, else the one shipped with the package (None if there is none)."""
    if path is not None:
        return Scorer.from_json(json.loads(path.read_text(encoding="utf-8")))
    resource = importlib.resources.files("bot.core").joinpath("data", DEFAULT)
    if not resource.is_file():
        return None
    return Scorer.from_json(json.loads(resource.read_text(encoding="utf-8")))
