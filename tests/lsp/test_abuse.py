"""A lighter run of scripts/abuse_lsp.py: malformed and random JSON-RPC, an oversize frame, then
concurrent completions with half cancelled. The server stays up, answers every live request, and
its memory does not grow with the number of bad messages."""

from __future__ import annotations

from tests.support.scripts import load_script


def test_server_survives_abuse_and_answers_every_live_request(tiny_model, tmp_path):
    abuse = load_script("abuse_lsp")
    figures = abuse.run_abuse(model=str(tiny_model("gpt2")), messages=1500, concurrent=40, threads=1,
                              log_file=str(tmp_path / "lsp.log"), timeout=600, settings={"max_new_tokens_line": 8})
    print({k: figures[k] for k in ("ready_seconds", "phase1_seconds", "phase2_seconds", "shutdown_seconds",
                                   "total_seconds")})
    assert figures["alive_after_phase1"] and figures["alive_at_end"] and figures["final_request_ok"]
    # every malformed request that carried a usable id got an answer, none of them an internal error
    assert figures["phase1_answered"] == figures["phase1_must_answer"] > 500
    assert "-32603" not in figures["phase1_answer_codes"]
    assert figures["phase1_null_id_errors"] > 0  # unparsable bodies are answered with id null
    # every live completion was answered with a result (cancelled ones may be cancelled or answered)
    assert figures["phase2_live_answered"] == figures["phase2_live"] == 20
    assert figures["server_queue_after"] == 0
    # memory: the second half of the bad messages does not grow the server noticeably
    assert figures["rss_after_phase1_mb"] - figures["rss_mid_phase1_mb"] < 20, figures
    assert figures["exit_code"] == 0, (figures.get("server_stderr_tail"),
                                       (tmp_path / "lsp.log").read_text()[-1500:])
    assert figures["log_bytes"] < 5_000_000  # one line per bad message, no traceback spam
