"""API tools: OpenAPI descriptions read into operations, executors that call them, and the
per-user credentials they call with."""
