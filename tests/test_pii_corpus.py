"""The labelled PII/secret corpus (tests/pii_corpus.py) and covekit.Redactor's recall on it."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("faker", reason="the PII corpus needs Faker (dev extra)")
pytest.importorskip("phonenumbers", reason="the PII corpus needs phonenumbers (dev extra)")

import pii_corpus as pc


@pytest.fixture(scope="module")
def corpus() -> list[pc.Item]:
    return pc.generate()


def test_deterministic_with_a_seed(corpus: list[pc.Item]) -> None:
    pc._generate.cache_clear()
    again = pc.generate()
    assert again == corpus
    assert pc.generate(200, seed=7) == pc.generate(200, seed=7)
    assert [i.text for i in pc.generate(200, seed=1)] != [i.text for i in corpus[:200]]


def test_same_in_every_process() -> None:
    """No dependence on the interpreter's hash seed (Faker's it_IT cities had one) nor
    on os.urandom (OpenSSH keys' check ints)."""
    here = os.path.dirname(pc.__file__)
    code = (
        f"import sys, hashlib; sys.path.insert(0, {here!r}); import pii_corpus as pc; "
        "print(hashlib.sha256(repr(pc.generate(600)).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1


def test_size_and_labels_verified(corpus: list[pc.Item]) -> None:
    assert len(corpus) >= 2000
    assert len({i.id for i in corpus}) == len(corpus)
    for it in corpus:
        marks = [(s.start, s.end) for s in it.spans] + [(g.start, g.end) for g in it.negatives]
        for s in it.spans:
            assert s.entity in pc.ENTITIES
            assert 0 <= s.start < s.end <= len(it.text)
            assert it.text[s.start : s.end] == s.value
        for g in it.negatives:
            assert g.kind in pc.NEGATIVE_KINDS
            assert it.text[g.start : g.end] == g.value
        marks.sort()
        for (_, e1), (s2, _) in itertools.pairwise(marks):
            assert e1 <= s2, f"overlapping labels in {it.id}"


def test_every_entity_in_several_locales(corpus: list[pc.Item]) -> None:
    where: dict[str, set[str]] = defaultdict(set)
    count: dict[str, int] = defaultdict(int)
    kinds: dict[str, set[str]] = defaultdict(set)
    for it in corpus:
        for s in it.spans:
            where[s.entity].add(it.locale)
            count[s.entity] += 1
            kinds[s.entity].add(it.kind)
    for e in pc.ENTITIES:
        assert count[e] >= 80, (e, count[e])
        assert len(where[e]) >= 8, (e, sorted(where[e]))
        assert len(kinds[e]) >= 4, (e, sorted(kinds[e]))
    assert {it.locale for it in corpus} == set(pc.LOCALES)
    assert {it.kind for it in corpus} == set(pc.KINDS)


def test_hard_negatives_present(corpus: list[pc.Item]) -> None:
    count: dict[str, int] = defaultdict(int)
    look: dict[str, int] = defaultdict(int)
    for it in corpus:
        for g in it.negatives:
            count[g.kind] += 1
            look[g.lookalike] += g.kind == "placeholder"
    for kind in pc.NEGATIVE_KINDS:
        assert count[kind] >= 50, (kind, count[kind])
    assert look["EMAIL"] >= 50 and look["GENERIC_SECRET"] >= 30 and look["AWS_ACCESS_KEY"] >= 1
    negative_only = [it for it in corpus if not it.spans]
    assert len(negative_only) >= 400


def _values(corpus: list[pc.Item], entity: str) -> list[pc.Span]:
    return [s for it in corpus for s in it.spans if s.entity == entity]


def test_validators_hold(corpus: list[pc.Item]) -> None:
    for s in _values(corpus, "CREDIT_CARD"):
        assert pc.luhn_ok(s.value), s
    for it in corpus:
        for g in it.negatives:
            if g.kind == "luhn_invalid_card":
                assert (
                    not pc.luhn_ok(g.value) and len(g.value.replace(" ", "").replace("-", "")) == 16
                )
            if g.kind == "isbn":
                d = g.value.replace("-", "")
                assert sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(d)) % 10 == 0
            if g.kind == "placeholder" and g.lookalike == "EMAIL":
                assert g.value.split("@")[1].split(".")[-1] in (
                    "com",
                    "org",
                    "net",
                    "example",
                    "test",
                    "uk",
                )
                assert "example" in g.value or g.value.endswith(".test")
    for s in _values(corpus, "IBAN"):
        assert pc.iban_ok(s.value), s
    for s in _values(corpus, "US_SSN"):
        assert pc.ssn_ok(s.value), s
    classic = [s for s in _values(corpus, "GITHUB_TOKEN") if not s.value.startswith("github_pat_")]
    fine = [s for s in _values(corpus, "GITHUB_TOKEN") if s.value.startswith("github_pat_")]
    assert len(classic) >= 40 and len(fine) >= 10
    for s in classic:
        assert pc.github_checksum_ok(s.value), s
        bad = s.value[:-1] + ("A" if s.value[-1] != "A" else "B")
        assert not pc.github_checksum_ok(bad)
    for s in fine:
        assert len(s.value) == 93 and s.value[33] == "_"
    for s in _values(corpus, "AWS_ACCESS_KEY"):
        assert len(s.value) == 20 and set(s.value[4:]) <= set(pc.B32)
    for s in _values(corpus, "GOOGLE_API_KEY"):
        assert s.value.startswith("AIza") and len(s.value) == 39
    for s in _values(corpus, "ANTHROPIC_API_KEY"):
        assert s.value.startswith("sk-ant-") and s.value.endswith("AA")
    for s in _values(corpus, "OPENAI_API_KEY"):
        assert "T3BlbkFJ" in s.value
    for s in _values(corpus, "JWT"):
        head, payload, sig = s.value.split(".")
        pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
        assert json.loads(base64.urlsafe_b64decode(pad(head)))["typ"] == "JWT"
        assert "iat" in json.loads(base64.urlsafe_b64decode(pad(payload)))
        assert len(base64.urlsafe_b64decode(pad(sig))) in (32, 48, 64)
    for it in corpus:
        for s in it.spans:
            if s.entity == "URL_CREDENTIALS":  # the userinfo of scheme://user:password@host
                assert ":" in s.value and it.text[s.end] == "@"
                assert it.text[: s.start].endswith("://")


def test_private_keys_are_real(corpus: list[pc.Item]) -> None:
    keys = _values(corpus, "PRIVATE_KEY")
    assert any(s.variant == "json_escaped" for s in keys)
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    loaded = 0
    for s in keys:
        pem = s.value.replace("\\n", "\n").encode()
        if b"OPENSSH" in pem:
            serialization.load_ssh_private_key(pem, password=None)
        else:
            serialization.load_pem_private_key(pem, password=None)
        loaded += 1
    assert loaded == len(keys) >= 80


# ----------------------------------------------------------------------------- covekit.Redactor
#: Per-entity recall floors for covekit.Redactor on the corpus (match: a finding of the
#: same entity overlapping the gold span). To be set from the first measurement once
#: the scanner lands; the comparison with the peers is in tests/benchmarks/bench_redact.py.
RECALL_FLOORS: dict[str, float] = {
    "EMAIL": 0.99,
    "PHONE": 0.90,
    "CREDIT_CARD": 0.99,
    "IBAN": 0.99,
    "US_SSN": 0.95,
    "IP_ADDRESS": 0.98,
    "MAC_ADDRESS": 0.98,
    "URL_CREDENTIALS": 0.95,
    "AWS_ACCESS_KEY": 0.99,
    "GITHUB_TOKEN": 0.99,
    "OPENAI_API_KEY": 0.99,
    "ANTHROPIC_API_KEY": 0.99,
    "SLACK_TOKEN": 0.99,
    "STRIPE_KEY": 0.99,
    "GOOGLE_API_KEY": 0.99,
    "PRIVATE_KEY": 0.99,
    "JWT": 0.99,
    "GENERIC_SECRET": 0.85,
}

#: Hard-negative kinds on which findings are tolerated (documented), with the largest
#: share of them that may be flagged. Everything else: zero findings.
TOLERATED_NEGATIVES: dict[str, float] = {
    # Measured on the default seed (covekit / Presidio's pattern recognizers, the share
    # flagged): an invoice id written 641-976-8717 is a US phone number by its shape, and
    # only words could tell them apart (0.22 / 0.35); a 10-digit tracking number, an
    # epoch timestamp, an ISBN or an order number is a dialable number in some regions
    # and a context word nearby lifts it (0.00-0.02 / 0.18-0.30); a weak password such as
    # '12345678' assigned to a password key is still reported (placeholders 0.03 / 0.32).
    "invoice_id": 0.25,
    "tracking_number": 0.05,
    "timestamp": 0.02,
    "isbn": 0.03,
    "order_number": 0.02,
    "version": 0.02,
    "placeholder": 0.05,
}


#: Documentation placeholders (RFC 2606 example domains, masked keys, AWS's published
#: example key): what a team puts on the allowlist; the scanner has no built-in one.
PLACEHOLDERS = [
    r"[^@\s]+@(?:[\w-]+\.)*(?:example\.(?:com|net|org|co\.uk)|[\w-]+\.(?:test|example|invalid))",
    r"(?:sk|pk|rk)_(?:test|live)_x+",
    r"AKIA[A-Z0-9]*EXAMPLE",
]


def _redactor():  # type: ignore[no-untyped-def]
    import covekit

    return covekit.Redactor(allow_patterns=PLACEHOLDERS)


def _entity(f) -> str:  # type: ignore[no-untyped-def]
    """covekit reports a keyword-assigned AWS secret key as its own entity; the corpus
    labels it a generic secret (the kind detect-secrets and the others report)."""
    return "GENERIC_SECRET" if f.entity == "AWS_SECRET_KEY" else str(f.entity)


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def test_redactor_recall_floors(corpus: list[pc.Item]) -> None:
    r = _redactor()
    hit: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for it in corpus:
        found = r.scan(it.text)
        for f in found:
            assert it.text[f.start : f.end] == f.text
        for s in it.spans:
            total[s.entity] += 1
            hit[s.entity] += any(
                _entity(f) == s.entity and _overlaps(f.start, f.end, s.start, s.end) for f in found
            )
    recall = {e: hit[e] / total[e] for e in total}
    low = {e: round(recall[e], 4) for e, floor in RECALL_FLOORS.items() if recall[e] < floor}
    assert not low, f"recall under the floor: {low} (all: {recall})"


def test_redactor_quiet_on_hard_negatives(corpus: list[pc.Item]) -> None:
    r = _redactor()
    flagged: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    examples: dict[str, list[str]] = defaultdict(list)
    for it in corpus:
        if not it.negatives:
            continue
        found = r.scan(it.text)
        for g in it.negatives:
            total[g.kind] += 1
            bad = [f for f in found if _overlaps(f.start, f.end, g.start, g.end)]
            if bad:
                flagged[g.kind] += 1
                if len(examples[g.kind]) < 3:
                    examples[g.kind].append(f"{g.value!r} as {bad[0].entity}/{bad[0].rule}")
    over = {
        k: (flagged[k], total[k], examples[k])
        for k in flagged
        if flagged[k] / total[k] > TOLERATED_NEGATIVES.get(k, 0.0)
    }
    assert not over, f"findings on hard negatives: {over}"


def test_redactor_checks_github_checksums(corpus: list[pc.Item]) -> None:
    """Every classic token the corpus makes carries a valid CRC-32 (checked in Python by
    ``github_checksum_ok``); the scanner must agree, and reject a corrupted one."""
    r = _redactor()
    seen = 0
    for it in corpus:
        for s in it.spans:
            if s.entity != "GITHUB_TOKEN" or s.value.startswith("github_pat_"):
                continue
            assert pc.github_checksum_ok(s.value)
            rules = {f.rule for f in r.scan(s.value)}
            assert rules == {"github_token.classic+checksum"}, s.value
            last = s.value[-1]
            broken = s.value[:-1] + ("0" if last != "0" else "1")
            assert {f.rule for f in r.scan(broken)} == {"github_token.classic"}
            seen += 1
    assert seen >= 50


# ----------------------------------------------------------------------------- adjacent values
#: What may stand between two values: spaces, punctuation, CJK text without spaces.
SEPARATORS = [" ", "  ", "\n", "\t", ", ", "; ", " | ", "|", ",", ";", " / ", ": ", " - ",
              " (", " [", ")", "]", "}", ">", "<", '"', "'", "*", "#", "!", "?", "~",
              "、", "\uff0c", "。", "和"]  # fmt: skip


@pytest.fixture(scope="module")
def alone(corpus: list[pc.Item]) -> list[tuple[str, str, str]]:
    """(entity, text, the part a finding must cover) for the corpus's labelled values
    that the scanner finds alone, whole. A URL's userinfo is put back in its URL; a
    generic secret's value is given a key (the label is the value only)."""
    r = _redactor()
    out: list[tuple[str, str, str]] = []
    for it in corpus:
        for s in it.spans:
            if s.entity == "URL_CREDENTIALS":
                text = "postgres://" + s.value + "@db-1.internal:5432"
                part = text
            elif s.entity == "GENERIC_SECRET":
                if any(c in s.value for c in '"\\\n'):
                    continue
                text, part = f'api_key="{s.value}"', s.value
            else:
                text = part = s.value
            found = r.scan(text)
            if [(_entity(f), f.text) for f in found] == [(s.entity, part)]:
                out.append((s.entity, text, part))
    assert {e for e, _, _ in out} == set(pc.ENTITIES)
    return out


def test_labelled_values_are_found_alone(
    corpus: list[pc.Item], alone: list[tuple[str, str, str]]
) -> None:
    labelled = sum(len(it.spans) for it in corpus)
    assert len(alone) >= 0.95 * labelled, (len(alone), labelled)


@given(st.data())
def test_two_labelled_values_side_by_side_are_both_found(
    alone: list[tuple[str, str, str]], data: st.DataObject
) -> None:
    """Concatenating two values the scanner finds alone, with a separator, gives findings
    that cover both, and a redaction that holds neither (the card after a phone in
    "415-555-2671 4111 1111 1111 1111" was kept)."""
    r = _redactor()
    a = data.draw(st.sampled_from(alone), "first")
    sep = data.draw(st.sampled_from(SEPARATORS), "separator")
    b = data.draw(st.sampled_from(alone), "second")
    text = a[1] + sep + b[1]
    a0 = a[1].index(a[2])
    b0 = len(a[1]) + len(sep) + b[1].index(b[2])
    found = r.scan(text)
    for start, part in ((a0, a[2]), (b0, b[2])):
        assert any(f.start <= start and start + len(part) <= f.end for f in found), (text, found)
    red = r.redact(text)
    assert a[2] not in red.value and b[2] not in red.value
    assert not r.redact(red.value).changed
