"""Per-project artifacts: a manifest plus only the delta, on a shared base model.

Layout: ``<store>/<project>/<task>/<strategy>/`` holding ``manifest.json`` (base id + content hash,
strategy, task, dataset manifest hash, hyper-parameters, metrics, cost, file sizes) and the delta the
strategy wrote (``delta.safetensors`` or ``adapter/``). When training had to add tokens to the
tokenizer (FIM tokens for a model without them), the artifact also holds ``tokenizer/`` and the new
rows of the embedding matrices (``added_rows.safetensors``).

Writes are atomic: everything goes into a hidden temporary sibling folder which is swapped into place
once complete (:mod:`codecustom.atomic`), so a kill leaves either the previous artifact or the new one,
never half of one; a swap a kill interrupted is repaired the next time the store is read or written.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codecustom import __version__, atomic, paths
from codecustom.errors import ModelError
from codecustom.modeling import architecture as arch
from codecustom.modeling.loading import LoadedModel, load_base
from codecustom.modeling.strategies import get_strategy

MANIFEST = "manifest.json"
FORMAT = "codecustom-artifact"
FORMAT_VERSION = 1
ADDED_ROWS = "added_rows.safetensors"
log = logging.getLogger(__name__)
TOKENIZER_DIR = "tokenizer"


@dataclass
class ArtifactInfo:
    """An artifact in the store. Usable wherever a path is expected (``os.fspath(info)``)."""

    path: Path
    manifest: dict[str, Any] = field(repr=False)

    @property
    def project(self) -> str:
        return self.manifest.get("project", "")

    @property
    def task(self) -> str:
        return self.manifest.get("task", "")

    @property
    def strategy(self) -> str:
        return self.manifest.get("strategy", "")

    @property
    def created(self) -> str:
        return self.manifest.get("created", "")

    @property
    def base_id(self) -> str:
        return self.manifest.get("base", {}).get("id", "")

    def __fspath__(self) -> str:
        return str(self.path)


def artifact_dir(project: str, task: str, strategy: str, store: str | os.PathLike[str] | None = None) -> Path:
    """Where the artifact of (project, task, strategy) lives."""
    return Path(store or paths.store_dir()) / project / task / strategy


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of an artifact folder, with a clear error when it is not one."""
    folder = Path(path)
    file = folder / MANIFEST
    if not file.is_file():
        raise ModelError(f"{folder} is not a codecustom artifact (no {MANIFEST})",
                         hint="pass a folder written by 'codecustom customize' (see 'codecustom compare --json')")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {file}: {exc}", hint="the artifact is damaged; retrain it") from exc
    if data.get("format") != FORMAT:
        raise ModelError(f"{file} is not a codecustom artifact manifest")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(f"artifact {folder} was written by a newer codecustom (format {data.get('format_version')})",
                         hint="upgrade codecustom")
    return data


def _added_rows(model: Any, first_new: int) -> dict[str, Any]:
    rows = {"input": arch.input_embeddings(model).weight[first_new:].detach().cpu().contiguous()}
    if not arch.embeddings_tied(model):
        rows["output"] = arch.output_embeddings(model).weight[first_new:].detach().cpu().contiguous()
    return rows


def save_artifact(model: Any, loaded: LoadedModel, *, strategy: str, task: str, project: str,
                  record: dict[str, Any] | None = None, store: str | os.PathLike[str] | None = None) -> ArtifactInfo:
    """Save the trained ``model``'s delta against ``loaded`` (the base) as the project's artifact.

    ``record`` holds the run's description (dataset, hyper-parameters, metrics, cost, task format,
    strategy options, base vocabulary size); it is merged into the manifest.
    """
    from safetensors.torch import save_file

    record = dict(record or {})
    final = artifact_dir(project, task, strategy, store)
    final.parent.mkdir(parents=True, exist_ok=True)
    repair(final.parent)
    tmp = atomic.temp_sibling(final)
    tmp.mkdir()
    try:
        written = get_strategy(strategy).save_delta(model, tmp)
        base_vocab = int(record.pop("base_vocab_size", None) or len(loaded.tokenizer))
        tokenizer = record.pop("tokenizer", None) or loaded.tokenizer
        extended = len(tokenizer) > base_vocab
        if extended:
            tokenizer.save_pretrained(str(tmp / TOKENIZER_DIR))
            save_file(_added_rows(arch.unwrap(model), base_vocab), str(tmp / ADDED_ROWS))
            written += [tmp / ADDED_ROWS] + sorted((tmp / TOKENIZER_DIR).iterdir())
        files = {str(p.relative_to(tmp)): p.stat().st_size for p in written}
        if isinstance(record.get("cost"), dict):  # what the run costs on disk
            record["cost"] = {**record["cost"], "artifact_bytes": sum(files.values())}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "codecustom_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "project": project,
            "task": task,
            "strategy": strategy,
            "base": {"id": loaded.base_id, "path": str(loaded.base_path), "hash": loaded.base_hash,
                     "arch": loaded.arch, "is_seq2seq": loaded.is_seq2seq, "vocab_size": base_vocab},
            "tokenizer": {"extended": extended, "size": len(tokenizer)},
            **record,
            "files": files,
            "artifact_bytes": sum(files.values()),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
        _fsync_tree(tmp)
        atomic.swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ArtifactInfo(final, manifest)


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def repair(task_dir: Path) -> list[str]:
    """Finish or undo the artifact swaps in ``<store>/<project>/<task>/`` that a kill interrupted, and
    remove the temporary folders of killed saves (only once their writer is gone)."""
    notes = atomic.recover(task_dir, lambda folder: (folder / MANIFEST).is_file())
    for note in notes:
        log.warning("artifact store: %s", note)
    return notes


