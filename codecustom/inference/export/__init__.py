"""``codecustom export``: write what serving stacks load, and say how to serve it.

Formats are a registry (:data:`FORMATS`):

* ``hf-merged`` — a plain Hugging Face model folder with the customization merged into the weights
  (full / l-eo / l-ldb are already whole weights; LoRA is merged with peft's ``merge_and_unload``).
  Served by vLLM, TGI, or anything that loads HF models.
* ``peft`` — the LoRA adapter as-is, for vLLM's ``--enable-lora`` (one base, many project adapters).
* ``gguf`` — merged Llama-style weights as one GGUF file for llama.cpp's server, llama-cpp-python,
  Ollama.

Prefix tuning cannot be merged (its trained virtual tokens are extra attention keys/values, not a
change to any weight) and no server loads peft prefix adapters: it is served in-process only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom import __version__
from codecustom.errors import ModelError, UsageError

MARKER = "codecustom_export.json"
FORMATS = ("hf-merged", "peft", "gguf")
MERGEABLE = ("full", "l-eo", "l-ldb", "lora")


@dataclass
class Source:
    """What is being exported: an artifact (with its manifest) or a bare base model."""

    artifact: Path | None
    manifest: dict[str, Any]
    base: str | None  # --base value (the model to export, or the base under the artifact)

    @property
    def strategy(self) -> str | None:
        return self.manifest.get("strategy") if self.artifact else None

    @property
    def arch(self) -> str:
        return self.manifest.get("base", {}).get("arch", "")

    def default_name(self) -> str:
        if self.artifact:
            return f"{self.manifest.get('project', 'model')}-{self.manifest.get('task', 'task')}-{self.strategy}"
        return Path(str(self.base or "default")).name or "model"


@dataclass
class ExportResult:
    """Where the export went and the commands that serve it."""

    format: str
    out: Path
    name: str
    files: list[str]
    serve: list[tuple[str, str]] = field(default_factory=list)  # (server, shell command)
    client: list[str] = field(default_factory=list)  # codecustom commands that use the served model

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "out": str(self.out), "name": self.name, "files": self.files,
                "serve": [{"server": s, "command": c} for s, c in self.serve], "client": self.client}


def resolve_source(artifact: str | None, base: str | None) -> Source:
    """Check the command line's ARTIFACT / --base and read the artifact's manifest."""
    from codecustom.modeling.artifacts import read_manifest

    if artifact is None and base is None:
        raise UsageError("name an ARTIFACT folder to export, or --base MODEL to export a base model")
    if artifact is None:
        from codecustom.modeling.loading import resolve_base

        base_id, folder = resolve_base(base)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return Source(None, {"base": {"id": base_id, "path": str(folder), "arch": config.get("model_type", "")}}, base)
    folder = Path(artifact).expanduser()
    if not folder.exists():
        from codecustom import paths

        in_store = paths.store_dir() / artifact
        if (in_store / "manifest.json").is_file():
            folder = in_store
        else:
            raise UsageError(f"artifact {artifact} does not exist",
                             hint="pass an artifact folder or PROJECT/TASK/STRATEGY from the store")
    return Source(folder.resolve(), read_manifest(folder), base)


def check_format(source: Source, fmt: str) -> None:
    """Refuse, with the reason, a format this source's strategy or architecture cannot have."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'", hint=f"choose one of {', '.join(FORMATS)}")
    strategy = source.strategy
    if strategy == "prefix":
        raise ModelError(
            "prefix tuning cannot be exported for a server: its trained virtual tokens are extra attention "
            "keys/values fed at every step, not a change to any weight, so they cannot be merged, and vLLM, "
            "llama.cpp, Ollama and TGI do not load peft prefix adapters",
            hint="serve it in-process (codecustom lsp / complete), or export a lora, full, l-eo or l-ldb artifact")
    if fmt == "peft":
        if source.artifact is None:
            raise UsageError("--format peft exports a LoRA artifact's adapter; a base model has none",
                             hint="use --format hf-merged or gguf for a base model")
        if strategy != "lora":
            raise ModelError(f"--format peft is for LoRA artifacts; a {strategy} artifact is whole weights",
                             hint="use --format hf-merged (or gguf)")
        if source.manifest.get("tokenizer", {}).get("extended"):
            raise ModelError("this LoRA artifact added tokens to the vocabulary (FIM tokens), which vLLM's LoRA "
                             "adapters cannot carry", hint="use --format hf-merged (or gguf)")
    if fmt == "gguf":
        from codecustom.inference.export.gguf_writer import GGUF_ARCHS

        if source.arch and source.arch not in GGUF_ARCHS:
            raise ModelError(f"GGUF export supports Llama-style models ({', '.join(GGUF_ARCHS)}), "
                             f"not '{source.arch}'", hint="use --format hf-merged and serve with vLLM or TGI")


def prepare_out(out: str | Path, force: bool) -> Path:
    """The output folder: new or empty, or (with ``force``) a previous codecustom export to replace."""
    path = Path(out).expanduser().resolve()
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"--out {path} is a file", hint="pass a folder to create")
        if any(path.iterdir()):
            if not (path / MARKER).is_file():
                raise UsageError(f"--out {path} is not empty and was not written by codecustom export",
                                 hint="choose a new folder; codecustom never overwrites other files")
            if not force:
                raise UsageError(f"--out {path} holds a previous export", hint="pass --force to replace it")
    return path


