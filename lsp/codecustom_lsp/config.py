"""Server settings and model choice, merged from defaults, ``.codecustom.toml``, initializationOptions
and ``workspace/didChangeConfiguration`` (later sources win).

``.codecustom.toml`` in the workspace root::

    [model]
    base = "path/or/hub-id"       # default: the shipped model
    artifact = "path/to/artifact"  # or "none"; default: newest artifact of this project in the store
    device = "cpu"

    [lsp]
    debounce_ms = 150
    max_new_tokens = 48

initializationOptions and didChangeConfiguration take the same keys as JSON: ``{"model": {...},
"lsp": {...}}``; for didChangeConfiguration they may sit under a ``codecustom`` section, and
flat setting keys (``{"debounce_ms": 200}``) are accepted too. A backend ``url`` from the editor must
point at this machine unless ``.codecustom.toml`` names that same URL: an editor setting must not
send the code being typed to another host.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from codecustom.errors import UsageError

CONFIG_FILE = ".codecustom.toml"
MULTILINE_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class ModelChoice:
    """Which model serves the workspace."""

    base: str | None = None  # None: the shipped default model
    artifact: str | None = None  # None: newest artifact for the project; "none": base only
    tests_artifact: str | None = None  # model for test generation; None: newest tests artifact, else `artifact`
    device: str | None = None  # None: cuda when available, else cpu
    # torch intra-op threads on CPU. One by default: beside other busy processes (builds, tests, the editor)
    # more threads wait on each other at every matrix product (scripts/bench_lsp.py --load 2: p95 3.7 s
    # with 2 threads vs 0.36 s with 1 on a loaded 2-core machine); raise it on an idle many-core machine.
    threads: int | None = 1
    # where generation runs: "in-process" (default) or "openai" = any OpenAI-compatible /v1/completions
    # server (vLLM, llama.cpp, Ollama, TGI: see `codecustom export`); `base` then names the tokenizer
    backend: str = "in-process"
    url: str | None = None  # openai backend: e.g. http://127.0.0.1:8080/v1
    server_model: str | None = None  # openai backend: the model (or LoRA adapter) name the server knows
    api_key: str | None = None

    @property
    def wants_artifact(self) -> bool:
        return (self.artifact or "").lower() not in {"none", "base", "off"}


@dataclass(frozen=True)
class Settings:
    """Behaviour knobs a user may change at run time."""

    debounce_ms: int = 150  # wait before answering an automatic trigger; none for manual ones
    max_new_tokens: int = 96  # most tokens decoded for a multi-line suggestion (stops at the block end)
    max_new_tokens_line: int = 32  # most tokens decoded for a single-line suggestion (stops at newline)
    # FIM prompt budget: on a 2-core CPU prefill dominates latency (shipped model: p50 ~300 ms at 1024, ~165 at 512)
    max_prompt_tokens: int = 512
    multiline: str = "auto"  # auto (by context) | always | never
    completion: bool = True  # answer textDocument/completion
    inline_completion: bool = True  # answer textDocument/inlineCompletion
    cache_size: int = 512  # LRU entries
    queue_size: int = 16  # pending inference jobs before the oldest completion is dropped
    test_samples: int = 4  # candidate tests per generateTests
    test_temperature: float = 0.6  # sampling temperature when test_samples > 1
    validate_tests: bool = True  # run candidates and keep those that build and pass (when runnable)
    apply_test_edits: bool = True  # send workspace/applyEdit for generateTests (besides returning it)
    status: bool = True  # send codecustom/status notifications

    def checked(self) -> Settings:
        """Return self after validating ranges; raises UsageError naming the bad key."""
        if not 0 <= self.debounce_ms <= 10_000:
            raise UsageError(f"debounce_ms={self.debounce_ms} is out of range", hint="use 0..10000")
        for name in ("max_new_tokens", "max_new_tokens_line"):
            if not 1 <= getattr(self, name) <= 2048:
                raise UsageError(f"{name}={getattr(self, name)} is out of range", hint="use 1..2048")
        if not 64 <= self.max_prompt_tokens <= 32_768:
            raise UsageError(f"max_prompt_tokens={self.max_prompt_tokens} is out of range", hint="use 64..32768")
        if self.multiline not in MULTILINE_MODES:
            raise UsageError(f"multiline={self.multiline!r} is not one of {', '.join(MULTILINE_MODES)}")
        if not 1 <= self.cache_size <= 100_000:
            raise UsageError(f"cache_size={self.cache_size} is out of range", hint="use 1..100000")
        if not 1 <= self.queue_size <= 1024:
            raise UsageError(f"queue_size={self.queue_size} is out of range", hint="use 1..1024")
        if not 1 <= self.test_samples <= 64:
            raise UsageError(f"test_samples={self.test_samples} is out of range", hint="use 1..64")
        if not 0.0 <= self.test_temperature <= 5.0:
            raise UsageError(f"test_temperature={self.test_temperature} is out of range", hint="use 0..5")
        return self


@dataclass
class ServerConfig:
    """Everything the server was told, plus the warnings produced while reading it."""

    model: ModelChoice = field(default_factory=ModelChoice)
    settings: Settings = field(default_factory=Settings)
    warnings: list[str] = field(default_factory=list)
    trusted_url: str | None = None  # the backend URL the workspace file names (any host allowed)


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Convert ``value`` to the type of ``default`` (None defaults accept str/int)."""
    if name == "threads" and value is None:
        return None  # torch's own choice (one per core)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise UsageError(f"setting {name} must be true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UsageError(f"setting {name} must be an integer, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"setting {name} must be an integer, got {value!r}") from None
        if number != int(number):
            raise UsageError(f"setting {name} must be an integer, got {value!r}")
        return int(number)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UsageError(f"setting {name} must be a number, got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"setting {name} must be a number, got {value!r}") from None
    if value is None:
        return None
    if name == "threads":
        return _coerce(name, value, 0)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise UsageError(f"setting {name} must be a string, got {value!r}")
    return str(value)


def _update(obj: Any, values: dict[str, Any], section: str, warnings: list[str]) -> Any:
    """A copy of dataclass ``obj`` with ``values`` applied; unknown or bad keys become warnings."""
    known = {f.name: getattr(obj, f.name) for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        # accept camelCase from JSON clients (debounceMs -> debounce_ms)
        name = "".join("_" + c.lower() if c.isupper() else c for c in name)
        if name not in known:
            warnings.append(f"unknown {section} setting '{key}' ignored (known: {', '.join(sorted(known))})")
            continue
        try:
            changes[name] = _coerce(name, value, known[name])
        except UsageError as exc:
            warnings.append(f"{exc.one_line()}; kept {known[name]!r}")
    if not changes:
        return obj
    candidate = dataclasses.replace(obj, **changes)
    if isinstance(candidate, Settings):
        try:
            candidate.checked()
        except UsageError as exc:
            warnings.append(f"{exc.one_line()}; {section} settings unchanged")
            return obj
    return candidate


def apply(config: ServerConfig, data: Any, *, source: str) -> ServerConfig:
    """Merge one settings payload (``{"model": {...}, "lsp": {...}}`` or flat keys) into ``config``."""
    warnings: list[str] = []
    model, settings = config.model, config.settings
    if data is None:
        return config
    if not isinstance(data, dict):
        warnings.append(f"{source}: settings must be an object, got {type(data).__name__}; ignored")
        return ServerConfig(model, settings, config.warnings + warnings, config.trusted_url)
    if isinstance(data.get("codecustom"), dict):  # didChangeConfiguration: {"codecustom": {...}}
        data = data["codecustom"]
    flat = {k: v for k, v in data.items() if k not in {"model", "lsp"}}
    model_keys = {f.name for f in fields(ModelChoice)}
    model_flat = {k: v for k, v in flat.items() if k in model_keys}
    settings_flat = {k: v for k, v in flat.items() if k not in model_keys}
    for part, values in (("model", data.get("model")), ("model", model_flat)):
        if values is None or values == {}:
            continue
        if not isinstance(values, dict):
            warnings.append(f"{source}: [{part}] must be a table/object; ignored")
            continue
        model = _update(model, values, f"{source} model", warnings)
    trusted = config.trusted_url
    if source == CONFIG_FILE:
        trusted = model.url
    elif model.url != config.model.url and model.url and not is_loopback_url(model.url) and model.url != trusted:
        # an editor setting (possibly from a project's own editor config) must not send code elsewhere
        warnings.append(f"{source}: backend url {model.url} is not on this machine; ignored "
                        f"(name it as [model] url in {CONFIG_FILE} to use it)")
        model = dataclasses.replace(model, url=config.model.url)
    for values in (data.get("lsp"), settings_flat):
        if values is None or values == {}:
            continue
        if not isinstance(values, dict):
            warnings.append(f"{source}: [lsp] must be a table/object; ignored")
            continue
        settings = _update(settings, values, f"{source} lsp", warnings)
    return ServerConfig(model, settings, config.warnings + warnings, trusted)


def read_workspace_file(root: Path | None) -> dict[str, Any] | None:
    """Parse ``<root>/.codecustom.toml``; a broken file raises UsageError with the parser's message."""
    if root is None:
        return None
    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", hint="fix or delete the file") from exc
    # relative model paths in the file are relative to the workspace root
    model = data.get("model")
    if isinstance(model, dict):
        for key in ("base", "artifact", "tests_artifact"):
            value = model.get(key)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                candidate = Path(root) / value
                if candidate.exists():
                    model[key] = str(candidate.resolve())
    return data


def load(root: Path | None, init_options: Any) -> ServerConfig:
    """Defaults, then ``.codecustom.toml`` in ``root``, then initializationOptions."""
    config = ServerConfig()
    try:
        config = apply(config, read_workspace_file(root), source=CONFIG_FILE)
    except UsageError as exc:
        config.warnings.append(exc.one_line())
    return apply(config, init_options, source="initializationOptions")
