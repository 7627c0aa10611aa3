"""Runners: processes that load models on their hardware and serve them."""
