"""Scores that compare generated code with references: text overlap, pass@k, perplexity."""

from codecustom.evaluation.metrics.passk import mean_pass_at_k, pass_at_k
from codecustom.evaluation.metrics.shape import code_tokens, repeated_ngram_rate, shape_metrics, stop_breakdown
from codecustom.evaluation.metrics.text import bleu, edit_similarity, exact_match, levenshtein, sentence_bleu

__all__ = ["bleu", "code_tokens", "edit_similarity", "exact_match", "levenshtein", "mean_pass_at_k", "pass_at_k",
           "repeated_ngram_rate", "sentence_bleu", "shape_metrics", "stop_breakdown"]
