"""Evals: test apps like software, with samples, judges and statistics."""
