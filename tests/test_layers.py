"""The package's one dependency rule, checked on every import statement (also those inside
functions and under TYPE_CHECKING):

    berita (settings, text, threads) <- reader <- vectorstore <- ingest, answer <- bot <- app

A layer imports only the layers to its left; ingest and answer do not import each other;
`training/`, `benchmarks/` and `tests/` import the package, never the reverse. Below the wiring
(`answer.components`, the bot, the CLI) nothing takes the whole `Settings`: each layer is given
the small config it needs (`StoreConfig`, `IngestConfig`, ...), which `from_settings` builds.
"""

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    {"berita"},
    {"berita.reader"},
    {"berita.vectorstore"},
    {"berita.ingest", "berita.answer"},
    {"berita.bot"},
    {"berita.app"},
]
OUTSIDE = ("training", "benchmarks", "tests")


def package_folders() -> dict[str, Path]:
    """Each installed package's folder, as pyproject.toml maps them."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = setup["package-dir"]
    return {name: ROOT / mapped.get(name, name.replace(".", "/")) for name in setup["packages"]}


def layer_of(module: str) -> int:
    """The layer a `berita` module belongs to: its deepest listed package."""
    parts = module.split(".")
    for depth in range(min(len(parts), 2), 0, -1):
        prefix = ".".join(parts[:depth])
        for number, layer in enumerate(LAYERS):
            if prefix in layer:
                return number
    raise AssertionError(f"{module} is in no layer")


def imports(path: Path) -> list[str]:
    """Every module an import statement in the file names (absolute imports only)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            names.append(node.module or "")
    return names


def package_modules() -> list[tuple[str, Path]]:
    """(package, file) for every module of the installed package."""
    found = []
    for package, folder in package_folders().items():
        found += [(package, path) for path in sorted(folder.glob("*.py"))]
    return found


def violations(package: str, path: Path) -> list[str]:
    own = layer_of(package)
    found = []
    for module in imports(path):
        top = module.split(".")[0]
        if top in {"bot", "ingest", "vectorstore", "reader", "answer", *OUTSIDE}:
            found.append(f"{path.name} imports {module}")
        elif top == "berita":
            theirs = layer_of(module)
            sibling = theirs == own and module.split(".")[:2] != package.split(".")[:2]
            if theirs > own or (sibling and own > 0):
                found.append(f"{path.name} ({package}) imports {module}")
    return found


def takes_settings(path: Path) -> list[str]:
    """The functions of a file with a parameter annotated `Settings`, `from_settings` aside."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name != "from_settings"
        ):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            if any("Settings" in ast.unparse(a.annotation or ast.Constant("")) for a in arguments):
                found.append(f"{path.name}: {node.name}")
    return found


@pytest.mark.parametrize(
    ("package", "path"), package_modules(), ids=lambda v: str(v).split("/berita/")[-1]
)
def test_a_module_imports_only_the_layers_below_it(package, path):
    assert violations(package, path) == []
    if package in {"berita.reader", "berita.vectorstore", "berita.ingest"}:
        assert takes_settings(path) == []


def test_every_installed_package_is_in_a_layer_and_every_folder_is_installed():
    folders = package_folders()
    for package in folders:
        layer_of(package)
    for folder in ("bot", "ingest", "vectorstore", "reader", "answer"):
        assert ROOT / folder in folders.values(), folder


def test_the_check_sees_an_upward_import(tmp_path):
    upward = tmp_path / "store.py"
    upward.write_text("def f():\n    from berita.answer.answerer import Answer\n")
    sideways = tmp_path / "clean.py"
    sideways.write_text("from berita.answer.llm import AnswerWriter\n")
    bare = tmp_path / "old.py"
    bare.write_text("import vectorstore.lexical\n")
    assert violations("berita.vectorstore", upward) != []
    assert violations("berita.ingest", sideways) != []
    assert violations("berita.answer", bare) != []
    assert violations("berita.app", upward) == []
    whole = tmp_path / "fetch.py"
    whole.write_text("class F:\n    def __init__(self, settings: Settings) -> None: ...\n")
    assert takes_settings(whole) == ["fetch.py: __init__"]
