"""Models named by a folder or a Hugging Face id (EMBEDDING_MODEL, READER_MODEL): found without
waiting on the network when they are here already."""

from __future__ import annotations

import os
from pathlib import Path


class ModelUnavailableError(RuntimeError):
    """The model is neither here nor downloadable; the message is one line and says what to do."""


def model_folder(name: str, setting: str) -> Path:
    """The folder of the model `name` (the setting `setting` names it): a local folder, the
    Hugging Face cache, or (unless HF_HUB_OFFLINE is set) a download with short time-outs."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        return folder.resolve()
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except (LocalEntryNotFoundError, HfHubHTTPError, ValueError, OSError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelUnavailableError(
            f"{setting} {name!r} is not a local folder nor in the Hugging Face cache, and "
            f"HF_HUB_OFFLINE is set: download it first or set {setting} to a folder"
        )
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")
    try:
        return Path(snapshot_download(name))
    except Exception as error:  # noqa: BLE001 - any hub failure means the same thing here
        raise ModelUnavailableError(
            f"{setting} {name!r} cannot be loaded: not a local folder, not cached, and the "
            f"download failed ({type(error).__name__}); set {setting} to a local folder"
        ) from None
