"""Image+text classifiers for VL families transformers ships no ``*ForSequenceClassification`` for.

A template with ``backbone_class`` (Qwen2-VL: ``Qwen2VLModel``) gets a classifier class named by its ``classifier``
field, built here around that backbone; families transformers covers (Qwen3.5) use its own class. A template's
``generation_class`` names the ``*ForConditionalGeneration`` class whose checkpoint key conversions the classifier
shares.

Layout (what ``save_pretrained`` writes and vLLM's ``Qwen2VLForSequenceClassification`` reads):

* ``model`` is transformers' own backbone (``Qwen2VLModel``, ``Qwen2_5_VLModel``, ``Qwen3VLModel``), named exactly as in
  ``*ForConditionalGeneration`` (``model.visual.*``, ``model.language_model.*``), so every backbone weight of a
  hub checkpoint loads -- including old-format checkpoints (``visual.*``, ``model.layers.*``), through the same
  checkpoint conversion mapping transformers uses for the generation class.
* ``score`` is the ``num_labels x hidden`` head. The LM head (``lm_head.weight``) is never created: no
  vocab-size logits in memory, and the checkpoint's copy is simply left unused.

Pooling is swiftcls's usual one (``pooling.install_pooled_forward``): the hidden state of the last attended
token, after the image features have been scattered into the image token positions.

Images are read and turned into prompt tokens and pixels by :mod:`swiftcls.data.images`.
"""

from __future__ import annotations

import torch
import transformers
from torch import nn
from transformers import AutoImageProcessor, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from ..core.compat import checkpoint_key_renames, key_renaming, register_checkpoint_key_renames
from ..core.errors import ConfigError
from ..core.spec import ModelSpec
from .pooling import pool_last, vision_inputs


class _VLForSequenceClassification:
    """Shared body of the classes :func:`classifier_class` builds: ``model`` (the VL backbone) + ``score``."""

    _backbone_cls: type = None

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = self._backbone_cls(config)
        hidden = config.get_text_config().hidden_size
        self.score = nn.Linear(hidden, config.num_labels, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, image_grid_thw=None, **kwargs):
        """Reference forward (swiftcls installs the same computation on the instance, see pooling.py)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                            **vision_inputs(self, input_ids, pixel_values, image_grid_thw)).last_hidden_state
        return SequenceClassifierOutput(logits=self.score(pool_last(hidden, attention_mask)))


_BUILT: dict[tuple[str, str], type] = {}  # (classifier, backbone_class) -> class


def _transformers_class(spec: ModelSpec, field_name: str) -> type:
    name = getattr(spec, field_name)
    if not hasattr(transformers, name):
        raise ConfigError(f"template '{spec.name}': {field_name} {name} is not a class of transformers "
                          f"{transformers.__version__}; fix the name or upgrade transformers.")
    return getattr(transformers, name)


def classifier_class(spec: ModelSpec) -> type:
    """The class named ``spec.classifier``: ``score`` head + ``spec.backbone_class``, built once per name.

    It derives from the backbone's ``*PreTrainedModel`` (config class, weight init, attention support), and is
    stored in this module under its name so ``swiftcls.models.vl.<name>`` finds it (pickling, error messages).
    """
    key = (spec.classifier, spec.backbone_class)
    if key in _BUILT:
        return _BUILT[key]
    backbone = _transformers_class(spec, "backbone_class")
    base = next((b for b in backbone.__mro__[1:] if issubclass(b, PreTrainedModel) and b is not PreTrainedModel),
                None)
    if base is None:
        raise ConfigError(f"template '{spec.name}': backbone_class {spec.backbone_class} is not a transformers "
                          "PreTrainedModel subclass.")
    cls = type(spec.classifier, (_VLForSequenceClassification, base), {
        "_backbone_cls": backbone, "__module__": __name__,
        "__doc__": f"{spec.backbone_class} backbone (``model``) with a ``score`` head (built from the "
                   f"'{spec.name}' template)."})
    _BUILT[key] = cls
    globals().setdefault(spec.classifier, cls)
    return cls


def register_conversions(spec: ModelSpec) -> None:
    """Load hub checkpoints in every key format ``spec.generation_class`` accepts, and swiftcls/vLLM exports."""
    name, generation = spec.classifier, spec.generation_class
    if generation and checkpoint_key_renames(name) is None:
        # vLLM's Qwen2-VL adapter keeps the head inside its language model: ``language_model.score.weight``.
        head = key_renaming(r"^language_model\.score\.", "score.")
        register_checkpoint_key_renames(name, [head, *(checkpoint_key_renames(generation) or [])])


def load_image_processor(model_dir: str):
    """The checkpoint's image processor (the pixel budget is applied by the prompt encoder)."""
    return AutoImageProcessor.from_pretrained(model_dir)
