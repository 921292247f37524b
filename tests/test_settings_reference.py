"""docs/configuration.md is the settings' own reference, so it cannot drift from the code."""

import subprocess
from pathlib import Path

from berita.settings import Settings, reference
from tests.conftest import BERITA

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_has_a_description():
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_the_configuration_doc_ends_with_the_generated_table():
    assert DOC.read_text(encoding="utf-8").endswith("\n" + reference()), (
        "docs/configuration.md is out of date: replace its table with `berita settings`"
    )


def test_berita_settings_prints_the_table(cli_env):
    shown = subprocess.run(
        [BERITA, "settings"], env=cli_env, capture_output=True, text=True, check=True
    ).stdout
    assert shown == reference()
    assert "| `READER_PATH` | the shipped `reader/weights/v3` |" in shown
