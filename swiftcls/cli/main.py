"""The ``swiftcls`` command: ``swiftcls <command> [flags]``; each command's flags come from its arguments class."""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Callable

from ..commands.deploy import deploy_main
from ..commands.export import export_main
from ..commands.infer import eval_main, infer_main
from ..commands.sft import sft_main
from ..config import DeployArguments, EvalArguments, ExportArguments, InferArguments, SftArguments
from ..config.parser import parse_args
from ..core.errors import SwiftClsError
from ..core.version import __version__
from .launch import maybe_relaunch

# name -> (one-line help, arguments class, entry point)
COMMANDS: dict[str, tuple[str, type, Callable]] = {
    "sft": ("Fine-tune a sequence classifier (--task seq_cls).", SftArguments, sft_main),
    "infer": ("Predict with a trained classifier; scores rows that carry labels.", InferArguments, infer_main),
    "eval": ("Score a trained classifier on labelled data (metrics only).", EvalArguments, eval_main),
    "export": ("Merge LoRA and write a plain Hugging Face checkpoint (or the LMDeploy reward layout).",
               ExportArguments, export_main),
    "deploy": ("Serve a classifier over HTTP (vLLM-compatible /classify).", DeployArguments, deploy_main),
}


def usage() -> str:
    """The overview ``swiftcls --help`` prints."""
    lines = ["usage: swiftcls <command> [flags]   (swiftcls <command> --help lists every flag with its default)", "",
             "Fine-tune LLMs, encoders and VLMs as sequence classifiers. Flags follow SWIFT; values can also come "
             "from --config x.yaml.", "", "commands:"]
    lines += [f"  {name:<8} {help_text}" for name, (help_text, _, _) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``swiftcls`` console script; returns the exit code (2 for errors the user can fix)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s:swiftcls] %(message)s")
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"swiftcls {__version__}")
        return 0
    command = argv[0]
    if command not in COMMANDS:
        close = difflib.get_close_matches(command, list(COMMANDS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"swiftcls: error: unknown command '{command}'.{hint} Commands: {', '.join(COMMANDS)}.", file=sys.stderr)
        return 2
    _, cls, entry = COMMANDS[command]
    try:
        if command == "sft":
            code = maybe_relaunch(argv)
            if code is not None:
                return code
        entry(parse_args(cls, argv[1:], prog=f"swiftcls {command}"))
    except SwiftClsError as err:
        print(f"swiftcls: error: {err}", file=sys.stderr)
        return 2
    return 0
