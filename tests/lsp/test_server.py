"""End to end through pytest-lsp: `codecustom lsp` in a subprocess serving the fixture repo's
customized artifact (found as the project's newest artifact in the store)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp.client import make_test_lsp_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Hand-written capabilities of an LSP 3.18 client (pytest-lsp's presets predate inline completion).
CAPABILITIES = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(
        apply_edit=True, configuration=True,
        workspace_edit=types.WorkspaceEditClientCapabilities(
            document_changes=True, resource_operations=[types.ResourceOperationKind.Create])),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(dynamic_registration=False),
        completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(snippet_support=False),
            context_support=True),
        inline_completion=types.InlineCompletionClientCapabilities(dynamic_registration=False),
        code_action=types.CodeActionClientCapabilities(
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(value_set=[types.CodeActionKind.Refactor])))),
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(customized_repo):
    lsp = make_test_lsp_client()
    lsp.statuses: list[dict[str, Any]] = []
    lsp.applied: list[types.ApplyWorkspaceEditParams] = []

    @lsp.feature("codecustom/status")
    def on_status(ls, params):
        ls.statuses.append(params._asdict() if hasattr(params, "_asdict") else params)  # pygls: a namedtuple

    @lsp.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply_edit(ls, params: types.ApplyWorkspaceEditParams):
        ls.applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await lsp.start_io(*customized_repo.server_command(), env=customized_repo.env())
    root_uri = customized_repo.root.as_uri()
    lsp.init_result = await lsp.initialize_session(types.InitializeParams(
        capabilities=CAPABILITIES, root_uri=root_uri,
        workspace_folders=[types.WorkspaceFolder(uri=root_uri, name=customized_repo.root.name)],
        initialization_options={"model": {"threads": 1}, "lsp": {"test_samples": 1}}))
    # a request sent before the model is ready: answered at once, empty, not an error
    uri = open_doc(lsp, customized_repo.source, customized_repo.typing_text)
    lsp.early_state = await state(lsp)
    lsp.early_answer = await lsp.text_document_completion_async(completion_params(uri, *customized_repo.cursor))
    await wait_ready(lsp)
    yield lsp
    await lsp.shutdown_session()
    await lsp.stop()


_versions: dict[str, int] = {}


def open_doc(lsp, path: Path, text: str, language: str = "python") -> str:
    uri = path.as_uri()
    _versions[uri] = 1
    lsp.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
    return uri


def change_doc(lsp, uri: str, text: str) -> None:
    _versions[uri] += 1
    lsp.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=_versions[uri]),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def completion_params(uri: str, line: int, character: int, *, manual: bool = True) -> types.CompletionParams:
    kind = types.CompletionTriggerKind.Invoked if manual else types.CompletionTriggerKind.TriggerForIncompleteCompletions
    return types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                  position=types.Position(line=line, character=character),
                                  context=types.CompletionContext(trigger_kind=kind))


def inline_params(uri: str, line: int, character: int, *, manual: bool = True) -> types.InlineCompletionParams:
    kind = types.InlineCompletionTriggerKind.Invoked if manual else types.InlineCompletionTriggerKind.Automatic
    return types.InlineCompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                        position=types.Position(line=line, character=character),
                                        context=types.InlineCompletionContext(trigger_kind=kind))


def send_raw(lsp, method: str, params: Any) -> Future:
    """Send a request whose params pygls' typed client would refuse to build."""
    msg_id = f"raw-{time.monotonic_ns()}"
    future: Future = Future()
    lsp.protocol._request_futures[msg_id] = future
    lsp.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return future


async def state(lsp) -> dict[str, Any]:
    return await lsp.workspace_execute_command_async(types.ExecuteCommandParams(command="codecustom.status"))


async def wait_ready(lsp, timeout: float = 600) -> dict[str, Any]:  # bounds a hang; returns on the event
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await state(lsp)
        if status["state"] == "ready":
            return status
        assert status["state"] == "loading", status
        await asyncio.sleep(0.1)
    raise AssertionError("model not ready in time")


