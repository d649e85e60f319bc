"""The ``swiftcls`` command: ``swiftcls <command> [flags]``; each command's flags come from its arguments class.

The command line is checked (:mod:`.precheck`) before the commands, and with them torch and transformers, are
imported, so that a typo or a missing file answers at once instead of after 30-60 s of imports.
"""

from __future__ import annotations

import difflib
import logging
import sys

from ..core.errors import SwiftClsError
from ..core.quiet import quiet_deepspeed_cpu_fallback
from ..core.version import __version__
from .launch import maybe_relaunch
from .precheck import precheck
from .table import COMMANDS, command_entry


def usage() -> str:
    """The overview ``swiftcls --help`` prints."""
    lines = ["usage: swiftcls <command> [flags]   (swiftcls <command> --help lists every flag with its default)", "",
             "Fine-tune LLMs, encoders and VLMs as sequence classifiers. Flags follow SWIFT; values can also come "
             "from --config x.yaml.", "", "commands:"]
    lines += [f"  {name:<8} {help_text}" for name, help_text in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``swiftcls`` console script; returns the exit code (2 for errors the user can fix)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s:swiftcls] %(message)s")
    # Progress bars (stderr) and log lines (stdout): line-buffered, they interleave by whole lines in a log file.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    quiet_deepspeed_cpu_fallback()
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
    try:
        precheck(command, argv[1:])
        if command == "sft":
            code = maybe_relaunch(argv)
            if code is not None:
                return code
        from ..config.parser import parse_args  # heavy (transformers): after the pre-check, as command_entry

        cls, entry = command_entry(command)
        entry(parse_args(cls, argv[1:], prog=f"swiftcls {command}"))
    except SwiftClsError as err:
        print(f"swiftcls: error: {err}", file=sys.stderr)
        return 2
    finally:
        release_process_group()
    return 0


def release_process_group() -> None:
    """Destroy torch's default process group, if a run made one, before the interpreter exits.

    Left to static destructors, a gloo group's threads can abort a rank after a finished run ("terminate called
    without an active exception", SIGABRT), and torchrun then reports the whole run failed.
    """
    dist = sys.modules.get("torch.distributed")  # never imports torch: commands that did not start it have no group
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
