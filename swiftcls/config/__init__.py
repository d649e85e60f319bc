"""Argument dataclasses of every command, and the parser that fills them from flags and YAML configs."""

from .data import DataArguments
from .deploy import DeployArguments, ServerArguments
from .export import ExportArguments, ExportOutputArguments
from .infer import EvalArguments, InferArguments, InferOutputArguments
from .model import CheckpointArguments, ClassifierArguments, ModelArguments, PredictionArguments
from .sft import SftArguments, TaskArguments, TrainingDefaults, TunerArguments, ValidationDataArguments

__all__ = ["CheckpointArguments", "ClassifierArguments", "DataArguments", "DeployArguments", "EvalArguments",
           "ExportArguments", "ExportOutputArguments", "InferArguments", "InferOutputArguments", "ModelArguments",
           "PredictionArguments", "ServerArguments", "SftArguments", "TaskArguments", "TrainingDefaults",
           "TunerArguments", "ValidationDataArguments"]