async def configure(lsp, **settings: Any) -> None:
    lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codecustom": settings}))
    await state(lsp)  # a round trip: the notification has been handled


# -- lifecycle ------------------------------------------------------------------------------------

async def test_initialize_advertises_features_and_does_not_wait_for_the_model(client, customized_repo):
    caps = client.init_result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    assert caps.code_action_provider is not None
    assert "codecustom.generateTests" in caps.execute_command_provider.commands
    if client.early_state["state"] == "loading":
        assert not client.early_answer.items  # empty answer, not an error, while loading


async def test_loading_is_reported_with_progress_and_status(client, customized_repo):
    reports = [r for token, rs in client.progress_reports.items() if str(token).startswith("codecustom-load")
               for r in rs]
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert "ready" in reports[-1].message
    ready = [s for s in client.statuses if s.get("state") == "ready"]
    assert ready, client.statuses
    status = ready[-1]
    assert status["artifact"] == str(customized_repo.artifact)  # the project's newest artifact, found by name
    assert status["strategy"] == "full" and status["device"] == "cpu" and status["model"] == str(customized_repo.base)


# -- completions ----------------------------------------------------------------------------------

async def test_completion_returns_the_customized_suggestion(client, customized_repo):
    uri = customized_repo.source.as_uri()
    line, character = customized_repo.cursor
    result = await client.text_document_completion_async(completion_params(uri, line, character))
    assert len(result.items) == 1
    item = result.items[0]
    assert item.text_edit.new_text == customized_repo.expected
    assert item.text_edit.range.start == types.Position(line=line, character=character)
    assert client.statuses[-1]["lastLatencyMs"] is not None


async def test_inline_completion_for_an_lsp_318_client(client, customized_repo):
    path = customized_repo.root / "geometry" / "inline_copy.py"
    uri = open_doc(client, path, customized_repo.typing_text)
    line, character = customized_repo.cursor
    result = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    assert [i.insert_text for i in result.items] == [customized_repo.expected]
    here = types.Position(line=line, character=character)
    assert result.items[0].range == types.Range(start=here, end=here)


async def test_typing_through_a_suggestion_hits_the_cache(client, customized_repo):
    path = customized_repo.root / "geometry" / "typing.py"
    uri = open_doc(client, path, customized_repo.typing_text)
    line, character = customized_repo.cursor
    first = await client.text_document_inline_completion_async(inline_params(uri, line, character))
    assert first.items[0].insert_text == customized_repo.expected
    before = (await state(client))["typeThroughHits"]
    typed = customized_repo.expected[:8]  # "geometry"
    text = customized_repo.typing_text.replace("    return \n", f"    return {typed}\n", 1)
    change_doc(client, uri, text)
    again = await client.text_document_inline_completion_async(inline_params(uri, line, character + len(typed)))
    assert again.items[0].insert_text == customized_repo.expected[len(typed):]
    assert (await state(client))["typeThroughHits"] == before + 1


async def test_no_completion_in_the_middle_of_an_identifier(client, customized_repo):
    uri = customized_repo.source.as_uri()
    status = await state(client)
    # line 5 is "    return math.pi": the cursor inside "math"
    result = await client.text_document_completion_async(completion_params(uri, 5, 13))
    assert not result.items
    assert (await state(client))["gated"] == status["gated"] + 1


