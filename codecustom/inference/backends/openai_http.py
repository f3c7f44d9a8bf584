"""A backend for any OpenAI-compatible ``/v1/completions`` server.

vLLM (``--enable-lora``: one base model and many project adapters, the adapter's name goes in the
``model`` field), llama.cpp's server and llama-cpp-python's, Ollama and TGI all speak it. Requests
stream (server-sent events) so that the engine's stop rules and cancellation apply while the server
decodes: once every sample hit a stop (or the caller's event is set) the connection is closed, which
these servers take as "abort this request". Prompts go out concurrently; samples a server will not
give in one request (some ignore ``n``) are asked for one by one with derived seeds.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from codecustom.errors import CodecustomError, UsageError
from codecustom.inference.params import STOP_CANCELLED, Generation, GenerationParams, earliest_stop

log = logging.getLogger(__name__)

_MAX_STOP_STRINGS = 4  # the OpenAI API's limit; the rest are applied on our side


def completions_url(url: str) -> str:
    """``http://host:port``, ``.../v1`` or ``.../v1/completions`` -> the completions endpoint."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"'{url}' is not an http(s) URL", hint="pass the server's address, e.g. http://127.0.0.1:8000/v1")
    path = parsed.path.rstrip("/")
    if path.endswith("/completions"):
        return url.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return parsed._replace(path=path + "/completions").geturl()


@dataclass
class _Sample:
    text: str = ""
    done: bool = False  # the server finished it or our stop rule matched
    finished: bool = False  # the server said why it ended (finish_reason)
    finish_reason: str | None = None
    parts: list[str] = field(default_factory=list)


