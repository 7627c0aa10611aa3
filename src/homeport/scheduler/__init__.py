"""Placement of models on runners by memory, queueing, eviction and pinning."""
