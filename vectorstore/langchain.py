"""berita's hybrid retriever as a LangChain `BaseRetriever`, for LangChain chains
(`HybridRetriever.as_langchain()`)."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from berita.text import detect_language
from berita.vectorstore.retrieve import HybridRetriever


class LangChainRetriever(BaseRetriever):
    """The `k` best passages of a `HybridRetriever` as documents (the question's language
    detected), with their `score`, `dense` and `lexical` scores added to a copy of each one's
    metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                id=passage.document.id,
                page_content=passage.document.page_content,
                metadata=passage.document.metadata
                | {"score": passage.score, "dense": passage.dense, "lexical": passage.lexical},
            )
            for passage in self.retriever.retrieve(query, self.k, detect_language(query))
        ]