class OpenAIBackend:
    """Generation on a remote (or local) OpenAI-compatible completion server.

    ``model`` is the served model's name — for vLLM with ``--enable-lora``, the LoRA adapter's name.
    ``api_key`` defaults to ``$OPENAI_API_KEY`` when set. ``timeout`` bounds each network read.
    """

    name = "openai"

    def __init__(self, url: str, model: str, api_key: str | None = None, *, timeout: float = 120.0,
                 max_concurrency: int = 4, stream: bool = True) -> None:
        if not model:
            raise UsageError("the OpenAI backend needs a model name", hint="pass the served model or adapter name")
        self.url = completions_url(url)
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.max_concurrency = max(1, max_concurrency)
        self.stream = stream
        self.tokenizer = None  # engines estimate budgets from characters unless given a tokenizer

    def generate(self, prompts: list[str], params: GenerationParams,
                 cancel: threading.Event | None = None) -> list[list[Generation]]:
        """``params.num_samples`` continuations per prompt; empty strings for what was cancelled."""
        if isinstance(prompts, str):
            raise UsageError("generate() takes a list of prompts, not a single string")
        if not prompts:
            return []
        if len(prompts) == 1:
            return [self._samples(prompts[0], params, cancel)]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(prompts))) as pool:
            return list(pool.map(lambda p: self._samples(p, params, cancel), prompts))

    # -- one prompt -------------------------------------------------------------------------------
    def _samples(self, prompt: str, params: GenerationParams, cancel: threading.Event | None) -> list[Generation]:
        wanted = params.num_samples if not params.greedy else 1
        got = self._request(prompt, params, wanted, params.seed, cancel)
        attempt = 0
        while len(got) < wanted and not (cancel is not None and cancel.is_set()):
            attempt += 1  # the server ignored n: ask for the rest one at a time
            seed = None if params.seed is None else params.seed + attempt
            got += self._request(prompt, params, 1, seed, cancel)[:1]
        if cancel is not None and cancel.is_set():
            return [Generation("", STOP_CANCELLED)] * params.num_samples
        # the server's finish_reason "length" means the token limit; anything else ended on its own
        texts = [params.finish(t, eos=why != "length", tokens=params.max_new_tokens if why == "length" else 0)
                 for t, why in got[:wanted]]
        return texts * params.num_samples if wanted == 1 else texts

    def _body(self, prompt: str, params: GenerationParams, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model, "prompt": prompt, "max_tokens": params.max_new_tokens,
            "temperature": params.temperature, "n": n, "stream": self.stream,
        }
        if not params.greedy:
            body["top_p"] = params.top_p
            if seed is not None:
                body["seed"] = seed
        if params.stop:
            body["stop"] = list(params.stop[:_MAX_STOP_STRINGS])
        return body

    def _request(self, prompt: str, params: GenerationParams, n: int, seed: int | None,
                 cancel: threading.Event | None) -> list[tuple[str, str | None]]:
        if cancel is not None and cancel.is_set():
            return [("", None)] * n
        data = json.dumps(self._body(prompt, params, n, seed)).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if self.stream else "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from None
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CodecustomError(f"cannot reach the completion server at {self.url}: {reason}",
                                  hint="start the server (see 'codecustom export' for the command) or fix the URL") from None
        with response:
            if not self.stream:
                return self._read_whole(response, n)
            return self._read_stream(response, params, n, cancel)

    def _read_whole(self, response: Any, n: int) -> list[tuple[str, str | None]]:
        payload = _json(response.read(), self.url)
        texts: list[tuple[str, str | None]] = [("", None)] * n
        for choice in payload.get("choices", []):
            i = int(choice.get("index", 0))
            if 0 <= i < n:
                texts[i] = (choice.get("text") or "", choice.get("finish_reason"))
        return texts[: max(1, len(payload.get("choices", [])))]

    def _read_stream(self, response: Any, params: GenerationParams, n: int,
                     cancel: threading.Event | None) -> list[tuple[str, str | None]]:
        samples = [_Sample() for _ in range(n)]
        seen: set[int] = set()
        try:
            for raw in response:
                if cancel is not None and cancel.is_set():
                    break  # leaving closes the connection: the server aborts the request
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = _json(data.encode(), self.url)
                if "error" in chunk:
                    raise CodecustomError(f"the completion server reported an error: {_message(chunk)}")
                for choice in chunk.get("choices", []):
                    i = int(choice.get("index", 0))
                    if not 0 <= i < n:
                        continue
                    seen.add(i)
                    s = samples[i]
                    if s.done:
                        continue
                    s.parts.append(choice.get("text") or "")
                    s.text = "".join(s.parts)
                    s.finish_reason = choice.get("finish_reason") or s.finish_reason
                    s.finished = bool(s.finish_reason)
                    if s.finished or earliest_stop(s.text, params.stop, params.stop_rule) is not None:
                        s.done = True
                if all(s.done for s in samples):
                    break  # every sample is over: stop the server decoding
        except (socket.timeout, TimeoutError):
            raise CodecustomError(f"the completion server at {self.url} stopped answering for {self.timeout:.0f} s",
                                  hint="check the server's log, or raise the timeout") from None
        count = max(seen) + 1 if seen else 1
        cancelled = cancel is not None and cancel.is_set()
        if not cancelled and any(not s.done for s in samples[:count]):
            # every OpenAI-compatible server ends a choice with a finish_reason; a stream that stops
            # without one was cut off (llama-cpp-python interrupts a request when another arrives)
            raise CodecustomError(f"the completion server at {self.url} ended a stream before the answer was "
                                  "finished", hint="another request may have interrupted it: use max_concurrency=1, "
                                  "or start llama-cpp-python's server with --interrupt_requests false")
        return [(s.text, s.finish_reason) for s in samples[:count]]

    def _http_error(self, exc: urllib.error.HTTPError) -> CodecustomError:
        try:
            detail = _message(json.loads(exc.read() or b"{}"))
        except (ValueError, OSError):
            detail = exc.reason
        hint = None
        if exc.code == 404 or "model" in str(detail).lower():
            hint = f"is '{self.model}' the name the server serves (for vLLM with LoRA: the adapter name)?"
        elif exc.code in (401, 403):
            hint = "set the API key (OPENAI_API_KEY or --api-key)"
        return CodecustomError(f"the completion server at {self.url} answered {exc.code}: {detail}", hint=hint)


def _json(data: bytes, url: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise CodecustomError(f"the server at {url} did not answer with JSON: {data[:120]!r}",
                              hint="is this an OpenAI-compatible /v1/completions endpoint?") from None
    if not isinstance(value, dict):
        raise CodecustomError(f"the server at {url} answered with unexpected JSON: {str(value)[:120]}")
    return value


def _message(payload: dict[str, Any]) -> str:
    err = payload.get("error", payload.get("detail", payload))
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err)