async def test_debounce_applies_to_automatic_triggers_only(client, customized_repo):
    uri = customized_repo.source.as_uri()
    line, character = customized_repo.cursor
    await client.text_document_completion_async(completion_params(uri, line, character))  # cached now
    await configure(client, debounce_ms=10_000)
    try:
        auto = client.protocol.send_request(types.TEXT_DOCUMENT_COMPLETION,
                                            completion_params(uri, line, character, manual=False))
        manual = await client.text_document_completion_async(completion_params(uri, line, character))
        # ordering, not a stopwatch: the manual request overtook the automatic one, which still waits
        assert manual.items and not auto.done()
        msg_id = next(k for k, f in client.protocol._request_futures.items() if f is auto)
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        with pytest.raises(JsonRpcException) as err:
            await asyncio.wait_for(asyncio.wrap_future(auto), 60)
        assert err.value.code == types.LSPErrorCodes.RequestCancelled
    finally:
        await configure(client, debounce_ms=150)


async def test_a_newer_document_version_makes_a_pending_request_stale(client, customized_repo):
    path = customized_repo.root / "geometry" / "stale.py"
    uri = open_doc(client, path, customized_repo.typing_text)
    line, character = customized_repo.cursor
    await configure(client, debounce_ms=3000)
    try:
        stale_before = (await state(client))["stale"]
        # written now (not when a task gets to run), so the round trip below comes after it
        pending = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION,
                                               inline_params(uri, line, character, manual=False))
        await state(client)  # answered after the server took the request (an event, not a sleep)
        change_doc(client, uri, customized_repo.typing_text + "\n# edited\n")  # the user kept typing
        result = await asyncio.wait_for(asyncio.wrap_future(pending), 600)
    finally:
        await configure(client, debounce_ms=150)
    assert not result.items
    assert (await state(client))["stale"] == stale_before + 1


async def test_bad_params_are_answered_with_lsp_errors(client, customized_repo):
    uri = customized_repo.source.as_uri()
    with pytest.raises(JsonRpcException) as err:  # a document never opened
        await client.text_document_completion_async(
            completion_params((customized_repo.root / "nope.py").as_uri(), 0, 0))
    assert err.value.code == types.ErrorCodes.InvalidParams and "not open" in err.value.message
    with pytest.raises(JsonRpcException) as err:  # a position past the end
        await client.text_document_inline_completion_async(inline_params(uri, 999, 0))
    assert err.value.code == types.ErrorCodes.InvalidParams and "outside" in err.value.message
    # params of the wrong shape, sent raw: pygls would drop these; we answer InvalidParams with the field
    raw = send_raw(client, types.TEXT_DOCUMENT_COMPLETION,
                   {"textDocument": {"uri": uri}, "position": {"line": "ten", "character": 0}})
    with pytest.raises(JsonRpcException) as err:
        await asyncio.wait_for(asyncio.wrap_future(raw), 10)
    assert err.value.code == types.ErrorCodes.InvalidParams and "position.line" in err.value.message
    with pytest.raises(JsonRpcException) as err:
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="codecustom.generateTests", arguments=["not enough"]))
    assert err.value.code == types.ErrorCodes.InvalidParams
    # and the server is still serving
    result = await client.text_document_completion_async(completion_params(uri, *customized_repo.cursor))
    assert result.items[0].text_edit.new_text == customized_repo.expected


async def test_settings_change_at_run_time(client, customized_repo):
    await configure(client, completion=False, colour="blue")
    try:
        uri = customized_repo.source.as_uri()
        result = await client.text_document_completion_async(completion_params(uri, *customized_repo.cursor))
        assert not result.items
    finally:
        await configure(client, completion=True)
    assert any("unknown didChangeConfiguration lsp setting 'colour'" in m.message for m in client.log_messages)


# -- test generation ------------------------------------------------------------------------------

async def test_code_action_offered_on_functions_only(client, customized_repo):
    uri = customized_repo.source.as_uri()

    async def actions(line: int) -> list[Any]:
        # raw: lsprotocol's client-side hook turns every CodeAction that carries a command into a Command
        here = {"line": line, "character": 4}
        return await asyncio.wait_for(asyncio.wrap_future(send_raw(client, types.TEXT_DOCUMENT_CODE_ACTION, {
            "textDocument": {"uri": uri}, "range": {"start": here, "end": here},
            "context": {"diagnostics": []}})), 30)

    found = await actions(customized_repo.focal_line)
    assert [a["title"] for a in found] == ["codecustom: generate tests for circle_area"]
    assert found[0]["kind"] == "refactor.codecustom.generateTests"
    assert found[0]["command"]["command"] == "codecustom.generateTests"
    assert found[0]["command"]["arguments"][0] == uri
    assert not await actions(1)  # "import math": no function there


