"""`codecustom export`: merged weights, the LoRA adapter, or GGUF — what serving stacks load."""

from __future__ import annotations

import argparse

HELP = "export a customized model for vLLM, TGI, llama.cpp or Ollama (and print the serve command)"
DESCRIPTION = """\
Export an artifact (or a base model with --base) in a format a completion server loads, and print
the exact command that serves it on loopback plus the codecustom command that uses it.

formats:
  hf-merged  Hugging Face folder, customization merged into the weights (full, l-eo, l-ldb, lora).
             Serve with vLLM or TGI.
  peft       the LoRA adapter as-is, for vLLM --enable-lora (one base, many project adapters).
  gguf       merged Llama-style weights (llama, mistral, qwen2) in one GGUF file for llama.cpp's
             server, llama-cpp-python or Ollama (--outtype f16|f32|q8_0).

Prefix-tuning artifacts cannot be merged or served by these servers: use them in-process
(codecustom lsp, codecustom complete).

ARTIFACT is an artifact folder, or PROJECT/TASK/STRATEGY inside the store.

examples:
  codecustom export ~/.cache/codecustom/store/myrepo/completion/lora --format peft --out /tmp/myrepo-lora
  codecustom export myrepo/completion/full --format gguf --out /tmp/myrepo-gguf
  codecustom export --base default --format gguf --outtype q8_0 --out /tmp/base-gguf
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", metavar="ARTIFACT", nargs="?", help="artifact folder (or PROJECT/TASK/STRATEGY)")
    p.add_argument("--base", metavar="MODEL",
                   help="base model: exported itself when no ARTIFACT is given, else the base to apply the "
                        "artifact to (default: the one its manifest names)")
    p.add_argument("--format", dest="fmt", required=True, choices=("hf-merged", "peft", "gguf"), help="what to write")
    p.add_argument("--out", metavar="DIR", required=True, help="folder to create (a previous export is replaced "
                                                                "with --force; other folders are never touched)")
    p.add_argument("--name", metavar="NAME", help="served model name (default: PROJECT-TASK-STRATEGY)")
    p.add_argument("--outtype", choices=("f16", "f32", "q8_0"), default="f16", help="GGUF weight type (default f16)")
    p.add_argument("--force", action="store_true", help="replace a previous export in --out")
    p.add_argument("--device", default="cpu", help="device used for merging (default cpu)")


def run(args: argparse.Namespace, console) -> int:
    from transformers.utils import logging as hf_logging

    from codecustom.inference.export import export, resolve_source

    hf_logging.disable_progress_bar()

    source = resolve_source(args.artifact, args.base)
    result = export(source, args.fmt, args.out, name=args.name, outtype=args.outtype, force=args.force,
                    device=args.device, log=console.info)
    console.info(f"exported {args.fmt} to {result.out}: {', '.join(result.files)}")
    console.info("serve it (on this machine only; drop --host 127.0.0.1 to expose it):")
    for server, command in result.serve:
        console.info(f"  {server:<17} {command}")
    console.info("then complete through it:")
    for line in result.client:
        console.info(f"  {line}")
    console.result(result.to_dict())
    return 0
