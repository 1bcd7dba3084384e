"""Labelled posterior summaries and the result tables of a fit."""
