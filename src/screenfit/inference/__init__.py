"""Samplers (nutpie, PyMC, numpyro, blackjax), variational fits and MAP, diagnostics, the fit cache."""
