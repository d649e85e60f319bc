"""The commands of ``swiftcls``: their one-line help (light) and their arguments class and entry point (heavy)."""

from __future__ import annotations

from collections.abc import Callable

# name -> one-line help
COMMANDS: dict[str, str] = {
    "sft": "Fine-tune a sequence classifier (--task seq_cls).",
    "infer": "Predict with a trained classifier; scores rows that carry labels.",
    "eval": "Score a trained classifier on labelled data (metrics only).",
    "export": "Merge LoRA and write a plain Hugging Face checkpoint (or the LMDeploy reward layout).",
    "deploy": "Serve a classifier over HTTP (vLLM-compatible /classify).",
}


def command_entry(command: str) -> tuple[type, Callable]:
    """The arguments class and the entry point of ``command``."""
    # Imported here, not at the top: they load torch and transformers, which the pre-check must not wait for.
    from ..commands.deploy import deploy_main
    from ..commands.export import export_main
    from ..commands.infer import eval_main, infer_main
    from ..commands.sft import sft_main
    from ..config import DeployArguments, EvalArguments, ExportArguments, InferArguments, SftArguments

    return {"sft": (SftArguments, sft_main), "infer": (InferArguments, infer_main), "eval": (EvalArguments, eval_main),
            "export": (ExportArguments, export_main), "deploy": (DeployArguments, deploy_main)}[command]
