"""Figures: exploratory (EDA), QC, and later diagnostics and posterior plots."""
