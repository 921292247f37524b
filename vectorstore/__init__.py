"""Vector store: embeddings, Chroma passages, the BM25 index beside them, hybrid retrieval."""
