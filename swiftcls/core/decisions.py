"""Decisions learnt on validation rows after training: per-label thresholds and the calibration temperature.

They travel with the model as two JSON fields, in the checkpoint's ``config.json`` (full fine-tuning and exports)
or, for LoRA checkpoints (which have no ``config.json``), in the checkpoint's ``args.json``:

- ``swiftcls_thresholds``: ``{label name: probability threshold}`` (multi-label).
- ``swiftcls_calibration``: ``{"method": "temperature", "temperature": T, "folded_into_head": bool}``; ``T`` is one
  number (single-label) or ``{label name: T}`` (multi-label). ``folded_into_head`` is true in exports, whose head
  weights and bias are already divided by ``T``; swiftcls divides them when it loads a checkpoint where it is false.

See docs/metrics.md ("Thresholds and calibration").
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

THRESHOLDS_KEY = "swiftcls_thresholds"
CALIBRATION_KEY = "swiftcls_calibration"


@dataclass
class Decisions:
    """What a checkpoint says about its own decision rule.

    Attributes:
        thresholds: Label name -> threshold (None: the checkpoint has no tuned thresholds).
        temperature: One temperature per label, in label-id order (None: uncalibrated).
        folded: Whether ``temperature`` is already folded into the head weights.
    """

    thresholds: dict[str, float] | None = None
    temperature: list[float] | None = None
    folded: bool = False


def _number(value, where: str, low: float, high: float, strict_low: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if strict_low else value >= low) and value <= high
    if not ok:
        bound = f"{'>' if strict_low else '>='} {low:g} and <= {high:g}"
        raise ConfigError(f"{where}: {value!r} is not a number {bound}. Fix the value, or remove the field to go "
                          "back to the training --threshold (thresholds) or to raw probabilities (calibration).")
    return float(value)


def read_decisions(fields: dict, names: list[str], source: str) -> Decisions:
    """Validated decisions from a ``config.json`` (or ``args.json``) dict.

    Args:
        fields: The JSON object holding the ``swiftcls_*`` fields (other keys are ignored).
        names: The model's label names, in id order.
        source: The file the fields come from, for error messages.

    Raises:
        ConfigError: A field that is not what swiftcls writes (unknown label, threshold outside [0, 1],
            temperature not > 0), naming the file and the field.
    """
    out = Decisions()
    raw = fields.get(THRESHOLDS_KEY)
    if raw is not None:
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: field '{THRESHOLDS_KEY}' must map label names to thresholds, got "
                              f"{type(raw).__name__}.")
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise ConfigError(f"{source}: field '{THRESHOLDS_KEY}' names labels the model does not have: {unknown} "
                              f"(labels: {names}). Fix or remove those keys.")
        out.thresholds = {k: _number(v, f"{source}: field '{THRESHOLDS_KEY}.{k}'", 0.0, 1.0, False)
                          for k, v in raw.items()}
    cal = fields.get(CALIBRATION_KEY)
    if cal is not None:
        where = f"{source}: field '{CALIBRATION_KEY}"
        if not isinstance(cal, dict) or cal.get("method") != "temperature" or "temperature" not in cal:
            raise ConfigError(f"{where}' must be {{\"method\": \"temperature\", \"temperature\": ...}}, got {cal!r}.")
        temp = cal["temperature"]
        if isinstance(temp, dict):
            missing = [n for n in names if n not in temp]
            if missing or set(temp) - set(names):
                raise ConfigError(f"{where}.temperature': per-label temperatures must name exactly the labels {names}; "
                                  f"got {sorted(temp)}.")
            out.temperature = [_number(temp[n], f"{where}.temperature.{n}'", 0.0, 1e6, True) for n in names]
        else:
            out.temperature = [_number(temp, f"{where}.temperature'", 0.0, 1e6, True)] * len(names)
        out.folded = bool(cal.get("folded_into_head", False))
    return out


def threshold_vector(decisions: Decisions, names: list[str], default: float) -> list[float]:
    """One threshold per label in id order: the tuned one where there is one, else ``default``."""
    tuned = decisions.thresholds or {}
    return [float(tuned.get(n, default)) for n in names]


def thresholds_for(train: dict, names: list[str], override: float | None = None) -> list[float]:
    """The thresholds a loaded model predicts with, in label-id order.

    Args:
        train: The dict :func:`swiftcls.models.trained.load_trained` returns (``args.json`` plus the checkpoint's
            ``swiftcls_thresholds``).
        names: Label names in id order.
        override: ``--threshold``: one threshold for every label, replacing the tuned ones.
    """
    if override is not None:
        return [float(override)] * len(names)
    return threshold_vector(Decisions(thresholds=train.get(THRESHOLDS_KEY)), names, float(train.get("threshold", 0.5)))


def calibration_field(temperature: list[float], names: list[str], per_label: bool, folded: bool) -> dict:
    """The ``swiftcls_calibration`` value for temperatures in label-id order."""
    value = ({n: round(float(t), 6) for n, t in zip(names, temperature)} if per_label
             else round(float(temperature[0]), 6))
    return {"method": "temperature", "temperature": value, "folded_into_head": folded}


def decisions_file(folder: str | os.PathLike) -> Path:
    """The file of a checkpoint that carries its decisions: ``config.json``, else (LoRA) ``args.json``."""
    folder = Path(folder)
    config = folder / "config.json"
    if config.is_file():
        return config
    if (folder / "args.json").is_file():
        return folder / "args.json"
    raise ConfigError(f"{folder}: neither config.json nor args.json found; pass a checkpoint written by swiftcls "
                      "sft or export.")


def write_decisions(folder: str | os.PathLike, fields: dict) -> Path:
    """Set the ``swiftcls_*`` fields in the checkpoint's decisions file; every other key stays as it was.

    The file is rewritten atomically (temporary file + rename). A field whose value is None is removed.

    Returns:
        The file written.
    """
    path = decisions_file(folder)
    data = json.loads(path.read_text(encoding="utf-8"))
    for key, value in fields.items():
        if key not in (THRESHOLDS_KEY, CALIBRATION_KEY):
            raise ValueError(f"not a decisions field: {key}")
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
