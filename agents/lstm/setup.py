"""What an LSTM baseline is made of, from its command-line choices: one place for RL and behaviour cloning."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.nn.backbone import tiny_llama_config
from agents.nn.llm import load_tokenizer


@dataclass
class LstmSetup:
    policy_kwargs: dict[str, Any]  # for RecurrentPPO(InstructionLstmPolicy, ...)
    name: str  # the run's name in tables: lstm-ENCODER[MODEL]
    tokenizer_name: str
    tokenizer: Any


def tiny_t5_config(vocab_size: int):
    from transformers import T5Config

    return T5Config(vocab_size=vocab_size, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)


def lstm_setup(encoder: str, encoder_model: str | None = None, visual_encoder: str = "cnn",
               freeze_encoder: bool = False, lstm_hidden: int = 512) -> LstmSetup:
    """``encoder_model`` "tiny" builds a tiny random T5/Llama (tests); None is SmolLM2 for the llm-* encoders."""
    model_name = encoder_model or "smollm2-135m"
    tiny = model_name == "tiny"
    tokenizer_name = "smollm2-135m" if tiny or encoder != "t5" else model_name
    tokenizer = load_tokenizer(tokenizer_name)
    extractor: dict[str, Any] = dict(encoder=encoder, encoder_model=model_name, visual_encoder=visual_encoder)
    if tiny:
        extractor["encoder_config"] = tiny_t5_config(len(tokenizer)) if encoder == "t5" else tiny_llama_config()
    if encoder != "llm-resampler":
        extractor["finetune"] = not freeze_encoder
    name = f"lstm-{encoder}[{model_name}]" + ("-frozen" if freeze_encoder else "")
    return LstmSetup(dict(features_extractor_kwargs=extractor, lstm_hidden_size=lstm_hidden), name, tokenizer_name,
                     tokenizer)
