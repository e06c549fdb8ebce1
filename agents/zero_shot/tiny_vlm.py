"""A tiny, randomly initialised vision-language model, built offline, to test ZS-Flamingo's plumbing.

``make_tiny_vlm(folder)`` writes a LLaVA-architecture model (a one-layer CLIP vision
tower on 32x32 images, a one-layer Llama text model) with a processor made from the
SmolLM2 tokenizer (plus an ``<image>`` token), a PIL CLIP image processor and a ChatML
chat template that understands image parts. ``AutoProcessor`` and
``AutoModelForImageTextToText`` load the folder like any downloaded VLM. Its answers are
gibberish: it only proves that prompts, images, generation and plan parsing fit together.
"""
from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for part in m['content'] %}"
    "{% if part['type'] == 'image' %}<image>{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_vlm(folder: str | Path, tokenizer: str = "smollm2-135m", seed: int = 0) -> Path:
    """Build and save the tiny VLM into ``folder``; returns the folder."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    try:  # transformers 5: the PIL backend works without torchvision
        from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil as ImageProcessor
    except ImportError:  # transformers 4: the slow processor is the PIL one
        from transformers import CLIPImageProcessor as ImageProcessor

    from agents.nn.llm import load_tokenizer

    folder = Path(folder)
    tok = load_tokenizer(tokenizer)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_token_id = tok.convert_tokens_to_ids("<image>")
    size, patch = 32, 8
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=size, patch_size=patch, projection_dim=32)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_id=image_token_id,
                         vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    image_processor = ImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tok, patch_size=patch,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
