"""One router per surface: /v1 (OpenAI-compatible) and /api/v1 (REST)."""
