"""Fast decoding: a static KV cache and one captured CUDA graph per decode step (plain eager on CPU)."""

from codecustom.inference.fast.decoder import FastDecoder, fast_path_problem

__all__ = ["FastDecoder", "fast_path_problem"]
