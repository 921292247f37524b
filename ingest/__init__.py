"""Ingest: source -> extract -> clean -> chunk -> (embed -> store, in vectorstore)."""
