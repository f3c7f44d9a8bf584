"""Write a Llama-style Hugging Face model folder as one GGUF file for llama.cpp.

Uses the ``gguf`` package (llama.cpp's own writer library) for the file format, tensor names and
merges; what is done here is the model-specific part: hyper-parameters, the Q/K row order llama.cpp
expects for Llama (it rotates interleaved pairs, HF rotates halves), the tokenizer's token types and
pre-tokenizer, and the FIM token ids. Architectures are a registry (:data:`GGUF_ARCHS`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecustom.errors import ModelError, UsageError

OUTTYPES = ("f16", "f32", "q8_0")

# HF pre-tokenizer regexes llama.cpp knows, by its name for them
_GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_SPLIT_REGEXES = {
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+": "qwen2",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+": "llama-bpe",
    _GPT2_REGEX: "gpt-2",
}


@dataclass(frozen=True)
class GgufArch:
    """How one HF architecture maps to a llama.cpp architecture."""

    gguf_name: str  # llama.cpp's architecture name
    model_arch: Any  # gguf.MODEL_ARCH member
    permute_qk: bool  # Llama: HF's rotate-half layout -> llama.cpp's interleaved layout


def _archs() -> dict[str, GgufArch]:
    import gguf

    return {
        "llama": GgufArch("llama", gguf.MODEL_ARCH.LLAMA, permute_qk=True),
        "mistral": GgufArch("llama", gguf.MODEL_ARCH.LLAMA, permute_qk=True),
        "qwen2": GgufArch("qwen2", gguf.MODEL_ARCH.QWEN2, permute_qk=False),
    }


GGUF_ARCHS = ("llama", "mistral", "qwen2")


def supports_gguf(model_type: str) -> bool:
    """Whether :func:`write_gguf` can convert this ``config.model_type``."""
    return model_type in GGUF_ARCHS


def write_gguf(model_dir: str | Path, out_file: str | Path, *, outtype: str = "f16", name: str | None = None,
               progress: Callable[[str], None] | None = None) -> Path:
    """Convert the HF model folder ``model_dir`` (config, safetensors, tokenizer.json) into ``out_file``."""
    import gguf
    import numpy as np
    from safetensors import safe_open

    if outtype not in OUTTYPES:
        raise UsageError(f"unknown GGUF type '{outtype}'", hint=f"choose one of {', '.join(OUTTYPES)}")
    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text())
    model_type = config.get("model_type", "")
    if model_type not in GGUF_ARCHS:
        raise ModelError(f"GGUF export supports Llama-style models ({', '.join(GGUF_ARCHS)}), not '{model_type}'",
                         hint="export --format hf-merged and serve it with vLLM or TGI instead")
    spec = _archs()[model_type]
    _check_rope(config)
    n_layers = int(config["num_hidden_layers"])
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    vocab_size = int(config["vocab_size"])

    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), spec.gguf_name)
    writer.add_name(name or folder.name)
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(_rope_theta(config)))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(vocab_size)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _add_tokenizer(writer, folder, vocab_size)

    names = gguf.get_tensor_name_map(spec.model_arch, n_layers)
    tied = bool(config.get("tie_word_embeddings", False))
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelError(f"no safetensors weights in {folder}", hint="export --format hf-merged first")
    for file in files:
        with safe_open(str(file), framework="pt") as fh:
            for key in fh.keys():
                if key.endswith("rotary_emb.inv_freq") or (tied and key == "lm_head.weight"):
                    continue
                target = names.get_name(key, try_suffixes=(".weight", ".bias"))
                if target is None:
                    writer.close()
                    out.unlink(missing_ok=True)
                    raise ModelError(f"GGUF export does not know where tensor '{key}' goes in llama.cpp's "
                                     f"{spec.gguf_name} layout", hint="export --format hf-merged instead")
                data = fh.get_tensor(key).float().numpy()
                if spec.permute_qk and (".q_proj." in key or ".k_proj." in key):
                    data = _permute(data, n_head, n_head if ".q_proj." in key else n_kv)
                data, qtype = _convert(data, outtype, gguf, np)
                writer.add_tensor(target, data, raw_dtype=qtype)
                if progress:
                    progress(target)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _convert(data: Any, outtype: str, gguf: Any, np: Any) -> tuple[Any, Any]:
    """Norms and biases stay f32 (llama.cpp expects it); matrices get the requested type."""
    if data.ndim <= 1 or outtype == "f32":
        return data.astype(np.float32), None
    if outtype == "f16":
        return data.astype(np.float16), None
    if data.shape[-1] % 32:  # Q8_0 works on blocks of 32
        return data.astype(np.float16), None
    return gguf.quants.quantize(data.astype(np.float32), gguf.GGMLQuantizationType.Q8_0), \
        gguf.GGMLQuantizationType.Q8_0


def _permute(w: Any, n_head: int, n_head_kv: int) -> Any:
    """HF (rotate-half) Q/K rows -> llama.cpp's (interleaved pairs) order."""
    heads = n_head_kv
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _rope_theta(config: dict[str, Any]) -> float:
    params = config.get("rope_parameters") or {}
    return params.get("rope_theta") or config.get("rope_theta") or 10000.0


