"""The OpenAI-compatible HTTP backend: URL handling and errors, then end to end against llama.cpp's server
(llama-cpp-python) serving a GGUF that ``codecustom export`` wrote from a model with known completions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from codecustom.errors import CodecustomError, UsageError
from codecustom.inference import CompletionEngine, InProcessBackend, OpenAIBackend, TestGenEngine
from codecustom.inference.backends.openai_http import completions_url
from codecustom.inference.params import Backend, GenerationParams
from tests.inference.llama_server import free_port, llama_server, missing_server_modules
from tests.inference.memorized import CASES, EXPECTED, EXPECTED_TEST, FOCAL, LANGUAGE


def test_completions_url_forms():
    assert completions_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1/completions"
    assert completions_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1/completions"
    assert completions_url("http://h:1/v1/completions") == "http://h:1/v1/completions"
    with pytest.raises(UsageError, match="not an http"):
        completions_url("127.0.0.1:8000")


def test_unreachable_server_is_a_one_line_error():
    backend = OpenAIBackend(f"http://127.0.0.1:{free_port()}/v1", "m", timeout=5)
    assert isinstance(backend, Backend)
    with pytest.raises(CodecustomError, match="cannot reach the completion server"):
        backend.generate(["x"], GenerationParams(max_new_tokens=2))


def test_needs_a_model_name():
    with pytest.raises(UsageError, match="model name"):
        OpenAIBackend("http://127.0.0.1:1", "")


@pytest.fixture(scope="module")
def server(memorized_dir, tmp_path_factory):
    missing = missing_server_modules()
    if missing:
        pytest.skip(f"llama.cpp's server is not installed (missing: {', '.join(missing)}); "
                    "pip install 'llama-cpp-python[server]' to run the HTTP end-to-end tests")
    from codecustom.inference.export import export, resolve_source

    out = tmp_path_factory.mktemp("gguf") / "export"
    result = export(resolve_source(None, str(memorized_dir)), "gguf", out, name="memorized", outtype="f32")
    with llama_server(result.out / "model.gguf", "memorized", out.parent / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def http_engine(server, memorized_model):
    return CompletionEngine(OpenAIBackend(server, "memorized"), memorized_model.tokenizer)


@pytest.mark.parametrize("case", list(CASES))
def test_completions_through_llama_cpp_match_in_process(http_engine, memorized_model, case):
    prefix, suffix, _ = CASES[case]
    remote = http_engine.complete(prefix, suffix, language=LANGUAGE[case])
    local = CompletionEngine(InProcessBackend(memorized_model), memorized_model.tokenizer).complete(
        prefix, suffix, language=LANGUAGE[case])
    assert remote.text == local.text == EXPECTED[case]


def test_stop_rule_closes_the_stream_early(http_engine):
    c = http_engine.complete(*CASES["block"][:2], language="python")
    assert "volume" not in c.raw  # the server was stopped at the end of the block, not run to max tokens


def test_samples_and_batches(server):
    backend = OpenAIBackend(server, "memorized", max_concurrency=2)
    prompts = ["def area(width, height):\n    return ", "class Box {"]
    out = backend.generate(prompts, GenerationParams(max_new_tokens=6, temperature=0.8, num_samples=3, seed=5))
    assert [len(x) for x in out] == [3, 3] and all(isinstance(t, str) for x in out for t in x)
    greedy = backend.generate(prompts, GenerationParams(max_new_tokens=6, num_samples=2))
    assert all(len(set(x)) == 1 for x in greedy)
    whole = OpenAIBackend(server, "memorized", stream=False).generate(prompts, GenerationParams(max_new_tokens=6))
    assert whole == [[x[0]] for x in greedy]


def test_test_generation_over_http(server, memorized_model):
    engine = TestGenEngine(OpenAIBackend(server, "memorized"), tokenizer=memorized_model.tokenizer)
    assert engine.generate(FOCAL, language="python") == [EXPECTED_TEST]


def test_cancel_stops_a_request(server):
    backend = OpenAIBackend(server, "memorized")
    event = threading.Event()
    event.set()
    assert backend.generate(["x"], GenerationParams(max_new_tokens=400), event) == [[""]]


def test_interrupted_stream_is_an_error_not_a_short_answer(memorized_dir, tmp_path):
    """llama-cpp-python (by default) cuts a streaming request off when another arrives; say so."""
    if missing_server_modules():
        pytest.skip("llama.cpp's server is not installed")
    from codecustom.inference.export import export, resolve_source

    result = export(resolve_source(None, str(memorized_dir)), "gguf", tmp_path / "g", name="m", outtype="f32")
    with llama_server(result.out / "model.gguf", "m", tmp_path / "log", interrupt=True) as url:
        backend = OpenAIBackend(url, "m", max_concurrency=4)
        for _ in range(5):  # overlapping requests are what triggers it; retry in case they did not overlap
            try:
                backend.generate(["class Box {"] * 4, GenerationParams(max_new_tokens=200))
            except CodecustomError as exc:
                assert "ended a stream before the answer was finished" in str(exc)
                break
        else:
            pytest.fail("four concurrent streams were never interrupted")


def test_http_error_is_reported_with_the_status(server):
    bad = OpenAIBackend(server.replace("/v1", "/nowhere/v1"), "memorized")
    with pytest.raises(CodecustomError, match="answered 404"):
        bad.generate(["x"], GenerationParams(max_new_tokens=2))


@pytest.mark.asyncio
async def test_language_server_completes_through_the_llama_cpp_server(server, memorized_dir, tmp_path):
    """`codecustom lsp` with the openai backend: the editor's completion comes from llama.cpp's server."""
    import asyncio
    import os
    import sys
    import time

    from lsprotocol import types
    from pytest_lsp.client import make_test_lsp_client

    prefix, suffix, _ = CASES["single"]
    root = tmp_path / "ws"
    root.mkdir()
    source = root / "shapes.py"
    source.write_text(prefix + suffix, encoding="utf-8")
    lsp_dir = Path(__file__).resolve().parents[2] / "lsp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(lsp_dir), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "codecustom", "lsp", "--log-file", str(tmp_path / "lsp.log"),
                          "--no-warmup", env=env)
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
            initialization_options={"model": {"backend": "openai", "url": server, "server_model": "memorized",
                                              "base": str(memorized_dir)}}))
        uri = source.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id="python", version=1, text=prefix + suffix)))
        deadline = time.monotonic() + 600  # bounds a hang; the loop ends on the status
        while True:
            status = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="codecustom.status"))
            if status["state"] == "ready" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert status["state"] == "ready", status
        assert "memorized" in str(status)  # the status names the served model on the server
        line = prefix.count("\n")
        answer = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=len(prefix.split("\n")[-1])),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked)))
        items = answer.items if hasattr(answer, "items") else answer
        texts = [i.text_edit.new_text if i.text_edit else (i.insert_text or i.label) for i in items]
        assert any(EXPECTED["single"] in t for t in texts), texts
    finally:
        await client.shutdown_session()
        await client.stop()
