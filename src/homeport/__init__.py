"""Homeport: a private, self-hosted generative-AI platform."""

__version__ = "0.1.0"
