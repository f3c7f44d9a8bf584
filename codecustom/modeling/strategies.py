"""The five customization strategies, one registry.

Each strategy says which parameters train, how its delta is saved and how it is put back on the base:

======== ============================================== =====================================
name     trains                                         artifact delta
======== ============================================== =====================================
full     every parameter                                all weights (``delta.safetensors``)
l-eo     token embeddings + output layer (once if tied) those tensors (``delta.safetensors``)
l-ldb    the last block of the decoder stack            those tensors (``delta.safetensors``)
prefix   peft PrefixTuning virtual tokens               peft adapter (``adapter/``)
lora     peft LoRA on the blocks' linear layers         peft adapter (``adapter/``)
======== ============================================== =====================================

l-ldb is exactly the last block's parameters: the final norm after the stack is not included (it is
shared by every block's output path, so it stays the base's). For seq2seq models it is the last
*decoder* block. Frozen tensors are never touched, so they stay bit-identical to the base.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codecustom.errors import ModelError, UsageError
from codecustom.modeling import architecture as arch

DELTA_FILE = "delta.safetensors"
ADAPTER_DIR = "adapter"


@dataclass
class StrategyOptions:
    """Knobs of the peft strategies (ignored by the others); recorded in the artifact manifest."""

    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: str = "all"  # all | attention | comma-separated layer names (q_proj,v_proj)
    lora_embeddings: bool = False  # also train the token embeddings and output layer (Refact's option)
    prefix_tokens: int = 16
    prefix_projection: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainableSummary:
    """How much of the model a strategy trains."""

    trainable: int
    total: int
    tensors: list[str]

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"trainable_params": self.trainable, "total_params": self.total,
                "trainable_percent": round(self.percent, 6), "trainable_tensors": len(self.tensors)}


def trainable_summary(model: Any) -> TrainableSummary:
    """Count trainable and total parameters (shared tensors once)."""
    seen: set[int] = set()
    trainable = total = 0
    names = []
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
            names.append(name)
    return TrainableSummary(trainable, total, names)


class Strategy(ABC):
    """One way of customizing a base model."""

    name: str = ""
    summary: str = ""
    default_lr: float = 1e-4
    # True when gradients flow back through the whole network (FLOPs accounting; see training.cost).
    reaches_input: bool = True

    def check(self, model: Any, options: StrategyOptions) -> None:
        """Raise :class:`ModelError` when this strategy cannot work on ``model``."""

    def extra_positions(self, options: StrategyOptions) -> int:
        """Position slots the strategy uses besides the input (prefix tuning's virtual tokens)."""
        return 0

    @abstractmethod
    def prepare(self, model: Any, options: StrategyOptions) -> Any:
        """Return the model to train with exactly this strategy's parameters trainable."""

    @abstractmethod
    def save_delta(self, model: Any, out_dir: Path) -> list[Path]:
        """Write what differs from the base into ``out_dir``; returns the files written."""

    @abstractmethod
    def load_delta(self, model: Any, art_dir: Path) -> Any:
        """Apply a saved delta to a base ``model``; returns the customized model."""

    def trained_base_params(self, model: Any) -> list[Any]:
        """The base model's own parameters this strategy changes (empty for adapter strategies)."""
        return []


# ---------------------------------------------------------------------------------------------
# Strategies that train a subset of the base's own tensors


class TensorStrategy(Strategy):
    """Trains some of the base's parameters in place; the delta is those tensors."""

    @abstractmethod
    def select(self, model: Any) -> list[Any]:
        """The parameters to train."""

    def trained_base_params(self, model: Any) -> list[Any]:
        return self.select(model)

    def prepare(self, model: Any, options: StrategyOptions) -> Any:
        self.check(model, options)
        chosen = {id(p) for p in self.select(model)}
        for p in model.parameters():
            p.requires_grad_(id(p) in chosen)
        return model

    def save_delta(self, model: Any, out_dir: Path) -> list[Path]:
        from safetensors.torch import save_file

        chosen = {id(p) for p in self.select(model)}
        tensors: dict[str, Any] = {}
        seen: set[int] = set()
        for name, p in model.named_parameters():  # named_parameters lists a tied tensor once
            if id(p) in chosen and id(p) not in seen:
                seen.add(id(p))
                tensors[name] = p.detach().contiguous().cpu()
        path = Path(out_dir) / DELTA_FILE
        save_file(tensors, str(path), metadata={"strategy": self.name})
        return [path]

    def load_delta(self, model: Any, art_dir: Path) -> Any:
        import torch
        from safetensors import safe_open

        path = Path(art_dir) / DELTA_FILE
        if not path.is_file():
            raise ModelError(f"artifact {art_dir} has no {DELTA_FILE}", hint="the artifact is incomplete; retrain it")
        params = dict(model.named_parameters())
        with safe_open(str(path), framework="pt") as fh, torch.no_grad():
            for name in fh.keys():
                if name not in params:
                    raise ModelError(f"artifact tensor {name} does not exist in {type(model).__name__}",
                                     hint="the artifact was made for a different architecture")
                value = fh.get_tensor(name)
                if value.shape != params[name].shape:
                    raise ModelError(f"artifact tensor {name} has shape {tuple(value.shape)}, "
                                     f"the base has {tuple(params[name].shape)}",
                                     hint="the artifact was made for a different base model")
                params[name].copy_(value.to(params[name].dtype))
        return model


class FullStrategy(TensorStrategy):
    name = "full"
    summary = "full fine-tuning: every parameter"
    default_lr = 1e-4

    def select(self, model: Any) -> list[Any]:
        return list(model.parameters())


class EmbeddingsOutputStrategy(TensorStrategy):
    name = "l-eo"
    summary = "token embeddings + output layer (tied weights once)"
    default_lr = 1e-3

    def select(self, model: Any) -> list[Any]:
        chosen = [arch.input_embeddings(model).weight]
        out = arch.output_embeddings(model)
        for p in (out.weight, getattr(out, "bias", None)):
            if p is not None and all(p is not q for q in chosen):
                chosen.append(p)
        return chosen


class LastDecoderBlockStrategy(TensorStrategy):
    name = "l-ldb"
    summary = "the last decoder block (final norm excluded)"
    default_lr = 1e-3
    reaches_input = False

    def select(self, model: Any) -> list[Any]:
        return list(arch.decoder_blocks(model)[-1].parameters())


# ---------------------------------------------------------------------------------------------
# Adapter strategies (peft)


class PeftStrategy(Strategy):
    """Freezes the base and trains a peft adapter; the delta is the adapter folder."""

    @abstractmethod
    def peft_config(self, model: Any, options: StrategyOptions) -> Any:
        """The peft config for ``model``."""

    @staticmethod
    def task_type(model: Any) -> Any:
        from peft import TaskType

        return TaskType.SEQ_2_SEQ_LM if getattr(model.config, "is_encoder_decoder", False) else TaskType.CAUSAL_LM

    def prepare(self, model: Any, options: StrategyOptions) -> Any:
        from peft import get_peft_model

        self.check(model, options)
        try:
            peft_model = get_peft_model(model, self.peft_config(model, options))
        except (ValueError, TypeError, NotImplementedError, AttributeError, KeyError) as exc:
            raise ModelError(f"peft cannot apply {self.name} to {model.config.model_type}: {exc}") from exc
        self._smoke_test(peft_model)
        return peft_model

    def _smoke_test(self, model: Any) -> None:
        """One tiny forward pass: turns a peft/transformers incompatibility into a clear refusal."""
        import torch

        device = next(model.parameters()).device
        ids = torch.tensor([[1, 2, 3]], device=device)
        kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if getattr(model.config, "is_encoder_decoder", False):
            kwargs["decoder_input_ids"] = ids[:, :2]
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                model(**kwargs)
        except Exception as exc:  # any failure here means the pair does not work in this version
            from importlib.metadata import version

            raise ModelError(
                f"{self.name} does not work with {model.config.model_type} models in transformers "
                f"{version('transformers')} / peft {version('peft')} ({type(exc).__name__}: {exc})",
                hint="choose another strategy (lora works on every supported architecture)") from exc
        finally:
            model.train(was_training)

    def save_delta(self, model: Any, out_dir: Path) -> list[Path]:
        target = Path(out_dir) / ADAPTER_DIR
        # Added vocabulary rows are saved by the artifact itself, so peft need not copy the embeddings.
        model.save_pretrained(str(target), save_embedding_layers=False)
        (target / "README.md").unlink(missing_ok=True)  # peft's generic model card; the manifest says more
        return sorted(p for p in target.rglob("*") if p.is_file())

    def load_delta(self, model: Any, art_dir: Path) -> Any:
        from peft import PeftModel

        adapter = Path(art_dir) / ADAPTER_DIR
        if not (adapter / "adapter_config.json").is_file():
            raise ModelError(f"artifact {art_dir} has no peft adapter", hint="the artifact is incomplete; retrain it")
        try:
            return PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise ModelError(f"cannot apply the {self.name} adapter in {art_dir}: {exc}",
                             hint="the artifact was made for a different base model") from exc


class PrefixStrategy(PeftStrategy):
    name = "prefix"
    summary = "prefix tuning (peft): trained virtual key/value tokens in every layer"
    default_lr = 1e-2

    def extra_positions(self, options: StrategyOptions) -> int:
        # Models with learned absolute positions (GPT-2) number the input after the virtual tokens.
        return options.prefix_tokens

    def check(self, model: Any, options: StrategyOptions) -> None:
        if options.prefix_tokens < 1:
            raise UsageError("--prefix-tokens must be at least 1")
        limit = arch.max_positions(model)
        if limit is not None and options.prefix_tokens >= limit:
            raise UsageError(f"--prefix-tokens {options.prefix_tokens} leaves no room in the model's "
                             f"{limit} positions", hint="use fewer virtual tokens")

    def peft_config(self, model: Any, options: StrategyOptions) -> Any:
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(task_type=self.task_type(model), num_virtual_tokens=options.prefix_tokens,
                                  prefix_projection=options.prefix_projection)


class LoraStrategy(PeftStrategy):
    name = "lora"
    summary = "LoRA (peft) on the blocks' linear layers"
    default_lr = 1e-3

    def targets(self, model: Any, options: StrategyOptions) -> list[str]:
        """The linear layers to adapt, found from the model's blocks."""
        spec = options.lora_targets.strip()
        available = arch.block_linear_names(model)
        if spec == "all":
            return available
        if spec == "attention":
            return arch.block_linear_names(model, attention_only=True)
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        unknown = [w for w in wanted if w not in available]
        if unknown or not wanted:
            raise UsageError(f"--lora-targets: {', '.join(unknown) or spec!r} not among this model's block layers",
                             hint=f"choose from {', '.join(available)}, or 'all' / 'attention'")
        return wanted

    def _embedding_modules(self, model: Any) -> list[str]:
        base = arch.unwrap(model)
        emb, out = arch.input_embeddings(base), arch.output_embeddings(base)
        users = [n for n, m in base.named_modules(remove_duplicate=False)
                 if getattr(m, "weight", None) is emb.weight and m is not out]
        if len(users) > 1:
            raise UsageError(f"--lora-embeddings is not supported for {base.config.model_type}: its token "
                             f"embeddings are shared by {len(users)} modules ({', '.join(users)})",
                             hint="use l-eo to train the embeddings of this model")
        names = {n: m for n, m in base.named_modules()}
        found = [n for n, m in names.items() if m is emb] + [n for n, m in names.items() if m is out]
        return [n.rsplit(".", 1)[-1] for n in found]

    def check(self, model: Any, options: StrategyOptions) -> None:
        if options.lora_r < 1:
            raise UsageError("--lora-r must be at least 1")
        self.targets(model, options)
        if options.lora_embeddings:
            self._embedding_modules(model)

    def peft_config(self, model: Any, options: StrategyOptions) -> Any:
        from peft import LoraConfig

        kwargs: dict[str, Any] = {}
        if options.lora_embeddings:
            kwargs["modules_to_save"] = self._embedding_modules(model)
            kwargs["ensure_weight_tying"] = arch.embeddings_tied(model)
        fan_in_fan_out = any(type(m).__name__ == "Conv1D" for m in model.modules())
        return LoraConfig(task_type=self.task_type(model), r=options.lora_r, lora_alpha=options.lora_alpha,
                          lora_dropout=options.lora_dropout, target_modules=self.targets(model, options),
                          fan_in_fan_out=fan_in_fan_out, **kwargs)


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (FullStrategy(), EmbeddingsOutputStrategy(),
                                                       LastDecoderBlockStrategy(), PrefixStrategy(),
                                                       LoraStrategy())}


def get_strategy(name: str) -> Strategy:
    """Look a strategy up by name with a clear error."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UsageError(f"unknown strategy {name!r}", hint=f"choose from {', '.join(STRATEGIES)}") from None


def parse_strategies(spec: str) -> list[str]:
    """``all`` or a comma-separated list, validated, in registry order."""
    if spec.strip() == "all":
        return list(STRATEGIES)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    for n in names:
        get_strategy(n)
    return [n for n in STRATEGIES if n in names]


def describe() -> str:
    """One line per strategy, for --help."""
    return "\n".join(f"  {s.name:<7} {s.summary}" for s in STRATEGIES.values())


def options_from_manifest(data: dict[str, Any]) -> StrategyOptions:
    """Rebuild options saved in a manifest (unknown keys ignored)."""
    known = StrategyOptions.__dataclass_fields__
    return StrategyOptions(**{k: v for k, v in (data or {}).items() if k in known})


__all__ = ["STRATEGIES", "Strategy", "StrategyOptions", "TrainableSummary", "get_strategy", "parse_strategies",
           "trainable_summary", "describe", "options_from_manifest"]
