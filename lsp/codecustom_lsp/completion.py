"""``textDocument/completion`` and ``textDocument/inlineCompletion`` from the workspace's model.

Flow of one request (event loop): register a ticket on the document (a newer version or a newer
automatic request on the same document makes it stale), debounce automatic triggers, answer
empty while the model loads, ask the cache (exact or typed-through), else queue a decode on the
inference worker with the ticket's cancel event, and turn the engine's completion into LSP items.
Prompt building, gating and post-filters are the engine's (codecustom.inference).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from .documents import Snapshot, Ticket, snapshot
from .worker import Job

log = logging.getLogger(__name__)

_WORD_TAIL = re.compile(r"[A-Za-z0-9_$]*\Z")

# Text handed to the engine around the cursor. The engine keeps at most its token budget (1,024 by
# default, about 4,000 characters of code) and tokenizes every line it is given to find the cut, so
# passing a window several times the budget gives the same prompt at a fraction of the cost on big files.
CONTEXT_PREFIX_CHARS = 16_384
CONTEXT_SUFFIX_CHARS = 8_192


def context_window(prefix: str, suffix: str) -> tuple[str, str]:
    """The prefix's end and the suffix's start, cut on line boundaries."""
    if len(prefix) > CONTEXT_PREFIX_CHARS:
        start = len(prefix) - CONTEXT_PREFIX_CHARS
        newline = prefix.find("\n", start)
        prefix = prefix[newline + 1:] if 0 <= newline < len(prefix) - 1 else prefix[start:]
    if len(suffix) > CONTEXT_SUFFIX_CHARS:
        newline = suffix.rfind("\n", 0, CONTEXT_SUFFIX_CHARS)
        suffix = suffix[: newline + 1] if newline > 0 else suffix[:CONTEXT_SUFFIX_CHARS]
    return prefix, suffix


@dataclass
class Suggestion:
    """A completion for one snapshot: ``text`` goes at the cursor."""

    snap: Snapshot
    text: str
    cached: bool
    model_ms: float | None


def _is_automatic(kind: str, context: Any) -> bool:
    if context is None:
        return False  # no context: treat as an explicit request
    if kind == "inline":
        return context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
    return context.trigger_kind != types.CompletionTriggerKind.Invoked


def _namespace(ls: Any, snap: Snapshot, multiline: bool | None) -> str:
    info = ls.models.served.info if ls.models.served else {}
    settings = ls.settings()
    return (f"{info.get('model')}|{info.get('artifact')}|{snap.language}|{multiline}|"
            f"{settings.max_new_tokens}|{settings.max_new_tokens_line}")


def _multiline_setting(ls: Any) -> bool | None:
    return {"auto": None, "always": True, "never": False}[ls.settings().multiline]


def _gate(snap: Snapshot) -> Any:
    """The engine's cursor analysis (mid-identifier, single- vs multi-line); runs off the event loop."""
    from codecustom.inference import analyze

    return analyze(snap.prefix, snap.suffix, snap.language)


def _decode(ls: Any, served: Any, snap: Snapshot, settings: Any, multiline: bool, cancel: Any) -> tuple[str, float]:
    """Worker thread: one engine call; returns (text, model milliseconds)."""
    started = time.perf_counter()
    max_new = settings.max_new_tokens if multiline else settings.max_new_tokens_line
    prefix, suffix = context_window(snap.prefix, snap.suffix)
    result = served.completion.complete(prefix, suffix, language=snap.language,
                                        max_new_tokens=max_new, multiline=multiline, cancel=cancel,
                                        max_prompt_tokens=settings.max_prompt_tokens)
    if result.stop_reason == "cancelled":
        ls.stats["decodesStopped"] += 1  # only this thread writes the key
    return (result.text or ""), (time.perf_counter() - started) * 1000


async def suggest(ls: Any, uri: str, position: types.Position, *, kind: str, automatic: bool,
                  replace: tuple[types.Range, str] | None = None) -> Suggestion | None:
    """The suggestion at ``position``, or None (stale, not ready, gated out, nothing to add)."""
    snapshot(ls.workspace, uri, position)  # bad params (unknown document, bad position) fail fast
    ticket: Ticket = ls.tracker.open_ticket(uri, kind, supersede=automatic)
    ls.stats["requests"] += 1
    started = time.perf_counter()
    try:
        if automatic and ls.settings().debounce_ms > 0:
            await asyncio.sleep(ls.settings().debounce_ms / 1000)
        if ticket.stale:
            ls.stats["stale"] += 1
            return None
        served = ls.models.served
        if served is None:
            return None  # still loading (or failed): an empty answer, never an error
        snap = snapshot(ls.workspace, uri, position)
        if replace is not None:  # inline completion extending the selected completion item
            snap = _with_replacement(ls, snap, *replace)
        gate = await asyncio.get_running_loop().run_in_executor(None, _gate, snap)
        if not gate.should_complete:
            ls.stats["gated"] += 1
            log.debug("no completion at %s:%d: %s", uri, position.line, gate.reason)
            return None
        forced = _multiline_setting(ls)
        multiline = gate.multiline if forced is None else forced
        namespace = _namespace(ls, snap, multiline)
        hit = ls.cache.get(namespace, snap.prefix, snap.suffix)
        if hit is not None:
            ls.stats["cacheHits"] += 1
            ls.record_latency((time.perf_counter() - started) * 1000, None)
            return Suggestion(snap, hit.text, True, None) if hit.text else None
        settings = ls.settings()
        job = Job(lambda cancel: _decode(ls, served, snap, settings, multiline, cancel), droppable=True,
                  cancel=ticket.cancel, label=f"{kind} {uri}:{position.line}:{position.character}")
        ls.worker.submit(job)
        outcome = await asyncio.wrap_future(job.future)
        if outcome is None or ticket.cancel.is_set():
            ls.stats["stale" if ticket.stale else "empty"] += 1
            return None
        text, model_ms = outcome
        ls.cache.put(namespace, snap.prefix, snap.suffix, text)
        ls.record_latency((time.perf_counter() - started) * 1000, model_ms)
        if not text:
            ls.stats["empty"] += 1
            return None
        ls.stats["served"] += 1
        return Suggestion(snap, text, False, model_ms)
    except asyncio.CancelledError:
        ticket.cancel.set()  # $/cancelRequest: stop the decode too
        ls.stats["cancelled"] += 1
        raise
    finally:
        ls.tracker.close_ticket(ticket)