async def test_generate_tests_answers_with_an_edit_creating_the_test_file(client, customized_repo):
    # the saved file is what the sandbox imports; the editor shows the same text
    uri = customized_repo.source.as_uri()
    change_doc(client, uri, customized_repo.full_text)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="codecustom.generateTests", arguments=[uri, {"line": customized_repo.focal_line, "character": 8}]))
    edit = client.protocol._converter.structure(result, types.WorkspaceEdit)  # LSPAny on the wire
    test_file = customized_repo.root / "tests" / "test_shapes.py"
    assert not test_file.exists()  # the server never writes into the repo itself
    create, text_edit = list(edit.document_changes)
    assert create.kind == "create" and create.uri == test_file.as_uri()
    new_text = text_edit.edits[0].new_text
    assert "from geometry.shapes import circle_area" in new_text
    assert customized_repo.expected_test in new_text  # the customized model's test, kept: it passes
    assert client.applied and client.applied[-1].edit == edit  # also sent through workspace/applyEdit
    assert any("1 test(s) for circle_area" in m.message and "passed" in m.message for m in client.messages)


# -- model switch and cancellation ---------------------------------------------------------------

async def test_switching_to_the_base_model_loses_the_customization(client, customized_repo):
    uri = customized_repo.source.as_uri()
    change_doc(client, uri, customized_repo.typing_text)
    await configure(client, model={"artifact": "none", "base": str(customized_repo.base)})
    try:
        status = await wait_ready(client)
        assert status["artifact"] is None and status["model"] == str(customized_repo.base)
        base = await client.text_document_completion_async(completion_params(uri, *customized_repo.cursor))
        assert [i.text_edit.new_text for i in base.items] != [customized_repo.expected]
    finally:
        await configure(client, model={"artifact": None, "base": None})
    status = await wait_ready(client)
    assert status["artifact"] == str(customized_repo.artifact)
    again = await client.text_document_completion_async(completion_params(uri, *customized_repo.cursor))
    assert again.items[0].text_edit.new_text == customized_repo.expected


async def test_cancel_request_stops_the_decode(client, customized_repo, slow_base):
    uri = customized_repo.source.as_uri()
    # a random model that rambles for 1,500 tokens unless stopped
    await configure(client, model={"artifact": "none", "base": str(slow_base)}, max_new_tokens_line=1500)
    try:
        await wait_ready(client)
        before = await state(client)
        future = client.protocol.send_request(types.TEXT_DOCUMENT_COMPLETION, completion_params(uri, 5, 18))
        # the id is looked up now: once answered, the request leaves the client's table
        msg_id = next(k for k, f in client.protocol._request_futures.items() if f is future)
        while (await state(client))["queue"] == 0:  # wait until the decode runs
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not future.done(), "the 1,500-token decode ended before it could be cancelled"
        cancelled_at = time.monotonic()
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
        with pytest.raises(JsonRpcException) as err:
            await asyncio.wait_for(asyncio.wrap_future(future), 30)
        assert err.value.code == types.LSPErrorCodes.RequestCancelled
        after = await state(client)
        while after["queue"] and time.monotonic() - cancelled_at < 300:  # bounds a hang only
            await asyncio.sleep(0.01)
            after = await state(client)
    finally:
        await configure(client, max_new_tokens_line=32, model={"artifact": None, "base": None})
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["decodesStopped"] == before["decodesStopped"] + 1  # the engine saw the event mid-decode
    assert after["queue"] == 0  # and the worker is free again
    await wait_ready(client)
