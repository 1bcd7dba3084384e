"""Evaluating a fit: its pointwise log-likelihood (and, in results/predictive, its predictive checks)."""
