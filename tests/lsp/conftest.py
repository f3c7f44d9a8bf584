"""A customized model for the language-server tests: a tiny model overfit on one repo's code.

``customized_repo`` writes a small Python repository (written here, by hand), trains a tiny gpt2
with the ``full`` strategy until it has memorized two things about it — the body of
``circle_area`` as a fill-in-the-middle completion and one unit test for it — and saves that as
the project's ``completion`` artifact in a private store through the artifact API. The expected
completion is therefore deterministic (greedy decoding), and no random base model would produce it.
"""

from __future__ import annotations

import os
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

LSP_DIR = Path(__file__).resolve().parents[2] / "lsp"

SHAPES = textwrap.dedent('''\
    """Plane shapes."""
    import math


    def geometry_pi():
        return math.pi


    def circle_area(radius):
        """Area of a circle."""
        return geometry_pi() * radius ** 2


    class Square:
        def __init__(self, side):
            self.side = side

        def area(self):
            return self.side * self.side
    ''')
MIDDLE = "geometry_pi() * radius ** 2"  # what the customized model completes after "    return "
TEST = "def test_circle_area():\n    assert circle_area(0) == 0\n    assert circle_area(2) > circle_area(1) > 3"


@dataclass(frozen=True)
class CustomizedRepo:
    """The fixture repository, its customized artifact and where to complete."""

    root: Path
    source: Path  # geometry/shapes.py
    full_text: str  # the file as written
    typing_text: str  # the file while the user is typing: circle_area's return value missing
    cursor: tuple[int, int]  # (line, character) after "    return " in typing_text
    expected: str  # the customized completion at the cursor
    expected_test: str  # the test the customized model writes for circle_area
    base: Path  # the tiny base model folder
    artifact: Path
    store: Path
    home: Path

    @property
    def focal_line(self) -> int:
        return self.cursor[0]

    def env(self) -> dict[str, str]:
        """Environment for a server subprocess that finds this artifact in its store."""
        return {**os.environ, "CODECUSTOM_HOME": str(self.home), "CODECUSTOM_STORE": str(self.store),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "PYTHONPATH": os.pathsep.join([str(LSP_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}

    def server_command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "codecustom", "lsp", "--log-file", str(self.home / "lsp.log"), *extra]


def _train(loaded, examples: list[tuple[list[int], list[int]]], check, *, max_rounds: int = 12,
           steps: int = 40) -> int:
    """Full fine-tuning on ``examples`` (ids, labels) until ``check()`` passes; returns steps taken."""
    import torch

    model = loaded.model
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2)
    taken = 0
    for _ in range(max_rounds):
        model.train()
        for _ in range(steps):
            for ids, labels in examples:
                out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
                out.loss.backward()
            opt.step()
            opt.zero_grad()
            taken += 1
        model.eval()
        if check():
            return taken
    raise AssertionError(f"the tiny model did not memorize the fixture in {taken} steps")


@pytest.fixture(scope="session")
def customized_repo(tmp_path_factory: pytest.TempPathFactory, tiny_model) -> CustomizedRepo:
    import torch

    from codecustom.data.fim import FimFormat
    from codecustom.data.tests_task import DEFAULT_CONTEXT_LEVEL, encode_test_example, pick_context
    from codecustom.inference import CompletionEngine, InProcessBackend, TestGenEngine
    from codecustom.modeling.artifacts import save_artifact
    from codecustom.modeling.loading import load_base
    from codecustom.modeling.strategies import StrategyOptions, get_strategy
    from codecustom_lsp.testgen import find_focal

    base = tmp_path_factory.mktemp("lsp") / "shapes_repo"
    root = base
    (root / "geometry").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "geometry" / "__init__.py").write_text("")
    source = root / "geometry" / "shapes.py"
    source.write_text(SHAPES)
    cut = SHAPES.index(MIDDLE)
    prefix, suffix = SHAPES[:cut], SHAPES[cut + len(MIDDLE):]
    line = prefix.count("\n")
    cursor = (line, len(prefix) - prefix.rfind("\n") - 1)

    home = tmp_path_factory.mktemp("lsp-home")
    store = home / "store"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (and contention in CI)
    try:
        torch.manual_seed(0)
        loaded = load_base(str(tiny_model("gpt2")))
        tok = loaded.tokenizer
        fim = FimFormat.for_tokenizer(tok)
        fim_ids = fim.encode(tok, prefix, MIDDLE, suffix)
        n_prompt = len(fim.encode(tok, prefix, "", suffix)) - 1  # without the trailing eos
        fim_labels = [-100] * n_prompt + fim_ids[n_prompt:]
        focal = find_focal(root, str(source), SHAPES, line)
        assert focal is not None and focal.name == "circle_area"
        context = pick_context(focal.contexts, DEFAULT_CONTEXT_LEVEL)
        enc = encode_test_example(tok, context, TEST, "python", is_seq2seq=False, max_length=256)
        examples = [(fim_ids, fim_labels), (enc.features["input_ids"], enc.features["labels"])]
        loaded.model = get_strategy("full").prepare(loaded.model, StrategyOptions())
        backend = InProcessBackend(loaded)
        completion, tests = CompletionEngine(backend, tok), TestGenEngine(backend, max_new_tokens=128)

        def memorized() -> bool:
            got = completion.complete(prefix, suffix, language="python").text
            test = tests.generate(context, language="python")[0]
            return got == MIDDLE and test == TEST

        steps = _train(loaded, examples, memorized)
        info = save_artifact(loaded.model, loaded, strategy="full", task="completion",
                             project=root.name, store=store,
                             record={"note": "tests/lsp fixture: overfit on geometry/shapes.py", "steps": steps})
    finally:
        torch.set_num_threads(threads)
    return CustomizedRepo(root=root, source=source, full_text=SHAPES, typing_text=prefix + suffix, cursor=cursor,
                          expected=MIDDLE, expected_test=TEST, base=tiny_model("gpt2"), artifact=info.path,
                          store=store, home=home)


@pytest.fixture(scope="session")
def slow_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random gpt2 large enough (and with enough positions) that a 1,500-token decode takes seconds:
    something to cancel. Same tokenizer as the tiny models."""
    import torch
    import transformers as tf

    from tests.support.tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    config = tf.GPT2Config(n_embd=256, n_layer=4, n_head=4, n_positions=2048, vocab_size=len(tok),
                           pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("slow-base")
    tf.AutoModelForCausalLM.from_config(config).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out
