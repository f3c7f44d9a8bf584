"""`codecustom complete FILE:LINE:COL`: print the completion the repo's model makes at a position."""

from __future__ import annotations

import argparse

HELP = "print the model's completion at FILE:LINE:COL (in-process or through an OpenAI-compatible server)"
DESCRIPTION = """\
Complete code at a position, the way the language server does: a fill-in-the-middle prompt from the
text before and after the cursor, single- or multi-line by context, stopped at the end of the block.
The completion (the text to insert) goes to stdout; --json adds the details.

LINE and COL are 1-based (COL counts characters). The model is --artifact, else the newest artifact
of the file's repository in the store, else --base (default: the shipped model). With --backend openai
generation runs on a server instead (vLLM, llama.cpp, Ollama, TGI; see 'codecustom export').

examples:
  codecustom complete src/shapes.py:12:5
  codecustom complete src/Main.java:40:9 --multiline --max-new-tokens 96
  codecustom complete app.py:3:1 --backend openai --url http://127.0.0.1:8080/v1 --model myrepo-lora
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("position", metavar="FILE:LINE:COL", help="file and 1-based cursor position")
    p.add_argument("--artifact", metavar="DIR", help="artifact folder to use (default: the repo's newest)")
    p.add_argument("--base", metavar="MODEL", help="base model (default: the artifact's, else the shipped one)")
    p.add_argument("--language", metavar="LANG", help="language id (default: from the file extension)")
    lines = p.add_mutually_exclusive_group()
    lines.add_argument("--multiline", dest="multiline", action="store_const", const=True,
                       help="complete a block (default: decided by context)")
    lines.add_argument("--single-line", dest="multiline", action="store_const", const=False,
                       help="complete to the end of the line")
    p.add_argument("--max-new-tokens", type=int, metavar="N", help="tokens to generate at most")
    p.add_argument("--max-prompt-tokens", type=int, default=1024, metavar="N",
                   help="prompt budget; the file is cut around the cursor to fit (default 1024)")
    p.add_argument("--backend", choices=("in-process", "openai"), default="in-process",
                   help="where to generate (default in-process)")
    p.add_argument("--url", metavar="URL", help="openai backend: server address, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", metavar="NAME", help="openai backend: served model or LoRA adapter name")
    p.add_argument("--api-key", metavar="KEY", help="openai backend: API key (default: $OPENAI_API_KEY)")
    p.add_argument("--tokenizer", metavar="MODEL", help="openai backend: local model folder whose tokenizer "
                                                        "gives exact prompt budgets and FIM tokens")
    p.add_argument("--device", metavar="DEV", help="in-process device (default: cuda if available, else cpu)")
    p.add_argument("--fast", action="store_true", help="in-process: static-cache decoder (default on CUDA only)")


def parse_position(text: str) -> tuple[str, int, int]:
    """``FILE:LINE:COL`` -> (file, line, col), 1-based, with a clear error."""
    from codecustom.errors import UsageError

    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        raise UsageError(f"'{text}' is not FILE:LINE:COL", hint="e.g. src/app.py:12:5 (1-based line and column)")
    line, col = int(parts[1]), int(parts[2])
    if line < 1 or col < 1:
        raise UsageError(f"line and column are 1-based, got {line}:{col}")
    return parts[0], line, col


def split_at(text: str, line: int, col: int, path: str) -> tuple[str, str]:
    """The text before and after the cursor."""
    from codecustom.errors import UsageError

    lines = text.split("\n")
    if line > len(lines):
        raise UsageError(f"{path} has {len(lines)} lines; line {line} is past the end")
    length = len(lines[line - 1].rstrip("\r"))
    if col > length + 1:
        raise UsageError(f"line {line} of {path} has {length} characters; column {col} is past its end",
                         hint=f"use a column from 1 to {length + 1}")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + col - 1
    return text[:offset], text[offset:]


def _repo_project(path) -> str | None:
    from pathlib import Path

    from codecustom.paths import project_name

    for folder in [Path(path).resolve().parent, *Path(path).resolve().parents]:
        if (folder / ".git").exists():
            return project_name(str(folder))
    return None


def _choose_model(args: argparse.Namespace, file_path, console) -> tuple[object, str]:
    from codecustom.modeling.artifacts import load_artifact, newest_artifact
    from codecustom.modeling.loading import load_base

    artifact = args.artifact
    if artifact is None and args.base is None:
        project = _repo_project(file_path)
        found = (newest_artifact(project, "completion") or newest_artifact(project)) if project else None
        artifact = str(found.path) if found else None
    if artifact:
        base = load_base(args.base, device=args.device) if args.base else None
        return load_artifact(artifact, base, device=args.device), f"artifact {artifact}"
    loaded = load_base(args.base, device=args.device)
    return loaded, f"base {loaded.base_id}"


def run(args: argparse.Namespace, console) -> int:
    import sys
    from pathlib import Path

    from codecustom.errors import DataError, UsageError
    from codecustom.inference import CompletionEngine, language_for_path

    path, line, col = parse_position(args.position)
    file_path = Path(path)
    if not file_path.is_file():
        raise UsageError(f"{path} is not a file")
    try:
        text = file_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text") from None
    prefix, suffix = split_at(text, line, col, path)
    language = args.language or language_for_path(path).name
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be at least 1")

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if args.backend == "openai":
        from codecustom.data.fim import KNOWN_FAMILIES, FimFormat
        from codecustom.inference import OpenAIBackend

        if not args.url or not args.model:
            raise UsageError("--backend openai needs --url and --model")
        backend = OpenAIBackend(args.url, args.model, api_key=args.api_key)
        if args.tokenizer:
            from transformers import AutoTokenizer

            tokenizer_or_fim = AutoTokenizer.from_pretrained(args.tokenizer)
        else:  # codecustom's (StarCoder's) FIM tokens; budgets estimated from characters
            tokenizer_or_fim = FimFormat(*KNOWN_FAMILIES[0])
        source = f"{args.model} at {args.url}"
    else:
        from codecustom.inference import InProcessBackend

        loaded, source = _choose_model(args, file_path, console)
        backend = InProcessBackend(loaded, fast=True if args.fast else "auto")
        tokenizer_or_fim = loaded.tokenizer
    engine = CompletionEngine(backend, tokenizer_or_fim, max_prompt_tokens=args.max_prompt_tokens)
    completion = engine.complete(prefix, suffix, language=language, max_new_tokens=args.max_new_tokens,
                                 multiline=args.multiline)
    if not console.json_mode:
        sys.stdout.write(completion.text + ("\n" if completion.text and not completion.text.endswith("\n") else ""))
        sys.stdout.flush()
    if not console.quiet:
        kind = "multi-line" if completion.multiline else "single-line"
        print(f"[{source}; {language}; {kind}; {completion.stop_reason}; {completion.latency_s * 1000:.0f} ms]",
              file=sys.stderr)
    console.result({"text": completion.text, "multiline": completion.multiline, "stop_reason": completion.stop_reason,
                    "language": language, "model": source, "prompt_tokens": completion.prompt_tokens,
                    "latency_ms": round(completion.latency_s * 1000, 1), "file": path, "line": line, "column": col})
    return 0
