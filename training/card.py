"""The reader's model card: its licence (share-alike data makes share-alike weights), the
Markdown `MODEL_CARD.md` and the facts each shard also holds."""

from __future__ import annotations

import json

LICENCES = {
    "idkmrc-train": "CC BY-SA 4.0 (IDK-MRC, Putri & Oh 2022)",
    "transsquad-id": "CC BY-SA 4.0 (SQuAD 2.0 dev, machine-translated, via IDK-MRC)",
    "transsquad-en": "CC BY-SA 4.0 (SQuAD 2.0 dev questions over the translated paragraphs)",
    "facqa-train": "Apache-2.0 (IndoNLU FacQA)",
}
SHARE_ALIKE = "CC BY-SA 4.0"
NEGATIVES = 2  # hard negatives a training question, unless said otherwise


def weights_licence(data_licences: list[str]) -> str:
    """The licence a reader trained on data under `data_licences` is distributed under: CC BY-SA
    4.0 once any share-alike data went in (the cautious reading), else the code's Apache-2.0
    (the base model's MIT notice is kept in NOTICE either way)."""
    if any(licence.startswith(SHARE_ALIKE) for licence in data_licences):
        return f"{SHARE_ALIKE}, as share-alike data went into them (see NOTICE)"
    return "Apache-2.0, with the MIT notice of multilingual-e5-small (see NOTICE)"


def card_heading(card: dict) -> list[str]:
    """A model card's opening lines: the model, its data and the weights' licence."""
    return [
        f"# {card['model']}",
        "",
        f"Base: {card['base']}; {card['layers']} layers; input: {card['input']}.",
        f"Word table: {card['word_table']}.",
        "",
        "## Training data and licences",
        *(f"- `{name}`: {licence}" for name, licence in card["data"].items()),
        "",
        f"Licence of these weights: {card['licence']}.",
        "",
    ]


def model_card(card: dict) -> str:
    """The model card as Markdown."""
    card = {**card, "files": card.get("files", {})}
    lines = [
        *card_heading(card),
        f"{card['pairs']:,} pairs (mined hard negatives a question: "
        f"{', '.join(f'{name} {n}' for name, n in card['negatives'].items())}), "
        f"{card['steps']:,} steps ({card['epochs']} epochs), "
        f"batch {card['batch_size']}, learning rate {card['learning_rate']}, "
        f"seed {card['seed']}, on {card['device']} "
        f"({card['seconds']['training']} s).",
        *_continued(card["initialised_from"]),
        *(
            [
                f"Unanswerable questions paired {card['unanswerable_repeats']} times with "
                "their own paragraph."
            ]
            if card.get("unanswerable_repeats", 1) > 1
            else []
        ),
        *(
            [f"Began {card['skipped_batches']:,} batches into seed {card['seed']}'s batch order."]
            if card.get("skipped_batches")
            else []
        ),
        "",
        *card_files_and_facts(card, "Everything, dev metrics included"),
    ]
    return "\n".join(lines)


def card_files_and_facts(card: dict, heading: str = "Every fact") -> list[str]:
    """A model card's closing lines: its files' digests, then every fact as JSON."""
    return [
        "## Files",
        *(f"- `{name}`: sha256 `{digest}`" for name, digest in card.get("files", {}).items()),
        "",
        f"## {heading}",
        "```json",
        json.dumps(card, indent=1, ensure_ascii=False),
        "```",
        "",
    ]


def _continued(start: dict | str) -> list[str]:
    """The card's line on the reader this one went on from (none when it began from e5)."""
    if isinstance(start, str):
        return []
    files = f" ({', '.join(start['data'])})" if start.get("data") else ""
    return [
        f"Continued from a reader trained {start['steps']:,} steps ({start['epochs']} epochs) "
        f"of {start['pairs']:,} pairs{files} on {start['device']} "
        f"({start['seconds']['training']} s)."
    ]
