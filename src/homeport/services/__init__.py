"""Use cases. Each service owns its transactions and is called by the API and the CLI."""
