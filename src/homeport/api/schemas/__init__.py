"""Wire schemas (pydantic): what goes over HTTP. Domain values are built from them."""
