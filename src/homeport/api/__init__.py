"""HTTP: the FastAPI application, its routers and the one error mapping."""
