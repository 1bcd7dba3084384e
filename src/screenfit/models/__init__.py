"""The model zoo: one module per model family; :mod:`screenfit.models.registry` maps names to classes."""
