"""Answering: read the retrieved passages, quote or write the answer, or refuse."""
