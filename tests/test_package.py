"""The package as a whole: a light import, a complete ``__all__``, a runnable example in
every public docstring, passing doctests, and native stubs that match the module."""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import covekit
import pytest
import shared_data

REPO = Path(__file__).resolve().parent.parent

#: Optional or heavy modules that ``import covekit`` must not pull in.
HEAVY = ["tiktoken", "tokenizers", "sentence_transformers", "torch", "httpx", "opentelemetry"]

#: Modules whose ``__all__`` must resolve and whose doctests must pass.
DOCTEST_MODULES = [
    "covekit",
    "covekit.data.tokenize",
    "covekit.hash",
    "covekit.errors",
    "covekit.data.encodings",
    "covekit.cli",
]


def _modules_with_examples() -> list[str]:
    """Every module of the package whose source holds a ``>>>`` example: doctest's
    ``testmod(covekit)`` skips what ``covekit`` only re-exports, so each module that
    defines an example is tested on its own."""
    root = REPO / "python" / "covekit"
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if name not in DOCTEST_MODULES and ">>>" in path.read_text(encoding="utf-8"):
            found.append(name)
    return found


EXAMPLE_MODULES = _modules_with_examples()


def test_import_is_light() -> None:
    code = (
        "import json, sys\n"
        "import covekit\n"
        "covekit.get_tokenizer, covekit.hash.xxh3_64, covekit.errors.CovekitError\n"
        f"heavy = {HEAVY!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(json.dumps(loaded))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("module", [*DOCTEST_MODULES[:4], "covekit.data.encodings"])
def test_all_names_exist(module: str) -> None:
    mod = importlib.import_module(module)
    names = mod.__all__
    assert names, module
    assert len(set(names)) == len(names), module
    missing = [name for name in names if not hasattr(mod, name)]
    assert missing == [], f"{module}.__all__ names that do not exist: {missing}"


def test_top_level_api() -> None:
    assert set(covekit.__all__) >= {
        "Tokenizer",
        "get_tokenizer",
        "tokenizer_for_model",
        "list_encodings",
        "hash",
        "errors",
        "CovekitError",
    }
    assert isinstance(covekit.__version__, str)


def _public_callables() -> dict[str, Any]:
    """Every public callable: top-level functions and classes, Tokenizer's methods, the
    hash functions and the error classes."""
    found: dict[str, Any] = {}
    for name in covekit.__all__:
        obj = getattr(covekit, name)
        if callable(obj):
            found[f"covekit.{name}"] = obj
    for name, obj in vars(covekit.Tokenizer).items():
        if name.startswith("_"):
            continue
        if isinstance(obj, classmethod | staticmethod):
            obj = obj.__func__
        if callable(obj):
            found[f"covekit.Tokenizer.{name}"] = obj
    for name in covekit.hash.__all__:
        found[f"covekit.hash.{name}"] = getattr(covekit.hash, name)
    for name in covekit.errors.__all__:
        found[f"covekit.errors.{name}"] = getattr(covekit.errors, name)
    unique: dict[str, Any] = {}
    for name, obj in found.items():  # one entry per object (covekit.CovekitError is re-exported)
        if all(obj is not seen for seen in unique.values()):
            unique[name] = obj
    return unique


PUBLIC_CALLABLES = _public_callables()


@pytest.mark.parametrize("name", list(PUBLIC_CALLABLES))
def test_docstring_has_example(name: str) -> None:
    doc = inspect.getdoc(PUBLIC_CALLABLES[name]) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert ">>>" in doc, f"{name}'s docstring has no runnable >>> example"


def test_properties_have_docstrings() -> None:
    undocumented = [
        name
        for name, obj in vars(covekit.Tokenizer).items()
        if isinstance(obj, property)
        and not name.startswith("_")
        and not (obj.__doc__ or "").strip()
    ]
    assert undocumented == []


@pytest.mark.parametrize("module", DOCTEST_MODULES + EXAMPLE_MODULES)
def test_doctests(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    shared_data.tokenizer_dir()  # the examples load tokenizers (skips without them)
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, report=True)
    output = capsys.readouterr().out
    assert result.attempted > 0, f"{module} has no doctests"
    assert result.failed == 0, output


def test_stubs_match_native_module() -> None:
    stub = REPO / "python" / "covekit" / "_core.pyi"
    if not stub.is_file():
        pytest.skip(f"{stub} is not written yet")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "covekit._core",
            "--allowlist",
            ".stubtest-allowlist",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