def _with_replacement(ls: Any, snap: Snapshot, rng: types.Range, text: str) -> Snapshot:
    """The snapshot as if the selected completion item's text replaced ``rng``."""
    start = snapshot(ls.workspace, snap.uri, rng.start).offset
    end = snapshot(ls.workspace, snap.uri, rng.end).offset
    if not start <= end <= len(snap.text):
        return snap
    new_text = snap.text[:start] + text + snap.text[end:]
    return Snapshot(snap.uri, snap.version, snap.language, snap.path, new_text, start + len(text))


def _client_position(ls: Any, snap: Snapshot, offset: int) -> types.Position:
    """Client-unit position of a code-point offset in the snapshot's text."""
    line = snap.text.count("\n", 0, offset)
    line_start = snap.text.rfind("\n", 0, offset) + 1
    line_end = snap.text.find("\n", line_start)
    line_text = snap.text[line_start: len(snap.text) if line_end < 0 else line_end + 1]
    codec: PositionCodec = ls.workspace.position_codec
    lines = [""] * line + [line_text]
    return codec.position_to_client_units(lines, ServerTextPosition(line, offset - line_start))


def completion_item(ls: Any, suggestion: Suggestion) -> types.CompletionItem:
    """One item whose edit keeps the word being typed and appends the suggestion."""
    snap = suggestion.snap
    line_start = snap.text.rfind("\n", 0, snap.offset) + 1
    word = _WORD_TAIL.search(snap.text, line_start, snap.offset).group(0)  # type: ignore[union-attr]
    start = _client_position(ls, snap, snap.offset - len(word))
    end = _client_position(ls, snap, snap.offset)
    new_text = word + suggestion.text
    first_line = new_text.split("\n", 1)[0].strip() or new_text.strip().split("\n", 1)[0]
    label = first_line[:80] + (" …" if "\n" in new_text.strip() or len(first_line) > 80 else "")
    info = ls.models.served.info if ls.models.served else {}
    source = info.get("strategy") or "base"
    lang = snap.language or ""
    return types.CompletionItem(
        label=label or suggestion.text,
        kind=types.CompletionItemKind.Snippet,
        detail=f"codecustom ({source})",
        documentation=_documentation(ls, lang, new_text),
        filter_text=new_text,
        sort_text="0",
        preselect=True,
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text),
    )


def _documentation(ls: Any, language: str, text: str) -> types.MarkupContent | str:
    """The whole suggestion, as a markdown code block when the client renders markdown."""
    caps = ls.client_capabilities
    completion = caps.text_document.completion if caps and caps.text_document else None
    item = completion.completion_item if completion else None
    formats = (item.documentation_format or []) if item else []
    if types.MarkupKind.Markdown in formats:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```{language}\n{text}\n```")
    return text


def register(server: Any) -> None:
    """Register completion and inline completion handlers on ``server``."""

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def on_completion(ls: Any, params: types.CompletionParams) -> types.CompletionList | None:
        if not ls.settings().completion:
            return types.CompletionList(is_incomplete=False, items=[])
        automatic = _is_automatic("completion", params.context)
        suggestion = await suggest(ls, params.text_document.uri, params.position, kind="completion",
                                   automatic=automatic)
        items = [completion_item(ls, suggestion)] if suggestion else []
        # incomplete: typing more changes the answer, so clients ask again (the cache makes that cheap)
        return types.CompletionList(is_incomplete=True, items=items)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def on_inline(ls: Any, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        if not ls.settings().inline_completion:
            return types.InlineCompletionList(items=[])
        context = params.context
        automatic = _is_automatic("inline", context)
        selected = context.selected_completion_info if context else None
        replace = (selected.range, selected.text) if selected else None
        suggestion = await suggest(ls, params.text_document.uri, params.position, kind="inline",
                                   automatic=automatic, replace=replace)
        if suggestion is None:
            return types.InlineCompletionList(items=[])
        if selected is not None:
            # replace the selected item's range with its text followed by our continuation
            item = types.InlineCompletionItem(insert_text=selected.text + suggestion.text, range=selected.range)
        else:
            here = _client_position(ls, suggestion.snap, suggestion.snap.offset)
            item = types.InlineCompletionItem(insert_text=suggestion.text, range=types.Range(start=here, end=here))
        return types.InlineCompletionList(items=[item])
