"""The ``swiftcls`` command: one table of subcommands, flags built from the argument dataclasses."""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import yaml

from ..commands.deploy import run_deploy
from ..commands.export import run_export
from ..commands.infer import run_infer
from ..commands.sft import run_sft
from ..config.arguments import (
    DataArguments,
    DeployArguments,
    ExportArguments,
    InferArguments,
    LossArguments,
    ModelArguments,
    TrainArguments,
    TunerArguments,
)
from ..core.errors import ConfigError, SwiftClsError
from .launch import maybe_relaunch


def _run_sft(model, data, tuner, loss, train, extra):
    return run_sft(model, data, tuner, loss, train, extra)


def _run_infer(model, data, infer, extra, metrics_only=False):
    return run_infer(model, data, infer, metrics_only=metrics_only)


def _run_export(model, export, extra):
    return run_export(model, export, extra)


def _run_deploy(model, deploy, extra):
    return run_deploy(model, deploy)


# name -> (help, argument classes, runner, accepts extra transformers.TrainingArguments flags)
SUBCOMMANDS: dict[str, tuple[str, tuple, Callable, bool]] = {
    "sft": ("Fine-tune a sequence classifier (--task seq_cls).",
            (ModelArguments, DataArguments, TunerArguments, LossArguments, TrainArguments), _run_sft, True),
    "infer": ("Predict with a trained classifier; scores rows that carry labels.",
              (ModelArguments, DataArguments, InferArguments), _run_infer, False),
    "eval": ("Score a trained classifier on labelled data (metrics only).",
             (ModelArguments, DataArguments, InferArguments),
             lambda *a: _run_infer(*a, metrics_only=True), False),
    "export": ("Merge LoRA and write a plain Hugging Face checkpoint (or the LMDeploy reward layout).",
               (ModelArguments, ExportArguments), _run_export, False),
    "deploy": ("Serve a classifier over HTTP (vLLM-compatible /classify, batching, limits, optional API key).",
               (ModelArguments, DeployArguments), _run_deploy, False),
}


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes", "y"):
        return True
    if value.lower() in ("false", "0", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")


def _base_type(tp):
    """(scalar type, is_list) for a field annotation such as ``list[str]`` or ``int | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is list:
        return typing.get_args(tp)[0], True
    return tp, False


def _fields(cls, command: str) -> list:
    """The fields of ``cls`` that ``swiftcls command`` offers (``arg(only=...)`` limits a field to some commands)."""
    return [f for f in fields(cls) if command in (f.metadata.get("only") or (command,))]


def _add_dataclass(parser: argparse.ArgumentParser, cls, command: str) -> None:
    group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").strip().splitlines()[0])
    hints = typing.get_type_hints(cls)
    for f in _fields(cls, command):
        tp, is_list = _base_type(hints[f.name])
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": f.metadata.get("help")}
        kwargs["type"] = _bool if tp is bool else tp
        if is_list:
            kwargs["nargs"] = "*"
        choices = f.metadata.get("choices")
        if choices:
            kwargs["choices"] = [c for c in choices if c is not None]
        group.add_argument(f"--{f.name}", *f.metadata.get("aliases", ()), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swiftcls", description="Fine-tune LLMs and encoders as sequence "
                                     "classifiers. Flags follow SWIFT; values can also come from --config x.yaml.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, classes, _, _) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", help="YAML file of flag values; command-line flags override it.")
        for cls in classes:
            _add_dataclass(p, cls, name)
    return parser


def _extra_training_args(unknown: list[str]) -> dict:
    """Turn leftover ``--flag value`` pairs into transformers.TrainingArguments fields, or fail with a hint."""
    from transformers import TrainingArguments

    valid = {f.name: f for f in fields(TrainingArguments) if f.init}
    extra, i = {}, 0
    while i < len(unknown):
        flag = unknown[i]
        name = flag.lstrip("-").split("=", 1)[0]
        if not flag.startswith("--") or name not in valid:
            close = difflib.get_close_matches(name, list(valid), n=3)
            raise ConfigError(f"unknown flag {flag}." + (f" Did you mean {', '.join('--' + c for c in close)}?"
                                                         if close else " See swiftcls sft --help."))
        if "=" in flag:
            value, i = flag.split("=", 1)[1], i + 1
        elif i + 1 < len(unknown) and not unknown[i + 1].startswith("--"):
            value, i = unknown[i + 1], i + 2
        else:
            value, i = "true", i + 1
        extra[name] = yaml.safe_load(value)
    return extra


def parse(argv: list[str]) -> tuple[str, list, dict]:
    """Parse a command line into (subcommand, dataclass instances, extra TrainingArguments)."""
    parser = build_parser()
    ns, unknown = parser.parse_known_args(argv)
    command = ns.command
    _, classes, _, passthrough = SUBCOMMANDS[command]
    values: dict[str, Any] = {}
    if getattr(ns, "config", None):
        try:
            with open(ns.config, encoding="utf-8") as f:
                loaded = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"--config {ns.config}: cannot read it ({err}). "
                              "Fix: pass an existing YAML file.") from err
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {ns.config}: expected a mapping of flag: value, got "
                              f"{type(loaded).__name__}. Fix: write one 'flag: value' per line.")
        values.update(loaded)
    values.update({k: v for k, v in vars(ns).items() if k not in ("command", "config")})
    names = {f.name for cls in classes for f in _fields(cls, command)}
    leftovers = {k: v for k, v in values.items() if k not in names}
    if unknown or leftovers:
        if not passthrough:
            raise ConfigError(f"unknown flags for 'swiftcls {command}': {unknown or sorted(leftovers)}.")
    extra = _extra_training_args(unknown) if unknown else {}
    extra.update(leftovers)
    instances = []
    for cls in classes:
        kwargs = {}
        for f in _fields(cls, command):
            if f.name in values:
                value = values[f.name]
                tp, is_list = _base_type(typing.get_type_hints(cls)[f.name])
                kwargs[f.name] = [value] if is_list and isinstance(value, str) else value
        instances.append(cls(**kwargs))
    return command, instances, extra


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``swiftcls`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s:swiftcls] %(message)s")
    try:
        if argv[:1] == ["sft"]:
            code = maybe_relaunch(argv)
            if code is not None:
                return code
        command, instances, extra = parse(argv)
        runner = SUBCOMMANDS[command][2]
        runner(*instances, extra)
    except SwiftClsError as err:
        print(f"swiftcls: error: {err}", file=sys.stderr)
        return 2
    return 0
