"""Shared test settings: warnings are errors (pyproject), nothing here starts services."""
