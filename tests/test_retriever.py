"""berita's hybrid retriever used as a LangChain retriever, inside a LangChain chain."""

from langchain_core.runnables import RunnableLambda

from berita.answer.components import open_store
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from berita.vectorstore.retrieve import FusionWeights, HybridRetriever
from tests.conftest import FLOODS, SEED


def test_the_hybrid_retriever_drops_into_a_langchain_chain(settings):
    store = open_store(settings)
    ingest([str(SEED), str(FLOODS)], store, IngestConfig.from_settings(settings))
    hybrid = HybridRetriever(store, FusionWeights())
    retriever = hybrid.as_langchain(k=3)

    documents = retriever.invoke("which countries left CSTO?")  # English: the lexicon's side
    assert len(documents) == 3
    assert documents[0].metadata["doc_id"] == "seed-csto-armenia"
    scores = [document.metadata["score"] for document in documents]
    assert scores == sorted(scores, reverse=True)
    ranked = hybrid.retrieve("which countries left CSTO?", 3, "en")
    assert [d.id for d in documents] == [p.document.id for p in ranked]
    assert scores == [p.score for p in ranked]
    assert "score" not in ranked[0].document.metadata  # the store's documents stay as they are

    cited = retriever | RunnableLambda(lambda found: sorted({d.metadata["doc_id"] for d in found}))
    garut, sumedang = cited.batch(
        ["Berapa rumah terendam banjir bandang di Garut?", "Longsor di Cimanggung, Sumedang"]
    )
    assert "garut" in garut and "sumedang" in sumedang
    first = retriever.invoke("Longsor di Cimanggung, Sumedang")[0]
    assert first.metadata["doc_id"] == "sumedang"
