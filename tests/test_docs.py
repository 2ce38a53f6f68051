"""The README, the docs and the quickstart notebook run and print what they say.

Every ```python block of ``README.md`` and ``docs/*.md`` is executed on its own, with
stdout captured; the lines that start with ``#>`` are its expected output (the ``#> ``
prefix removed) and must equal the printed lines exactly. A block preceded by the HTML
comment ``<!-- no-run -->`` is not run. ``notebooks/quickstart.ipynb`` is executed top
to bottom with nbclient on a ``python3`` kernel of this interpreter, from the
``notebooks/`` folder, and no cell may raise.

Both need the tokenizer files: they skip (with the reason) when the shared data is
absent, and run offline (``COVEKIT_OFFLINE=1``), so nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from shared_data import tokenizer_dir

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"
NO_RUN = "<!-- no-run -->"
CELL_TIMEOUT = 120  # seconds per notebook cell


@dataclass(frozen=True, repr=False)
class Example:
    """One ```python block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the first line of code
    code: str
    expected: tuple[str, ...]  # the #> lines, prefix removed
    run: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    def __repr__(self) -> str:
        return f"<Example {self.id}>"


def _expected_line(line: str) -> str | None:
    """The expected output a ``#>`` line holds, or None for any other line."""
    stripped = line.lstrip()
    if not stripped.startswith("#>"):
        return None
    rest = stripped[2:]
    return rest[1:] if rest.startswith(" ") else rest


def parse_examples(path: Path) -> list[Example]:
    """Every ```python block of ``path``, in order (other fences are skipped whole)."""
    examples: list[Example] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    previous = ""  # the last non-blank line outside a code block
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = line.strip()
        if not fence.startswith("```"):
            if fence:
                previous = fence
            i += 1
            continue
        language = fence[3:].strip().split(" ")[0]
        start = i + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{path}:{i + 1}: code block is not closed")
        if language == "python":
            body = lines[start:end]
            expected = tuple(e for e in map(_expected_line, body) if e is not None)
            examples.append(
                Example(path, start + 1, "\n".join(body) + "\n", expected, previous != NO_RUN)
            )
        previous = ""
        i = end + 1
    return examples


ALL_EXAMPLES = [example for path in DOC_FILES for example in parse_examples(path)]


@pytest.fixture
def tokenizer_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokenizer files from the shared data (skip when absent), and no downloads."""
    folder = tokenizer_dir()  # skips the test with a reason when the data is missing
    if not os.environ.get("COVEKIT_TOKENIZER_DIR"):
        monkeypatch.setenv("COVEKIT_TOKENIZER_DIR", str(folder))
    monkeypatch.setenv("COVEKIT_OFFLINE", "1")


def test_docs_have_examples() -> None:
    found = {example.path for example in ALL_EXAMPLES if example.run}
    assert REPO / "README.md" in found, "README.md has no runnable ```python block"
    for name in ("tokenizer.md", "hash.md"):
        assert REPO / "docs" / name in found, f"docs/{name} has no runnable ```python block"


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=lambda e: e.id)
def test_markdown_example(
    example: Example, tokenizer_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not example.run:
        pytest.skip(f"{example.id} is marked {NO_RUN}")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    # Pad with blank lines so that tracebacks give the line number in the Markdown file.
    code = compile("\n" * (example.line - 1) + example.code, str(example.path), "exec")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {"__name__": "__doc_example__"})
    printed = out.getvalue().splitlines()
    assert printed == list(example.expected), (
        f"{example.id}: printed output differs from the #> lines\n"
        "printed:\n" + "\n".join(f"#> {line}" for line in printed)
    )


# --------------------------------------------------------------------------- notebook

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _python3_kernel(prefix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the ``python3`` kernel this interpreter: a spec in ``prefix``, first on JUPYTER_PATH."""
    from ipykernel.kernelspec import install

    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    install(kernel_name="python3", prefix=str(prefix))  # argv[0] is sys.executable


def test_notebook_is_stored_clean() -> None:
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} is stored with outputs"
            assert cell.execution_count is None, f"cell {index} is stored with a count"
    assert "../shared" not in NOTEBOOK.read_text(encoding="utf-8")


@pytest.mark.thread_unsafe  # starts a kernel process; changes the environment
# The Jupyter stack has emitted DeprecationWarnings on some Python versions (none with the
# versions installed here); they are not ours to fix, so only those modules' are ignored.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_client.*")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_core.*")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:zmq.*")
def test_quickstart_notebook_runs(
    tokenizer_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    _python3_kernel(tmp_path / "kernel", monkeypatch)
    # Keep Jupyter's and IPython's runtime files out of the home folder.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        allow_errors=True,  # run every cell, then report all the failures at once
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()

    failures = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                trace = _ANSI.sub("", "\n".join(output.traceback))
                failures.append(f"cell {index}:\n{cell.source}\n{trace}")
    assert not failures, "notebook cells raised:\n\n" + "\n\n".join(failures)
    ran = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert ran and all(cell.execution_count for cell in ran), "some cells did not run"
