"""Measuring a reader on the dev suites as berita retrieves for it: e5 vectors, the fused
candidates, and the reader's ranking and refusals (recall, MRR, AUC, thresholds)."""

from __future__ import annotations

import numpy as np

from training.bundle import BOS, CANDIDATES, EOS, PAD, Bundle

DEV_CANDIDATES = 20  # fused candidates the reader scores at measuring time


def embed(encoder, inputs: list[list[int]], device: str):
    """Unit vectors (mean of the last layer) of model inputs, in their order."""
    import torch

    from berita.reader.e5 import batch_tensors, mean_pool
    from berita.reader.model import autocast

    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))  # less padding
    vectors = []
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(order), 128):
            ids, mask = batch_tensors([inputs[i] for i in order[start : start + 128]], PAD)
            ids, mask = ids.to(device), mask.to(device)
            hidden = encoder(input_ids=ids, attention_mask=mask).float()
            vectors.append(torch.nn.functional.normalize(mean_pool(hidden, mask), dim=-1))
    stacked = torch.cat(vectors)
    return stacked[torch.argsort(torch.tensor(order, device=stacked.device))]


def fused_candidates(bundle: Bundle, passages, questions) -> list[list[tuple[int, float]]]:
    """Each question's candidates in its pool, best first, as berita's retrieval fuses them."""
    import torch

    from berita.vectorstore.fusion import fuse
    from berita.vectorstore.retrieve import FusionWeights

    pools = [p["pool"] for p in bundle.passages]
    ranked: list[list[tuple[int, float]]] = [[] for _ in bundle.questions]
    for pool in sorted({q["pool"] for q in bundle.questions}):
        members = torch.tensor([i for i, name in enumerate(pools) if name == pool])
        asked = [i for i, q in enumerate(bundle.questions) if q["pool"] == pool]
        ids = members.tolist()
        position = {p: j for j, p in enumerate(ids)}
        pool_vectors = passages[members.to(passages.device)]
        for start in range(0, len(asked), 1024):
            rows = asked[start : start + 1024]
            sims = (questions[rows] @ pool_vectors.T).float()
            top = sims.topk(min(CANDIDATES, len(members)), dim=1).indices.cpu().numpy()
            sims = sims.cpu().numpy()
            for offset, number in enumerate(rows):
                dense = {ids[j]: float(sims[offset, j]) for j in top[offset]}
                lexical = {
                    int(p): float(s)
                    for p, s in zip(
                        bundle.bm25_ids[number], bundle.bm25_scores[number], strict=True
                    )
                    if p >= 0
                }
                for pid in lexical:
                    dense.setdefault(pid, float(sims[offset, position[pid]]))
                weight = FusionWeights().lexical(bundle.questions[number]["lang"])
                fused = fuse(
                    {str(p): s for p, s in dense.items()},
                    {str(p): s for p, s in lexical.items()},
                    weight,
                )
                ranked[number] = sorted(
                    ((int(p), s) for p, s in fused.items()), key=lambda x: -x[1]
                )
    return ranked


def measure(bundle: Bundle, net, ranked, device: str) -> dict:
    """The dev table: ranking, refusals at 0.90 of answerable questions answered, thresholds."""
    import torch

    from berita.reader.e5 import batch_tensors
    from berita.reader.inference import pair_ids
    from berita.reader.model import autocast
    from berita.vectorstore.fusion import reader_order

    scored: dict[str, list[dict]] = {}
    for number, question in enumerate(bundle.questions):
        if question["pool"] == "train":
            continue
        candidates = ranked[number][:DEV_CANDIDATES]
        inputs = [
            pair_ids(bundle.question_ids(number), bundle.passage_ids(p), BOS, EOS)
            for p, _ in candidates
        ]
        with torch.inference_mode(), autocast(device):
            ids, mask = batch_tensors(inputs, PAD)
            logits = net(ids.to(device), mask.to(device)).float().cpu().numpy()
        probability = 1 / (1 + np.exp(-logits))
        combined = reader_order(logits, np.array([s for _, s in candidates]))
        docs = [bundle.passages[p]["id"] for p, _ in candidates]
        gold = bundle.passages[question["gold"]]["id"] if question["gold"] >= 0 else None
        scored.setdefault(question["suite"], []).append(
            {
                "gold": gold,
                "fused": docs,
                "reader": [docs[i] for i in np.argsort(-logits, kind="stable")],
                "combined": [docs[i] for i in combined],
                "best": float(probability.max(initial=0.0)),
                "best_without_gold": float(
                    max((p for d, p in zip(docs, probability, strict=True) if d != gold), default=0)
                ),
                "seen": bool(question.get("gold_in_train")),
            }
        )
    return {suite: _suite_metrics(rows) for suite, rows in scored.items()}


def _suite_metrics(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["gold"]]
    unanswerable = [r for r in rows if not r["gold"]]
    out: dict = {"questions": len(rows)}
    for order in ("fused", "reader", "combined"):
        out[order] = _ranking(answerable, order)
    unseen = [r for r in answerable if not r["seen"]]
    if unseen and len(unseen) < len(answerable):
        out["combined_gold_not_in_train"] = {
            "questions": len(unseen),
            **_ranking(unseen, "combined"),
        }
    if answerable:
        threshold = float(np.quantile([r["best"] for r in answerable], 0.10))
        out["threshold_at_0.90_answered"] = round(threshold, 4)
        out["gold_removed_refused"] = round(
            float(np.mean([r["best_without_gold"] < threshold for r in answerable])), 3
        )
        if unanswerable:
            out["unanswerable_refused"] = round(
                float(np.mean([r["best"] < threshold for r in unanswerable])), 3
            )
            out["auc"] = round(
                _auc([r["best"] for r in answerable], [r["best"] for r in unanswerable]), 3
            )
    return out


def _ranking(rows: list[dict], order: str) -> dict:
    ranks = [r[order].index(r["gold"]) + 1 if r["gold"] in r[order] else 99 for r in rows]
    if not ranks:
        return {}
    return {
        "r@1": round(float(np.mean([k <= 1 for k in ranks])), 3),
        "r@5": round(float(np.mean([k <= 5 for k in ranks])), 3),
        "mrr@10": round(float(np.mean([1 / k if k <= 10 else 0 for k in ranks])), 3),
    }


def _auc(positives: list[float], negatives: list[float]) -> float:
    pos, neg = np.asarray(positives), np.asarray(negatives)
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