def load_artifact(path: str | os.PathLike[str], base: LoadedModel | None = None, *, device: str | None = None,
                  trust_remote_code: bool = False, allow_pickle: bool = False) -> LoadedModel:
    """Load base + artifact as one customized model.

    With ``base=None`` the base named in the manifest is loaded. A given ``base`` must have the same
    content hash as the one the artifact was trained on; its model is copied, never modified.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    want = manifest["base"]
    if base is None:
        base = _load_recorded_base(want, device=device, trust_remote_code=trust_remote_code,
                                   allow_pickle=allow_pickle)
        model = base.model
    else:
        model = copy.deepcopy(base.model)
    if base.base_hash != want["hash"]:
        raise ModelError(
            f"artifact {folder} was trained on base '{want['id']}' (weights {want['hash'][:12]}), but the base "
            f"given is '{base.base_id}' (weights {base.base_hash[:12]})",
            hint=f"load it with --base {want['id']}, or retrain the artifact on this base")
    tokenizer = base.tokenizer
    if manifest.get("tokenizer", {}).get("extended"):
        model, tokenizer = _apply_vocab_extension(model, folder, int(want["vocab_size"]))
    strategy = get_strategy(manifest["strategy"])
    model = strategy.load_delta(model, folder)
    model.to(device or base.device)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, base_id=base.base_id, base_path=base.base_path,
                       base_hash=base.base_hash, is_seq2seq=base.is_seq2seq, arch=base.arch,
                       device=device or base.device,
                       extra={"artifact": str(folder), "manifest": manifest, "strategy": manifest["strategy"],
                              "task": manifest["task"], "project": manifest["project"]})


def _load_recorded_base(want: dict[str, Any], **kwargs: Any) -> LoadedModel:
    try:
        return load_base(want["id"], **kwargs)
    except ModelError:
        recorded = Path(want.get("path") or "")
        if want["id"] != "default" and (recorded / "config.json").is_file():
            return load_base(str(recorded), **kwargs)
        raise


def _apply_vocab_extension(model: Any, folder: Path, base_vocab: int) -> tuple[Any, Any]:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder / TOKENIZER_DIR))
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    rows = load_file(str(folder / ADDED_ROWS))
    with torch.no_grad():
        arch.input_embeddings(model).weight[base_vocab:].copy_(rows["input"])
        if "output" in rows:
            arch.output_embeddings(model).weight[base_vocab:].copy_(rows["output"])
    return model, tokenizer


def list_artifacts(project: str | None = None, store: str | os.PathLike[str] | None = None) -> list[ArtifactInfo]:
    """Every readable artifact in the store (optionally of one project), newest first."""
    root = Path(store or paths.store_dir())
    if not root.is_dir():
        return []
    projects = [root / project] if project else sorted(p for p in root.iterdir() if p.is_dir())
    found: list[ArtifactInfo] = []
    for proj in projects:
        for leftover in {p.parent for p in proj.glob("*/.*.*-*") if atomic.LEFTOVER.match(p.name)}:
            repair(leftover)
        for manifest in proj.glob(f"*/*/{MANIFEST}"):
            if any(part.startswith(".") for part in manifest.relative_to(root).parts):
                continue
            try:
                found.append(ArtifactInfo(manifest.parent, read_manifest(manifest.parent)))
            except ModelError:
                continue
    return sorted(found, key=lambda a: (a.created, str(a.path)), reverse=True)


def newest_artifact(project: str, task: str | None = None,
                    store: str | os.PathLike[str] | None = None) -> ArtifactInfo | None:
    """The most recently created artifact of ``project`` (optionally for one task), or ``None``."""
    for info in list_artifacts(project, store):
        if task is None or info.task == task:
            return info
    return None