def _check_rope(config: dict[str, Any]) -> None:
    scaling = config.get("rope_scaling") or {}
    params = config.get("rope_parameters") or {}
    kind = scaling.get("rope_type") or scaling.get("type") or params.get("rope_type") or "default"
    if kind not in ("default", None):
        raise ModelError(f"GGUF export does not handle rope scaling '{kind}'",
                         hint="export --format hf-merged and serve with vLLM, or convert with llama.cpp's script")


def _pre_tokenizer(tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenization (ModelError if it is not one it knows)."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    types = [s.get("type") for s in steps]
    if types == ["ByteLevel"] and steps[0].get("use_regex", True) and not steps[0].get("add_prefix_space", False):
        return "gpt-2"
    if types == ["Digits", "ByteLevel"] and steps[0].get("individual_digits"):
        return "starcoder"
    if types == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        regex = (steps[0].get("pattern") or {}).get("Regex")
        if regex in _SPLIT_REGEXES:
            return _SPLIT_REGEXES[regex]
    raise ModelError(f"GGUF export does not recognize this tokenizer's pre-tokenizer ({' + '.join(map(str, types))})",
                     hint="export --format hf-merged and convert it with llama.cpp's convert_hf_to_gguf.py")


def _add_tokenizer(writer: Any, folder: Path, vocab_size: int) -> None:
    import gguf
    from transformers import AutoTokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"{folder} has no tokenizer.json (a fast byte-level BPE tokenizer is needed for GGUF)",
                         hint="export --format hf-merged and convert with llama.cpp's script")
    tj = json.loads(path.read_text(encoding="utf-8"))
    model = tj.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback") or (tj.get("decoder") or {}).get("type") != "ByteLevel":
        raise ModelError("GGUF export handles byte-level BPE tokenizers only",
                         hint="export --format hf-merged and convert with llama.cpp's script")
    tok = AutoTokenizer.from_pretrained(str(folder))
    vocab: dict[str, int] = dict(model["vocab"])
    added = {t["content"]: t for t in tj.get("added_tokens", [])}
    for content, entry in added.items():
        vocab[content] = entry["id"]
    by_id = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        text = by_id.get(i)
        if text is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif text in added:
            tokens.append(text)
            types.append(gguf.TokenType.CONTROL if added[text].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(text)
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(tj))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=vocab_size)
    special.add_special_token = {}  # decided below from what the tokenizer really does
    special.add_to_gguf(writer, quiet=True)
    probe = tok("a")["input_ids"]
    plain = tok("a", add_special_tokens=False)["input_ids"]
    writer.add_add_bos_token(bool(tok.bos_token_id is not None and probe[:1] == [tok.bos_token_id] != plain[:1]))
    writer.add_add_eos_token(bool(tok.eos_token_id is not None and probe[-1:] == [tok.eos_token_id] != plain[-1:]))
    writer.add_add_sep_token(False)
    fim_keys = {"<fim_prefix>": gguf.Keys.Tokenizer.FIM_PRE_ID, "<fim_suffix>": gguf.Keys.Tokenizer.FIM_SUF_ID,
                "<fim_middle>": gguf.Keys.Tokenizer.FIM_MID_ID, "<fim_pad>": gguf.Keys.Tokenizer.FIM_PAD_ID,
                "<|fim_prefix|>": gguf.Keys.Tokenizer.FIM_PRE_ID, "<|fim_suffix|>": gguf.Keys.Tokenizer.FIM_SUF_ID,
                "<|fim_middle|>": gguf.Keys.Tokenizer.FIM_MID_ID, "<|fim_pad|>": gguf.Keys.Tokenizer.FIM_PAD_ID}
    for text, key in fim_keys.items():
        if text in vocab and vocab[text] < vocab_size:
            writer.add_uint32(key, vocab[text])
