"""Scores that compare generated code with references: text overlap, pass@k, perplexity."""

from codecustom.evaluation.metrics.passk import mean_pass_at_k, pass_at_k
from codecustom.evaluation.metrics.text import bleu, edit_similarity, exact_match, levenshtein, sentence_bleu

__all__ = ["bleu", "edit_similarity", "exact_match", "levenshtein", "mean_pass_at_k", "pass_at_k", "sentence_bleu"]
