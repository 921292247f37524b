"""A reader whose every weight is the weighted mean of two readers' (a "model soup", Wortsman et
al. 2022), both trained on from the same reader: it keeps what each learned at no extra cost at
answer time, where running both would read every passage twice.

    .venv/bin/python -m training.soup reader/weights/v2 build/sentence-reader \\
        --weight 0.5 --out reader/weights/v3

Its refusal rules are fitted afterwards (`training.calibrate`, with and without `--sentences`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.card import card_files_and_facts, card_heading


def mix_readers(first: Path, second: Path, weight: float, out: Path) -> dict:
    """Write to `out` the reader with (1 - weight) x `first`'s + weight x `second`'s weights
    (0 <= weight <= 1; the same shapes: both trained on from one reader); return its card."""
    from berita.reader.e5 import E5File
    from berita.reader.model import ReaderNet, load_weights
    from training.train import save_reader

    state, first_card = load_weights(first)
    other, card = load_weights(second)
    if state.keys() != other.keys() or any(state[k].shape != other[k].shape for k in state):
        raise ValueError(f"{first} and {second} are not readers of the same shape")
    net = ReaderNet(E5File(), card["layers"])
    net.load_state_dict({k: (1 - weight) * state[k] + weight * other[k] for k in state})
    net.eval()
    card = {
        **{k: v for k, v in card.items() if k not in ("dev", "files")},
        "model": "berita reader (cross-encoder), a mean of two readers' weights",
        "soup": {str(first): round(1 - weight, 4), str(second): round(weight, 4)},
        "soup_cards": {str(first): first_card.get("model"), str(second): card.get("model")},
    }
    save_reader(net, out, card, model_card)
    return card


def model_card(card: dict) -> str:
    """The card of a mixed reader, as Markdown: what it mixes, then every fact (the second
    reader's training run among them)."""
    parts = ", ".join(f"{share:.0%} of `{folder}`" for folder, share in card["soup"].items())
    return "\n".join(
        [
            *card_heading(card),
            "## A mean of two readers",
            f"Each weight is {parts} (`python -m training.soup`). The facts below that are not "
            "the mean's are those of the second reader's training run.",
            "",
            *card_files_and_facts(card),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m training.soup", description=__doc__.split("\n")[0]
    )
    parser.add_argument("first", type=Path, help="a reader folder")
    parser.add_argument("second", type=Path, help="a reader trained on from the same start")
    parser.add_argument("--weight", type=float, default=0.5, help="the second reader's share")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 0.0 <= args.weight <= 1.0:
        parser.error(f"--weight {args.weight}: expected a share from 0 to 1")
    try:
        mix_readers(args.first, args.second, args.weight, args.out)
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"berita: {error}\n")
    print(f"{args.out}: {1 - args.weight:.2f} x {args.first} + {args.weight:.2f} x {args.second}")


if __name__ == "__main__":
    main()
