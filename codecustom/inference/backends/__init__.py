"""Backends: where generation runs. A registry keyed by the names users pass on the command line."""

from __future__ import annotations

from typing import Any

from codecustom.errors import UsageError


def in_process(loaded: Any, **options: Any) -> Any:
    """The default backend: the model in this process."""
    from codecustom.inference.backends.in_process import InProcessBackend

    return InProcessBackend(loaded, **options)


def openai_http(url: str, model: str, **options: Any) -> Any:
    """Any OpenAI-compatible ``/v1/completions`` server (vLLM, llama.cpp server, Ollama, TGI)."""
    from codecustom.inference.backends.openai_http import OpenAIBackend

    return OpenAIBackend(url, model, **options)


BACKENDS = {"in-process": in_process, "openai": openai_http}


def get_backend_factory(name: str) -> Any:
    """The factory registered as ``name``."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UsageError(f"unknown backend '{name}'", hint=f"choose one of: {', '.join(BACKENDS)}") from None
