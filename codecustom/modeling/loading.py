"""Load any Hugging Face causal or seq2seq code model, offline first.

``load_base(None)`` (or ``"default"``) loads the model shipped inside the package
(``codecustom/models/default``). A hub id is resolved from the local cache only; if it is not cached
and the hub is unreachable (or ``HF_HUB_OFFLINE=1``), loading fails within a second or two with a
message that says how to get the model, instead of hanging on retries.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from codecustom.errors import ModelError

DEFAULT_BASE = "default"
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


@dataclass
class LoadedModel:
    """A model ready to use, with what is needed to tie artifacts to it."""

    model: Any  # transformers PreTrainedModel (possibly a peft model)
    tokenizer: Any  # transformers tokenizer
    base_id: str  # what the user passed (or "default")
    base_path: Path  # local folder the weights came from
    base_hash: str  # content hash of the base weights (sha256 over weight files)
    is_seq2seq: bool
    arch: str  # config.model_type
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_base(name_or_path: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """Map a ``--base`` value to ``(base_id, local folder)`` without touching the network.

    Raises :class:`ModelError` when the model is neither a local folder, the shipped default, nor in
    the local hub cache (after a fast reachability probe when the hub is not marked offline).
    """
    if name_or_path is None or str(name_or_path) in {DEFAULT_BASE, "codecustom/default"}:
        if not (SHIPPED_MODEL_DIR / "config.json").is_file():
            raise ModelError(
                f"the shipped default model is missing from {SHIPPED_MODEL_DIR}",
                hint="reinstall codecustom, or pass --base with a local model folder or a cached hub id",
            )
        return DEFAULT_BASE, SHIPPED_MODEL_DIR
    text = str(name_or_path)
    local = Path(text).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelError(f"{local} has no config.json, so it is not a Hugging Face model folder",
                             hint="pass the folder that holds config.json and the weights")
        return text, local.resolve()
    if text.count("/") > 1 or text.startswith((".", "/", "~")):
        raise ModelError(f"model folder {text} does not exist", hint="check the path passed to --base")
    return text, _resolve_hub_id(text)


def _resolve_hub_id(repo_id: str) -> Path:
    from huggingface_hub import constants, snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        pass  # not (fully) cached
    offline = constants.HF_HUB_OFFLINE or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    if offline or not _hub_reachable(constants.ENDPOINT):
        why = "HF_HUB_OFFLINE=1 is set" if offline else "the Hugging Face hub cannot be reached"
        raise ModelError(
            f"model '{repo_id}' is not in the local Hugging Face cache and {why}",
            hint="download it on a connected machine (huggingface-cli download "
            f"{repo_id}) and copy the cache, or pass a local folder to --base",
        )
    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt",
                                                               "*.py", "*.bin", "*.tiktoken"]))
    except Exception as exc:  # unknown repo, gated, network dropped mid-way
        raise ModelError(f"could not download model '{repo_id}': {type(exc).__name__}: {exc}",
                         hint="check the model id and your network or token") from exc


def _hub_reachable(endpoint: str, timeout: float = 1.0) -> bool:
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def weights_hash(folder: Path) -> str:
    """sha256 over the model's weight files (names and bytes), independent of config cosmetics.

    Remembered per (file, size, mtime) under the codecustom home, so a multi-GB base is read once.
    """
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not files:
        raise ModelError(f"no weight files in {folder}", hint="the folder needs model.safetensors (or shards)")
    key = hashlib.sha256(json.dumps([[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns]
                                     for p in files]).encode()).hexdigest()
    cache = _hash_cache_file()
    known = _read_hash_cache(cache)
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                digest.update(chunk)
    value = digest.hexdigest()
    known[key] = value
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(list(known.items())[-256:])))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home only costs re-hashing next time
    return value


def _hash_cache_file() -> Path:
    from codecustom import paths

    return paths.home() / "cache" / "weights_hash.json"


def _read_hash_cache(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _check_weights_format(folder: Path, allow_pickle: bool) -> None:
    names = [p.name for p in folder.iterdir() if p.is_file()]
    if any(n.endswith(".safetensors") for n in names):
        return
    if any(n.endswith(_WEIGHT_SUFFIXES) for n in names) and not allow_pickle:
        raise ModelError(
            f"{folder} only has pickle weights (.bin/.pt), which can run code when loaded",
            hint="convert them to safetensors, or pass --allow-pickle if you trust the source",
        )


def is_seq2seq_config(config: Any) -> bool:
    """True for encoder-decoder models (T5, BART, ...)."""
    return bool(getattr(config, "is_encoder_decoder", False))


def pick_device(device: str | None = None) -> str:
    """``cuda`` when available unless a device is named."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base(name_or_path: str | os.PathLike[str] | None = None, *, trust_remote_code: bool = False,
              allow_pickle: bool = False, device: str | None = None, dtype: Any = None) -> LoadedModel:
    """Load a base model and its tokenizer (see module docstring for how names resolve)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    base_id, folder = resolve_base(name_or_path)
    _check_weights_format(folder, allow_pickle)
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelError(f"model '{base_id}' needs its own Python code to load",
                             hint="pass --trust-remote-code if you trust its source") from exc
        raise ModelError(f"cannot read the config of '{base_id}': {exc}") from exc
    seq2seq = is_seq2seq_config(config)
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    device = pick_device(device)
    if dtype is None:
        dtype = torch.float32 if device == "cpu" else (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    try:
        model = auto.from_pretrained(folder, config=config, trust_remote_code=trust_remote_code,
                                     use_safetensors=not allow_pickle or None, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model '{base_id}' from {folder}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, base_id=base_id, base_path=folder,
                       base_hash=weights_hash(folder), is_seq2seq=seq2seq, arch=config.model_type, device=device)


def model_card(folder: Path) -> dict[str, Any]:
    """The shipped model's card data (``card.json``) if present."""
    path = Path(folder) / "card.json"
    return json.loads(path.read_text()) if path.is_file() else {}
