"""Test generation from the editor: a code action on a function and ``codecustom.generateTests``.

The function under the cursor is found with the miner's extractor on the editor's text (unsaved
edits included) and described with the miner's focal context, the same text the model was
customized on. The model writes candidates on the inference worker; the evaluation stage's ladder
keeps those that build and pass (when the workspace can run them) in a temp copy of the repo, and
places them into the right test file. The answer is a WorkspaceEdit into that file (created if
needed), also applied through ``workspace/applyEdit``; nothing is written by the server itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.uris import from_fs_path, to_fs_path

from .documents import language_of, open_document
from .edits import file_edit
from .worker import Job

log = logging.getLogger(__name__)

COMMAND = "codecustom.generateTests"
ACTION_KIND = "refactor.codecustom.generateTests"


class RequestFailed(JsonRpcException):
    """LSP RequestFailed (-32803): the request was valid but could not be done."""

    code = types.LSPErrorCodes.RequestFailed


@dataclass
class Focal:
    """The function to test, with its focal context."""

    language: str
    rel_path: str  # posix path relative to the workspace root
    name: str
    class_name: str | None
    start_line: int  # 1-based, inclusive
    end_line: int
    contexts: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name


def relative_path(root: Path | None, path: str) -> str:
    """``path`` relative to ``root`` (posix); the file name when it lies outside the workspace."""
    p = Path(path)
    if root is not None:
        try:
            return p.resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return p.name


def find_focal(root: Path | None, path: str, text: str, line: int) -> Focal | None:
    """The innermost non-test function or method around 0-based ``line`` of ``text`` (None if none).

    Only languages whose miner builds focal contexts (test generation needs one) are supported.
    """
    from codecustom.mining.index import CodeIndex
    from codecustom.mining.registry import language_for_path

    rel = relative_path(root, path)
    spec = language_for_path(rel)
    if spec is None or spec.context is None:
        return None
    src = text.encode("utf-8")
    facts = spec.make_extractor().extract(rel, src, is_test_file=spec.is_test_path(rel))
    around = [m for m in facts.methods
              if m.start_line <= line + 1 <= m.end_line and not m.is_test and not m.is_fixture]
    if facts.is_test_file or not around:
        return None
    focal = max(around, key=lambda m: m.start_line)
    index = CodeIndex()
    n = len(facts.methods)
    index.add(facts, list(range(n)), [0] * n, [f"{rel}::{m.class_name or ''}::{m.name}@{m.start_line}"
                                               for m in facts.methods])
    ref = index.methods_by_ordinal[facts.methods.index(focal)]
    contexts = spec.context().build(ref, focal.body, index)
    return Focal(spec.name, rel, focal.name, focal.class_name, focal.start_line, focal.end_line, contexts)


def _parse_arguments(args: tuple[Any, ...]) -> tuple[str, types.Position]:
    """Accept ``[uri, position]`` or ``[{"textDocument": {"uri"}, "position"}]``."""
    try:
        if len(args) == 1 and isinstance(args[0], dict):
            uri, pos = args[0]["textDocument"]["uri"], args[0]["position"]
        elif len(args) == 2:
            uri, pos = args
        else:
            raise ValueError
        if not isinstance(uri, str) or not isinstance(pos, dict):
            raise ValueError
        line, character = pos["line"], pos["character"]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (line, character)):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise JsonRpcInvalidParams(
            f"{COMMAND} takes [uri, {{line, character}}] or [{{textDocument: {{uri}}, position}}], "
            f"got {list(args)!r}"[:300]) from None
    return uri, types.Position(line=line, character=character)


def _document_text(ls: Any, uri: str) -> tuple[str, str, int | None, str | None]:
    """(path, text, version, language) of an open document, or of the file on disk."""
    doc = ls.workspace.text_documents.get(uri) or ls.workspace.text_documents.get(_unquote(uri))
    if doc is not None:
        return doc.path, doc.source, doc.version, language_of(doc)
    path = to_fs_path(uri)
    if not path or not Path(path).is_file():
        raise JsonRpcInvalidParams(f"document {uri} is neither open nor a file on disk")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JsonRpcInvalidParams(f"cannot read {path}: {exc}") from None
    return path, text, None, None


def _unquote(uri: str) -> str:
    from urllib.parse import unquote

    return unquote(uri)


def _open_texts(ls: Any, root: Path) -> dict[str, str]:
    """Unsaved editor text of open documents inside the workspace, by relative path."""
    out: dict[str, str] = {}
    for doc in list(ls.workspace.text_documents.values()):
        if not doc.path:
            continue
        try:
            rel = Path(doc.path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        out[rel] = doc.source
    return out


def _generate(served: Any, focal: Focal, settings: Any, cancel: Any) -> list[str]:
    """Worker thread: candidate tests from the model (deduplicated, empty ones dropped)."""
    from codecustom.data.tests_task import pick_context

    context = pick_context(focal.contexts, _context_level(served))
    n = settings.test_samples
    temperature = settings.test_temperature if n > 1 else 0.0
    candidates = served.tests.generate(context, language=focal.language, n=n, temperature=temperature, cancel=cancel)
    seen: dict[str, None] = {}
    for c in candidates:
        if c.strip():
            seen.setdefault(c, None)
    return list(seen)


def _context_level(served: Any) -> str:
    from codecustom.data.tests_task import DEFAULT_CONTEXT_LEVEL

    return (served.info.get("context_level") or DEFAULT_CONTEXT_LEVEL) if served else DEFAULT_CONTEXT_LEVEL


@dataclass
class Plan:
    """Where the kept tests go and the test file before/after."""

    test_file: str  # relative to the root
    old_text: str | None  # None: the file does not exist yet
    new_text: str
    kept: int
    candidates: int
    validated: bool  # candidates were run (else only placed)
    note: str  # why validation was or was not done, ladder counts


def plan_tests(root: Path, focal: Focal, candidates: list[str], *, overlay: dict[str, str],
               validate: bool) -> Plan:
    """Keep the candidates that build and pass (when runnable) and place them; runs in a thread."""
    from codecustom.evaluation.execution import TestTarget, Workspace, get_ladder

    target = TestTarget(language=focal.language, focal_path=focal.rel_path, focal_name=focal.name,
                        focal_class=focal.class_name, focal_start=focal.start_line, focal_end=focal.end_line)
    with Workspace.from_tree(root) as ws:
        for rel, text in overlay.items():  # the editor's unsaved text wins over the disk
            dest = ws.pristine / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
        ladder = get_ladder(focal.language)
        level, why = ladder.availability(ws) if ladder is not None else ("none", f"no ladder for {focal.language}")
        run = validate and level == "run"
        kept = 0
        test_file: str | None = None
        old_text: str | None = None
        counts = {"built": 0, "passed": 0}
        for code in candidates:
            if test_file is not None:
                target = dataclasses.replace(target, test_path=test_file)
            if run:
                outcome = ladder.evaluate(ws, target, code)
                counts["built"] += outcome.built
                counts["passed"] += outcome.passed
                if not (outcome.passed and outcome.covered is not False and outcome.test_source):
                    continue
                placed_file, placed_source = outcome.test_file, outcome.test_source
            else:
                placed_file, placed_source = _place_only(ws.pristine, target, code)
                if placed_file is None:
                    continue
                counts["built"] += 1
            if test_file is None:
                test_file = placed_file
                original = ws.pristine / placed_file
                old_text = original.read_text(encoding="utf-8") if original.is_file() else None
            dest = ws.pristine / placed_file
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(placed_source, encoding="utf-8")  # the next candidate lands after this one
            kept += 1
        if test_file is None:
            return Plan("", None, "", 0, len(candidates), run, _note(run, why, counts, len(candidates)))
        new_text = (ws.pristine / test_file).read_text(encoding="utf-8")
    return Plan(test_file, old_text, new_text, kept, len(candidates), run, _note(run, why, counts, len(candidates)))


def _place_only(root: Path, target: Any, code: str) -> tuple[str | None, str]:
    """Place without running (the workspace cannot run tests): drop code that does not parse."""
    import importlib

    try:
        module = importlib.import_module(f"codecustom.evaluation.execution.{target.language}")
        placement = module.place(root, target, code)
    except (ImportError, AttributeError):
        return None, ""
    except ValueError as exc:  # PlacementError: it does not build
        log.info("candidate dropped: %s", exc)
        return None, ""
    return placement.test_file, placement.source


def _note(run: bool, why: str, counts: dict[str, int], total: int) -> str:
    if run:
        return f"{counts['passed']}/{total} candidates built and passed ({why})"
    return f"not run: {why}; {counts['built']}/{total} candidates parse"


def register(server: Any) -> None:
    """Register the code action and the generateTests command on ``server``."""

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.Refactor], resolve_provider=False))
    async def on_code_action(ls: Any, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        only = params.context.only if params.context else None
        if only and not any(ACTION_KIND.startswith(str(kind)) for kind in only):
            return []
        doc = open_document(ls.workspace, params.text_document.uri)
        line = params.range.start.line
        focal = await asyncio.get_running_loop().run_in_executor(
            None, find_focal, ls.root, doc.path or doc.uri, doc.source, line)
        if focal is None:
            return []
        arguments = [params.text_document.uri, {"line": params.range.start.line,
                                                "character": params.range.start.character}]
        return [types.CodeAction(title=f"codecustom: generate tests for {focal.title}", kind=ACTION_KIND,
                                 command=types.Command(title="Generate tests", command=COMMAND, arguments=arguments))]

    @server.command(COMMAND)
    async def generate_tests(ls: Any, *args: Any) -> types.WorkspaceEdit | None:
        uri, position = _parse_arguments(args)
        path, text, _version, _language = _document_text(ls, uri)
        if position.line > text.count("\n"):
            raise JsonRpcInvalidParams(f"line {position.line} is outside {uri}")
        root = ls.root or Path(path).parent
        loop = asyncio.get_running_loop()
        focal = await loop.run_in_executor(None, find_focal, root, path, text, position.line)
        if focal is None:
            raise RequestFailed(f"no function or method to test at {Path(path).name}:{position.line + 1} "
                                "(put the cursor inside a non-test Python or Java function)")
        served = ls.models.served
        if served is None:
            ls.show(f"the model is still {ls.models.state.value}; try again when it is ready",
                    types.MessageType.Warning)
            return None
        settings = ls.settings()
        ticket = ls.tracker.open_ticket(uri, "tests", supersede=False)
        progress = await ls.begin_progress(f"codecustom: tests for {focal.title}", "generating candidates")
        started = time.perf_counter()
        try:
            job = Job(lambda cancel: _generate(served, focal, settings, cancel), droppable=False, cancel=ticket.cancel,
                      label=f"tests {focal.rel_path}::{focal.title}")
            ls.worker.submit(job)
            candidates = await asyncio.wrap_future(job.future)
            if not candidates:
                ls.show(f"the model wrote no test for {focal.title}", types.MessageType.Warning)
                return None
            progress.report(f"checking {len(candidates)} candidates", 50)
            plan = await loop.run_in_executor(None, lambda: plan_tests(
                Path(root), focal, candidates, overlay=_open_texts(ls, Path(root)), validate=settings.validate_tests))
        except asyncio.CancelledError:
            ticket.cancel.set()
            raise
        finally:
            ls.tracker.close_ticket(ticket)
            progress.end()
        log.info("tests for %s: kept %d of %d (%s) in %.1fs", focal.title, plan.kept, plan.candidates, plan.note,
                 time.perf_counter() - started)
        if not plan.kept:
            ls.show(f"no generated test for {focal.title} was kept: {plan.note}", types.MessageType.Warning)
            return None
        target_path = Path(root) / plan.test_file
        target_uri = from_fs_path(str(target_path)) or target_path.as_uri()
        open_doc = ls.workspace.text_documents.get(_unquote(target_uri))
        edit = file_edit(target_uri, plan.old_text, plan.new_text,
                         version=open_doc.version if open_doc is not None else None,
                         capabilities=ls.client_capabilities, codec=ls.workspace.position_codec)
        ls.show(f"{plan.kept} test(s) for {focal.title} → {plan.test_file} ({plan.note})", types.MessageType.Info)
        caps = ls.client_capabilities
        if settings.apply_test_edits and caps and caps.workspace and caps.workspace.apply_edit:
            result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
                edit=edit, label=f"codecustom: tests for {focal.title}"))
            if result is not None and not result.applied:
                log.warning("client did not apply the test edit: %s", result.failure_reason)
        return edit
