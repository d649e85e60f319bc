"""Image+text classifiers for the Qwen VL families (transformers ships no ``*VLForSequenceClassification``).

Qwen2-VL, Qwen2.5-VL and Qwen3-VL use the classes below; Qwen3.5 (natively multimodal) uses transformers' own
``Qwen3_5ForSequenceClassification``, which has the same layout.

Layout (what ``save_pretrained`` writes and vLLM's ``Qwen2VLForSequenceClassification`` reads):

* ``model`` is transformers' own ``Qwen2VLModel`` / ``Qwen2_5_VLModel`` / ``Qwen3VLModel``, named exactly as in
  ``*ForConditionalGeneration`` (``model.visual.*``, ``model.language_model.*``), so every backbone weight of a
  hub checkpoint loads -- including old-format checkpoints (``visual.*``, ``model.layers.*``), through the same
  checkpoint conversion mapping transformers uses for the generation class.
* ``score`` is the ``num_labels x hidden`` head. The LM head (``lm_head.weight``) is never created: no
  vocab-size logits in memory, and the checkpoint's copy is simply left unused.

Pooling is swiftcls's usual one (``pooling.install_pooled_forward``): the hidden state of the last attended
token, after the image features have been scattered into the ``<|image_pad|>`` positions.

Images are read and turned into prompt tokens and pixels by :mod:`swiftcls.data.images`.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoImageProcessor
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel, Qwen2_5_VLPreTrainedModel
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel, Qwen2VLPreTrainedModel
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLModel, Qwen3VLPreTrainedModel

from ..core.compat import checkpoint_key_renames, key_renaming, register_checkpoint_key_renames
from .pooling import pool_last, vision_inputs


class _VLForSequenceClassification:
    """Shared body of the two classes below: ``model`` (the VL backbone) + ``score`` (the head)."""

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
        """Reference forward (swiftcls installs the same computation on the instance, see modeling.py)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                            **vision_inputs(self, input_ids, pixel_values, image_grid_thw)).last_hidden_state
        return SequenceClassifierOutput(logits=self.score(pool_last(hidden, attention_mask)))


class Qwen2VLForSequenceClassification(_VLForSequenceClassification, Qwen2VLPreTrainedModel):
    """Qwen2-VL backbone (``model.visual``, ``model.language_model``) with a ``score`` head."""

    _backbone_cls = Qwen2VLModel


class Qwen2_5_VLForSequenceClassification(_VLForSequenceClassification, Qwen2_5_VLPreTrainedModel):  # noqa: N801
    """Qwen2.5-VL backbone (``model.visual``, ``model.language_model``) with a ``score`` head."""

    _backbone_cls = Qwen2_5_VLModel


class Qwen3VLForSequenceClassification(_VLForSequenceClassification, Qwen3VLPreTrainedModel):
    """Qwen3-VL backbone (``model.visual`` incl. deepstack mergers, ``model.language_model``) with a ``score`` head."""

    _backbone_cls = Qwen3VLModel


CLASSES = {cls.__name__: cls for cls in (Qwen2VLForSequenceClassification, Qwen2_5_VLForSequenceClassification,
                                         Qwen3VLForSequenceClassification)}
# classifier class -> the generation class whose checkpoint key conversions it shares
_GENERATION_CLASSES = {"Qwen2VLForSequenceClassification": "Qwen2VLForConditionalGeneration",
                       "Qwen2_5_VLForSequenceClassification": "Qwen2VLForConditionalGeneration",
                       "Qwen3VLForSequenceClassification": "Qwen3VLForConditionalGeneration",
                       "Qwen3_5ForSequenceClassification": "Qwen3_5ForConditionalGeneration"}


def _register_conversions() -> None:
    """Load hub checkpoints in every key format their generation class accepts, and swiftcls/vLLM exports."""
    for name, generation in _GENERATION_CLASSES.items():
        if checkpoint_key_renames(name) is None:
            # vLLM's Qwen2-VL adapter keeps the head inside its language model: ``language_model.score.weight``.
            head = key_renaming(r"^language_model\.score\.", "score.")
            register_checkpoint_key_renames(name, [head, *(checkpoint_key_renames(generation) or [])])


_register_conversions()


def load_image_processor(model_dir: str):
    """The checkpoint's image processor (the pixel budget is applied by the prompt encoder)."""
    return AutoImageProcessor.from_pretrained(model_dir)