def export(source: Source, fmt: str, out: str | Path, *, name: str | None = None, outtype: str = "f16",
           force: bool = False, device: str = "cpu", log: Callable[[str], None] | None = None) -> ExportResult:
    """Export ``source`` in ``fmt`` to ``out`` (written to a temporary folder, then renamed into place)."""
    check_format(source, fmt)
    final = prepare_out(out, force)
    name = name or source.default_name()
    say = log or (lambda _m: None)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files, extra = _WRITERS[fmt](source, tmp, name=name, outtype=outtype, device=device, say=say)
        marker = {"codecustom_version": __version__, "format": fmt, "name": name,
                  "artifact": str(source.artifact) if source.artifact else None,
                  "strategy": source.strategy, "base": source.manifest.get("base") or {"id": source.base}, **extra}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2, default=str) + "\n", encoding="utf-8")
        if final.exists():
            old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result = ExportResult(fmt, final, name, sorted(files))
    result.serve, result.client = serve_commands(fmt, final, name, source, extra)
    return result


# -- writers ------------------------------------------------------------------------------------------
def _load(source: Source, device: str) -> Any:
    from codecustom.modeling.artifacts import load_artifact
    from codecustom.modeling.loading import load_base

    if source.artifact is None:
        return load_base(source.base, device=device)
    base = load_base(source.base, device=device) if source.base else None
    return load_artifact(source.artifact, base, device=device)


def _merged_model(loaded: Any) -> Any:
    model = loaded.model
    if hasattr(model, "merge_and_unload"):  # a peft LoRA model: fold B @ A into the base weights
        model = model.merge_and_unload()
    return model


def _write_merged(source: Source, out: Path, *, device: str, say: Callable[[str], None], **_: Any
                  ) -> tuple[list[str], dict[str, Any]]:
    say("loading the model" + (f" and artifact {source.artifact}" if source.artifact else ""))
    loaded = _load(source, device)
    model = _merged_model(loaded)
    say("writing merged safetensors weights")
    model.save_pretrained(str(out), safe_serialization=True)
    loaded.tokenizer.save_pretrained(str(out))
    files = [p.name for p in out.iterdir() if p.is_file()]
    return files, {"arch": loaded.arch}


def _write_adapter(source: Source, out: Path, *, say: Callable[[str], None], **_: Any) -> tuple[list[str], dict[str, Any]]:
    adapter = source.artifact / "adapter" if source.artifact else None
    if adapter is None or not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"artifact {source.artifact} has no peft adapter folder", hint="the artifact is incomplete")
    config = json.loads((adapter / "adapter_config.json").read_text())
    if config.get("modules_to_save"):
        raise ModelError("this LoRA adapter also trains whole modules (" + ", ".join(config["modules_to_save"])
                         + "), which vLLM's LoRA loading does not support", hint="use --format hf-merged (or gguf)")
    say(f"copying the LoRA adapter from {adapter}")
    for item in adapter.iterdir():
        if item.is_file():
            shutil.copy2(item, out / item.name)
    return [p.name for p in out.iterdir()], {"lora_rank": int(config.get("r", 8))}


def _write_gguf(source: Source, out: Path, *, outtype: str, device: str, name: str, say: Callable[[str], None],
                **_: Any) -> tuple[list[str], dict[str, Any]]:
    from codecustom.inference.export.gguf_writer import write_gguf

    with tempfile.TemporaryDirectory(prefix="codecustom-merge-", dir=out.parent) as merged:
        _write_merged(source, Path(merged), device=device, say=say)
        say(f"converting to GGUF ({outtype})")
        write_gguf(merged, out / "model.gguf", outtype=outtype, name=name)
    # Ollama: raw completions (no chat template), the eos from the GGUF ends generation.
    (out / "Modelfile").write_text('FROM ./model.gguf\nTEMPLATE """{{ .Prompt }}"""\n', encoding="utf-8")
    return ["model.gguf", "Modelfile"], {"outtype": outtype}


_WRITERS = {"hf-merged": _write_merged, "peft": _write_adapter, "gguf": _write_gguf}


# -- how to serve it --------------------------------------------------------------------------------------
def _base_ref(source: Source) -> str:
    base = source.manifest.get("base", {})
    if base.get("id") in (None, "", "default"):
        return str(base.get("path") or "BASE_MODEL_FOLDER")
    return str(base.get("id"))


def serve_commands(fmt: str, out: Path, name: str, source: Source, extra: dict[str, Any]
                   ) -> tuple[list[tuple[str, str]], list[str]]:
    """Shell commands that serve the export on loopback, and the codecustom commands that use it."""
    def client(port: int) -> str:
        return (f"codecustom complete FILE:LINE:COL --backend openai --url http://127.0.0.1:{port}/v1 "
                f"--model {name}")

    if fmt == "hf-merged":
        return ([("vLLM", f"vllm serve {out} --served-model-name {name} --host 127.0.0.1 --port 8000"),
                 ("TGI", f"text-generation-launcher --model-id {out} --hostname 127.0.0.1 --port 8080")],
                [client(8000) + "   # vLLM", client(8080) + "   # TGI"])
    if fmt == "peft":
        rank = extra.get("lora_rank", 8)
        return ([("vLLM", f"vllm serve {_base_ref(source)} --enable-lora --lora-modules {name}={out} "
                          f"--max-lora-rank {max(8, rank)} --host 127.0.0.1 --port 8000")],
                [client(8000)])
    gguf = out / "model.gguf"
    return ([("llama.cpp", f"llama-server -m {gguf} --alias {name} --host 127.0.0.1 --port 8080"),
             ("llama-cpp-python", f"python -m llama_cpp.server --model {gguf} --model_alias {name} "
                                  "--host 127.0.0.1 --port 8080"),
             ("Ollama", f"cd {out} && ollama create {name} -f Modelfile && ollama serve")],
            [client(8080) + "   # llama.cpp / llama-cpp-python",
             client(11434).replace(f"--model {name}", f"--model {name}:latest") + "   # Ollama"])
