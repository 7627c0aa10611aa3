"""The `homeport` command: a client of the HTTP API (and `serve`, which runs the server)."""
