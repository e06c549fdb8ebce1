"""Packaged GGUF models: the tokenizer is read from the GGUF file once, then from its saved copy."""
import transformers

from agents.nn.llm import load_tokenizer

TEXTS = ["Put the apple in the fridge.", "  two  spaces and a tab\t", "ÜNïcödé → 😀", "skill: pick(bowl)"]


def test_a_gguf_tokenizer_is_saved_once_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("GYM_LANGREARRANGE_MODELS", str(tmp_path))
    reads = []
    real = transformers.AutoTokenizer.from_pretrained

    def recording(source, **kwargs):
        reads.append("gguf" if "gguf_file" in kwargs else str(source))
        return real(source, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", recording)
    first = load_tokenizer("smollm2-135m")
    saved = tmp_path / "smollm2-135m.tokenizer"
    assert reads == ["gguf"] and (saved / "tokenizer_config.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == [saved.name]  # no temporary folder left behind
    assert not (tmp_path / "smollm2-135m").exists()  # the model's own folder is the conversion's, untouched
    again = load_tokenizer("smollm2-135m")
    assert reads == ["gguf", str(saved)]
    for text in TEXTS:
        assert again(text)["input_ids"] == first(text)["input_ids"]
    chat = [{"role": "user", "content": TEXTS[0]}]
    assert again.apply_chat_template(chat, tokenize=False) == first.apply_chat_template(chat, tokenize=False)
    assert (again.eos_token, again.pad_token, len(again)) == (first.eos_token, first.pad_token, len(first))
