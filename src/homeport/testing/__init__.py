"""Deterministic fakes and helpers for testing Homeport and its plugins."""

from homeport.testing.fake_ollama import DEFAULT_OLLAMA_MODELS, FakeOllama
from homeport.testing.fake_openai import DEFAULT_OPENAI_MODELS, FakeOpenAI
from homeport.testing.oauth_server import FakeAuthorizationServer
from homeport.testing.scripting import (
    EMBEDDING_DIMENSIONS,
    Disconnect,
    Failure,
    RecordedRequest,
    Reply,
    Scripted,
    ScriptedUpstream,
    embed_text,
)
from homeport.testing.servers import BackgroundServer

__all__ = [
    "DEFAULT_OLLAMA_MODELS",
    "DEFAULT_OPENAI_MODELS",
    "EMBEDDING_DIMENSIONS",
    "BackgroundServer",
    "Disconnect",
    "Failure",
    "FakeAuthorizationServer",
    "FakeOllama",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "Scripted",
    "ScriptedUpstream",
    "embed_text",
]
