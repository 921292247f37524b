"""berita: ask questions about a collection of news articles, answered with cited passages."""

__version__ = "0.1.0"
