"""The command line: `covekit demo` (what `make demo` runs) end to end on the samples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from covekit import cli


def test_demo_runs_the_planes_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    # the context is within its budget and counted exactly
    m = re.search(r"(\d+) prompt tokens of (\d+) \(exact: True\)", out)
    assert m and int(m.group(1)) <= int(m.group(2))
    # the user's card and address never reach the model, and come back for the user
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("-> "))
    assert "4111" not in line and "ana@corp.io" not in line
    assert "<CREDIT_CARD_1>" in line and "<EMAIL_1>" in line
    assert "restored in the answer: 'We wrote to ana@corp.io.'" in out
    # the poisoned chunk is quarantined, with the injection and the exfiltrating image
    verdict = next(ln for ln in out.splitlines() if ln.startswith("policy on a retrieved chunk"))
    assert "quarantine" in verdict and "ignore_previous" in verdict and "markdown_image" in verdict
    # answers: verbatim and cited for who may read the source, refused out of scope
    answers = out[out.index("\nanswer: ") :]
    refund = "Approved refunds reach the original payment method within 5-10 business days [1]."
    assert f"answered: {refund}" in answers
    assert re.search(
        r"role:security .*\n\s+answered: The service-level agreement promises 99\.9%", answers
    )
    assert re.search(r"role:support .*world cup.*\n\s+refused: not enough evidence", answers)
    # support may not read security.md: its answer never cites it
    support = [b for b in answers.split("\n   role:") if b.startswith("support")]
    assert support and all("security.md" not in b for b in support)
    assert "trace of the last request: covekit.pipeline" in answers


def test_count_and_encode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("Refunds are issued within 14 days.", encoding="utf-8")
    assert cli.main(["count", str(f)]) == 0
    assert re.search(r"^\s+\d+\s+.*a\.txt$", capsys.readouterr().out, re.M)
    assert cli.main(["encode", "hello world"]) == 0
    ids = capsys.readouterr().out.split()
    assert ids and all(i.isdigit() for i in ids)


def test_demo_takes_a_model_server() -> None:
    args = cli.build_parser().parse_args(
        ["demo", "--model-url", "http://127.0.0.1:8000/v1", "--model", "tiny"]
    )
    assert (args.model_url, args.model) == ("http://127.0.0.1:8000/v1", "tiny")
    defaults = cli.build_parser().parse_args(["demo"])
    assert (defaults.model_url, defaults.model) == (None, None)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["demo", "--model-url"])  # the URL is missing


def test_demo_answers_with_a_real_model_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`covekit demo --model-url` against llama.cpp's server and its random tiny model
    (a context window that holds the demo's 500-token contexts in its byte tokens): the
    reply is noise, and the pipeline says so (no confident answer, never a citation of
    what the caller may not read) instead of failing."""
    import llama_server

    with llama_server.serve(tmp_path, n_ctx=4096) as server:
        argv = ["demo", "--model-url", server.base_url, "--model", server.model]
        assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"model: {server.model} at {server.base_url}" in out
    answers = out[out.index("\nanswer: ") :]
    assert f"model='{server.model}'" in answers
    blocks = answers.split("\n   role:")[1:]
    assert len(blocks) == 4
    for block in blocks:
        outcome = re.search(r"^\s+(answered|refused|escalated):", block, re.M)
        assert outcome, block
        assert "the model failed" not in block, block  # the server answered every request
        conf = re.search(r"confidence (\d\.\d\d)", block)
        assert conf and float(conf.group(1)) <= 0.5, block  # noise is never confidently right
    support = [b for b in blocks if b.startswith("support")]
    assert support and all("security.md" not in b for b in support)
