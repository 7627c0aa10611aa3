"""Credentials and secrets: API keys, encryption at rest, principals."""
