"""Knowledge: converting, chunking, fetching, indexing and retrieving documents."""
