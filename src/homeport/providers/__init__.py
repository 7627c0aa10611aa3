"""Providers: whatever serves a model (the embedded engine, an OpenAI-compatible upstream,
Ollama), behind one protocol and reached only through the inference router."""
