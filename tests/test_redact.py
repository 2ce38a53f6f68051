"""covekit.Redactor: each entity and action, JSON paths, messages, allowlists,
thresholds, errors, bad input, and hypothesis properties (placeholders never hold the
original, redaction is idempotent, offsets point at the original text, the vault
restores the original, text without findings comes back as the same object)."""

from __future__ import annotations

import copy
import doctest
import hashlib
import hmac
import pickle
import re
import threading

import covekit
import covekit.decision.redact as redact_module
import pytest
from covekit import ENTITIES, Finding, Redactor, Vault
from covekit.errors import CovekitError, InvalidInput, InvalidUtf8, UnknownEntity
from hypothesis import given
from hypothesis import strategies as st

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
    "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
GHP = "ghp_" + "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"

#: one positive per entity: (entity, text, the matched part)
POSITIVES = [
    ("EMAIL", "write to jane.doe@example.org today", "jane.doe@example.org"),
    ("PHONE", "call me at +44 20 7946 0958", "+44 20 7946 0958"),
    ("PHONE", "(415) 555-2671", "(415) 555-2671"),
    ("CREDIT_CARD", "card 4111-1111-1111-1111 exp 12/29", "4111-1111-1111-1111"),
    ("IBAN", "IBAN: GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
    ("US_SSN", "SSN 123-45-6789", "123-45-6789"),
    ("IP_ADDRESS", "from 203.0.113.9 at", "203.0.113.9"),
    ("IP_ADDRESS", "via 2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
    ("MAC_ADDRESS", "nic 3c:22:fb:0a:1b:2c", "3c:22:fb:0a:1b:2c"),
    (
        "URL_CREDENTIALS",
        "redis://app:pa55w0rd@cache.internal:6379/0",
        "redis://app:pa55w0rd@cache.internal:6379",
    ),
    ("AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "AWS_SECRET_KEY",
        "aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("GITHUB_TOKEN", f"use {GHP} for CI", GHP),
    (
        "OPENAI_API_KEY",
        "sk-abcdefghij0123456789T3BlbkFJabcdefghij0123456789",
        "sk-abcdefghij0123456789T3BlbkFJabcdefghij0123456789",
    ),
    (
        "ANTHROPIC_API_KEY",
        "key sk-ant-api03-" + "Ab1_" * 20 + "AA",
        "sk-ant-api03-" + "Ab1_" * 20 + "AA",
    ),
    (
        "SLACK_TOKEN",
        "xoxp-1234567890-0987654321-abcdefABCDEF",
        "xoxp-1234567890-0987654321-abcdefABCDEF",
    ),
    ("STRIPE_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    (
        "GOOGLE_API_KEY",
        "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
        "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
    ),
    ("PRIVATE_KEY", f"here:\n{PEM}\nthanks", PEM),
    ("JWT", f"Authorization: Bearer {JWT}", JWT),
    ("GENERIC_SECRET", 'config = {"db_password": "Qz8!vL2#pX9@mK4"}', "Qz8!vL2#pX9@mK4"),
]

NEGATIVES = [
    "Order 2024-01-05T10:22:33 shipped, invoice INV-415-555-2671.",
    "Card 4111111111111112 failed the check.",
    "uuid 550e8400-e29b-41d4-a716-446655440000 and version 1.2.3.4 of the tool",
    "The patients (n = 1234) were followed for 12.5 years; p < 0.001.",
    "password: ${DB_PASSWORD} and api_key = <your-key-here>",
    "Send it to user@localhost or @handle.",
]


@pytest.fixture(scope="module")
def r() -> Redactor:
    return Redactor()


@pytest.mark.parametrize(("entity", "text", "match"), POSITIVES, ids=[p[0] for p in POSITIVES])
def test_each_entity_is_found(r: Redactor, entity: str, text: str, match: str) -> None:
    found = r.scan(text)
    assert [(f.entity, f.text) for f in found] == [(entity, match)]
    f = found[0]
    assert text[f.start : f.end] == match
    assert 0 <= f.score <= 1 and f.rule
    assert r.redact(text).value == text.replace(match, f"<{entity}_1>")


def test_every_entity_has_a_positive() -> None:
    assert {p[0] for p in POSITIVES} == set(ENTITIES)


@pytest.mark.parametrize("text", NEGATIVES)
def test_hard_negatives(r: Redactor, text: str) -> None:
    assert r.scan(text) == []
    assert r.redact(text).value is text


def test_offsets_are_code_points(r: Redactor) -> None:
    text = "Grüße 👋🏽 an joerg@example.de \u2013 電話 +81 3-1234-5678"
    found = r.scan(text)
    assert [f.entity for f in found] == ["EMAIL", "PHONE"]
    for f in found:
        assert text[f.start : f.end] == f.text
    assert found[0].text == "joerg@example.de"
    assert (found[0].start, found[1].start) == (12, 34)  # code points, not bytes
    assert found[1].text == "+81 3-1234-5678"


@pytest.mark.parametrize(
    "address",
    ["jörg@example.de", "jörg@bücher.de", "иван@пример.рф", "Ελένη@παράδειγμα.ελ", "zoë.ø@x.dk"],
)
def test_internationalized_addresses_are_found_whole(r: Redactor, address: str) -> None:
    # RFC 6531 addresses written with Latin, Greek or Cyrillic letters: nothing of the
    # local part may stay in the clear
    text = f"Schreiben Sie an {address}, danke."
    found = r.scan(text)
    assert [(f.entity, f.text) for f in found] == [("EMAIL", address)]
    assert address not in r.redact(text).value


def test_cjk_around_an_address_is_not_taken_into_it(r: Redactor) -> None:
    found = r.scan("请联系jorg@example.com谢谢")
    assert [(f.entity, f.text) for f in found] == [("EMAIL", "jorg@example.com")]


# --------------------------------------------------------------------------- actions


def test_placeholders_number_per_entity_in_order_of_appearance(r: Redactor) -> None:
    text = "a@example.com, b@example.com, a@example.com, 10.0.0.1, b@example.com"
    red = r.redact(text)
    assert red.value == "<EMAIL_1>, <EMAIL_2>, <EMAIL_1>, <IP_ADDRESS_1>, <EMAIL_2>"
    assert red.counts == {"EMAIL": 4, "IP_ADDRESS": 1}
    assert red.changed


def test_mask_keeps_a_cards_last_four_and_masks_others_to_length() -> None:
    red = Redactor(default_action="mask").redact(
        "4111 1111 1111 1234 x@example.com".replace("1234", "1111")
    )
    assert red.value == "****1111 " + "*" * len("x@example.com")


def test_hash_is_keyed_hmac_sha256_truncated() -> None:
    key = b"k" * 32
    red = Redactor(actions={"EMAIL": "hash"}, hash_key=key, hash_length=10).redact(
        "to a@example.com"
    )
    digest = hmac.new(key, b"a@example.com", hashlib.sha256).hexdigest()[:10]
    assert red.value == f"to <EMAIL:{digest}>"
    other = Redactor(actions={"EMAIL": "hash"}, hash_key=b"other key").redact("to a@example.com")
    assert other.value != red.value


def test_hash_without_a_key_is_refused_at_construction() -> None:
    with pytest.raises(InvalidInput, match="hash_key"):
        Redactor(actions={"EMAIL": "hash"})
    with pytest.raises(InvalidInput, match="hash_key"):
        Redactor(default_action="hash")
    with pytest.raises(InvalidInput, match="hash_length"):
        Redactor(default_action="hash", hash_key=b"k", hash_length=2)


def test_drop_removes(r: Redactor) -> None:
    assert Redactor(default_action="drop").redact("ip 10.0.0.1!").value == "ip !"


def test_unknown_action_is_refused() -> None:
    with pytest.raises(InvalidInput, match="action"):
        Redactor(actions={"EMAIL": "erase"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="default_action"):
        Redactor(default_action="erase")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- vault


def test_vault_restores_across_calls_and_keeps_numbering(r: Redactor) -> None:
    vault = Vault()
    first = r.redact("I am ann@example.com", vault=vault).value
    second = r.redact("cc bob@example.com and ann@example.com", vault=vault).value
    assert first == "I am <EMAIL_1>"
    assert second == "cc <EMAIL_2> and <EMAIL_1>"
    assert (
        vault.restore("Hi <EMAIL_1>, I wrote to <EMAIL_2>.")
        == "Hi ann@example.com, I wrote to bob@example.com."
    )
    assert len(vault) == 2 and "<EMAIL_1>" in vault and vault.get("<EMAIL_3>") is None


def test_vault_is_never_persisted_and_hides_values(r: Redactor) -> None:
    vault = Vault()
    r.redact("secret person ann@example.com", vault=vault)
    assert "ann" not in repr(vault)
    for dump in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="never persisted"):
            dump(vault)


def test_only_placeholders_go_to_the_vault() -> None:
    vault = Vault()
    Redactor(default_action="mask").redact("ann@example.com", vault=vault)
    assert len(vault) == 0


def test_vault_is_thread_safe(r: Redactor) -> None:
    vault = Vault()
    texts = [f"user{i}@example.com" for i in range(200)]

    def work(chunk: list[str]) -> None:
        for t in chunk:
            r.redact(t, vault=vault)

    threads = [threading.Thread(target=work, args=(texts[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(vault) == 200
    restored = {vault.restore(f"<EMAIL_{i}>") for i in range(1, 201)}
    assert restored == set(texts)


# --------------------------------------------------------------------------- structures


def test_json_paths_keys_and_leaves(r: Redactor) -> None:
    value = {
        "user": {"email": "ann@example.com", "age": 41, "ip": b"10.0.0.1"},
        "items": [{"note": "ok"}, None, "card 4111111111111111"],
        "ann@example.com": "key is an email",
        3: "int key 10.0.0.2",
        "t": ("x", "10.0.0.3"),
        "my key": "192.0.2.1",
    }
    red = r.redact(value)
    assert red.value == {
        "user": {"email": "<EMAIL_1>", "age": 41, "ip": b"10.0.0.1"},  # bytes are not scanned
        "items": [{"note": "ok"}, None, "card <CREDIT_CARD_1>"],
        "<EMAIL_1>": "key is an email",
        3: "int key <IP_ADDRESS_1>",
        "t": ("x", "<IP_ADDRESS_2>"),
        "my key": "<IP_ADDRESS_3>",
    }
    assert [(f.path, f.key) for f in red.findings] == [
        ("$.user.email", False),
        ("$.items[2]", False),
        ("$['ann@example.com']", True),
        ("$[3]", False),
        ("$.t[1]", False),
        ("$['my key']", False),
    ]
    assert red.value["items"][0] is value["items"][0]  # unchanged parts are the same objects
    assert Redactor(redact_keys=False).redact({"ann@example.com": 1}).value == {
        "ann@example.com": 1
    }


def test_deep_nesting_has_no_recursion_limit(r: Redactor) -> None:
    deep: object = "mail ann@example.com"
    for _ in range(10_000):
        deep = [deep]
    red = r.redact(deep)
    inner = red.value
    for _ in range(10_000):
        assert isinstance(inner, list)
        inner = inner[0]
    assert inner == "mail <EMAIL_1>"
    assert red.findings[0].path == "$" + "[0]" * 10_000


def test_cycles_are_refused(r: Redactor) -> None:
    loop: list[object] = ["a@example.com"]
    loop.append(loop)
    with pytest.raises(InvalidInput, match="contains itself"):
        r.redact(loop)


def test_messages(r: Redactor) -> None:
    msgs = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": "My card is 4111 1111 1111 1111, mail ann@example.com",
            "name": "ann@x",
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "again ann@example.com"},
                {"type": "image_url", "image_url": {"url": "https://a:b@img.example.com/x.png"}},
            ],
        },
    ]
    red = r.redact(msgs)
    assert red.value[0] is msgs[0]
    assert red.value[1] == {
        "role": "user",
        "content": "My card is <CREDIT_CARD_1>, mail <EMAIL_1>",
        "name": "ann@x",
    }
    assert red.value[2]["content"][0]["text"] == "again <EMAIL_1>"
    assert red.value[2]["content"][1] is msgs[2]["content"][1]  # only text parts are redacted
    assert [f.path for f in red.findings] == [
        "$[1].content",
        "$[1].content",
        "$[2].content[0].text",
    ]
    assert msgs[1]["content"].startswith("My card is 4111")  # the input is not modified


# --------------------------------------------------------------------------- configuration


def test_entities_disable_and_thresholds() -> None:
    text = "a@example.com 10.0.0.1 415-555-2671"
    assert [f.entity for f in Redactor(entities=["EMAIL"]).scan(text)] == ["EMAIL"]
    assert [f.entity for f in Redactor(disable=["EMAIL"]).scan(text)] == ["IP_ADDRESS", "PHONE"]
    assert [f.entity for f in Redactor(thresholds={"PHONE": 0.9}).scan(text)] == [
        "EMAIL",
        "IP_ADDRESS",
    ]
    # A low threshold lets weak matches through: bare digits scored 0.25.
    assert Redactor(thresholds={"PHONE": 0.0}).scan("4155552671")[0].rule == "phone.digits"


def test_unknown_entity_names_suggest() -> None:
    with pytest.raises(UnknownEntity, match="did you mean 'EMAIL'") as info:
        Redactor(entities=["EMAILS"])
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert isinstance(info.value, CovekitError)
    for kwargs in (
        {"disable": ["CARD"]},
        {"thresholds": {"IPV4": 0.5}},
        {"actions": {"SSN": "mask"}},
    ):
        with pytest.raises(UnknownEntity):
            Redactor(**kwargs)  # type: ignore[arg-type]


def test_bad_thresholds_and_options() -> None:
    with pytest.raises(InvalidInput, match="threshold"):
        Redactor(thresholds={"EMAIL": 1.5})
    with pytest.raises(InvalidInput, match="context_window"):
        Redactor(context_window=5000)
    with pytest.raises(InvalidInput):
        Redactor(entities="EMAIL")


def test_allowlist_literals_and_patterns() -> None:
    text = "mail user@example.com or ann@corp.io, key AKIAIOSFODNN7EXAMPLE"
    r = Redactor(allowlist=["AKIAIOSFODNN7EXAMPLE", re.compile(r".*@example\.com")])
    assert [f.text for f in r.scan(text)] == ["ann@corp.io"]
    r2 = Redactor(allow_patterns=[r"[a-z]+@corp\.io"])
    assert [f.text for f in r2.scan(text)] == ["user@example.com", "AKIAIOSFODNN7EXAMPLE"]


def test_allow_pattern_that_does_not_compile_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"allow pattern '\[a-z' does not compile"):
        Redactor(allow_patterns=["[a-z"])
    with pytest.raises(InvalidInput, match="allowlist items"):
        Redactor(allowlist=[42])  # type: ignore[list-item]


def test_recognizer_hook() -> None:
    def names(text: str) -> list[Finding]:
        return [
            Finding("PERSON", m.start(), m.end(), m.group(), 0.85, "test.names")
            for m in re.finditer(r"\b(?:Ann|Bob) [A-Z][a-z]+", text)
        ]

    names.entities = ("PERSON",)  # type: ignore[attr-defined]
    r = Redactor(recognizers=[names], actions={"PERSON": "placeholder"})
    red = r.redact("Ann Lee (ann@example.com) met Bob Stone.")
    assert red.value == "<PERSON_1> (<EMAIL_1>) met <PERSON_2>."
    assert Redactor(recognizers=[names], thresholds={"PERSON": 0.9}).scan("Ann Lee") == []

    def bad(text: str) -> list[Finding]:
        return [Finding("PERSON", 0, len(text) + 5, "", 1.0, "bad")]

    with pytest.raises(InvalidInput, match="outside"):
        Redactor(recognizers=[bad]).scan("abc")


# --------------------------------------------------------------------------- adjacent values


def test_a_card_right_after_a_phone_is_found(r: Redactor) -> None:
    """The reported bug: the phone was found and the card right after it kept."""
    text = "415-555-2671 4111 1111 1111 1111"
    assert [(f.entity, f.text) for f in r.scan(text)] == [
        ("PHONE", "415-555-2671"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    ]
    assert r.redact(text).value == "<PHONE_1> <CREDIT_CARD_1>"


_CARD = "4111 1111 1111 1111"
_MC = "5555 5555 5555 4444"
_AMEX = "3782 822463 10005"
_MAC = "3c:22:fb:0a:1b:2c"
_IBAN_E = "GB82WEST12345698765432"
_AKIA = "AKIAIOSFODNN7EXAMPLE"
_IBAN = "GB82 WEST 1234 5698 7654 32"
_SECRET = "Zk9!qW7#xP2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"+1 415 555 2671 {_CARD}", [("PHONE", "+1 415 555 2671"), ("CREDIT_CARD", _CARD)]),
        (f"{_CARD} {_MC}", [("CREDIT_CARD", _CARD), ("CREDIT_CARD", _MC)]),
        (f"123-45-6789 {_CARD}", [("US_SSN", "123-45-6789"), ("CREDIT_CARD", _CARD)]),
        ("+1 415 555 2671 415-555-2671", [("PHONE", "+1 415 555 2671"), ("PHONE", "415-555-2671")]),
        (f"GB82 WEST 1234 5698 7654 32 {_CARD}", [("IBAN", _IBAN), ("CREDIT_CARD", _CARD)]),
        (f"{_MAC} {_AMEX}", [("MAC_ADDRESS", _MAC), ("CREDIT_CARD", _AMEX)]),
        (f"ref 12345 {_CARD}", [("CREDIT_CARD", _CARD)]),
        (f"电话415-555-2671、{_CARD}", [("PHONE", "415-555-2671"), ("CREDIT_CARD", _CARD)]),
        ("from fe80::1: refused", [("IP_ADDRESS", "fe80::1")]),
        (f"mac:{_MAC}", [("MAC_ADDRESS", _MAC)]),
        # a generic secret's unquoted value ends where the next value starts
        (f"pwd={_SECRET}|{_CARD}", [("GENERIC_SECRET", f"{_SECRET}|"), ("CREDIT_CARD", _CARD)]),
        (f"{_CARD}<password={_SECRET}", [("CREDIT_CARD", _CARD), ("GENERIC_SECRET", _SECRET)]),
        # glued: found by the pass with the first finding blanked out
        (f"{_IBAN_E}+44 20 7946 0958", [("IBAN", _IBAN_E), ("PHONE", "+44 20 7946 0958")]),
        (f"{GHP}.123-45-6789", [("GITHUB_TOKEN", GHP), ("US_SSN", "123-45-6789")]),
        (f"fe80::1:{_AKIA}", [("IP_ADDRESS", "fe80::1"), ("AWS_ACCESS_KEY", _AKIA)]),
        # the middle and the unprinted tail of a 22-digit tracking number are no card
        ("tracking 9400 6514 4162 6005 1551 96", []),
    ],
)  # fmt: skip
def test_adjacent_values(r: Redactor, text: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.entity, f.text) for f in r.scan(text)] == expected


def test_recognizer_findings_resolve_like_native_ones() -> None:
    """The disjoint set covering the most text: a recognizer's finding that overlaps the
    end of a native one does not take the native one's place when both can be had."""

    def ids(text: str) -> list[Finding]:
        found = re.finditer(r"\d{4}(?: 1111){3} 999", text)
        return [Finding("ORDER", m.start(), m.end(), m.group(), 0.9, "t") for m in found]

    ids.entities = ("ORDER",)  # type: ignore[attr-defined]
    r = Redactor(recognizers=[ids])
    # alone, the recognizer's longer span wins over the card it contains
    assert [f.entity for f in r.scan("4111 1111 1111 1111 999")] == ["ORDER"]

    def late(text: str) -> list[Finding]:
        i = text.find("2671 and")
        return [Finding("NOTE", i, i + 8, text[i : i + 8], 0.9, "t")] if i >= 0 else []

    late.entities = ("NOTE",)  # type: ignore[attr-defined]
    text = "415-555-2671 and ann@example.com"
    # PHONE [0, 12) and NOTE [8, 16) overlap: the phone (12 characters) covers more
    assert [(f.entity, f.text) for f in Redactor(recognizers=[late]).scan(text)] == [
        ("PHONE", "415-555-2671"),
        ("EMAIL", "ann@example.com"),
    ]

    def inside(text: str) -> list[Finding]:
        i = text.find("|")
        return [Finding("TAG", i + 1, len(text), text[i + 1 :], 0.9, "t")] if i >= 0 else []

    inside.entities = ("TAG",)  # type: ignore[attr-defined]
    # a native generic secret ends where a recognizer's finding starts inside it
    found = Redactor(recognizers=[inside]).scan("password=Zk9!qW7#xP2|tail and more")
    assert [(f.entity, f.text) for f in found] == [
        ("GENERIC_SECRET", "Zk9!qW7#xP2|"),
        ("TAG", "tail and more"),
    ]


#: Values each found alone, whole: (entity, text, the part a finding must cover).
ADJACENT: list[tuple[str, str, str]] = [
    ("EMAIL", "jane.doe@example.org", "jane.doe@example.org"),
    ("PHONE", "+44 20 7946 0958", "+44 20 7946 0958"),
    ("PHONE", "(415) 555-2671", "(415) 555-2671"),
    ("PHONE", "415-555-2671", "415-555-2671"),
    ("PHONE", "+1 415 555 2671", "+1 415 555 2671"),
    ("PHONE", "020 7946 0958", "020 7946 0958"),
    ("CREDIT_CARD", "4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "4111-1111-1111-1111", "4111-1111-1111-1111"),
    ("CREDIT_CARD", "5555555555554444", "5555555555554444"),
    ("CREDIT_CARD", "3782 822463 10005", "3782 822463 10005"),
    ("IBAN", "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32"),
    ("IBAN", "DE89370400440532013000", "DE89370400440532013000"),
    ("US_SSN", "123-45-6789", "123-45-6789"),
    ("IP_ADDRESS", "203.0.113.9", "203.0.113.9"),
    ("IP_ADDRESS", "2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
    ("IP_ADDRESS", "fe80::1", "fe80::1"),
    ("MAC_ADDRESS", "3c:22:fb:0a:1b:2c", "3c:22:fb:0a:1b:2c"),
    ("MAC_ADDRESS", "3C-22-FB-0A-1B-2C", "3C-22-FB-0A-1B-2C"),
    *[(e, m, m) for e, _, m in POSITIVES if e in ("URL_CREDENTIALS", "AWS_ACCESS_KEY",
        "GITHUB_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SLACK_TOKEN", "STRIPE_KEY",
        "GOOGLE_API_KEY", "PRIVATE_KEY", "JWT")],
    ("GENERIC_SECRET", 'password="Qz8!vL2#pX9@mK4"', "Qz8!vL2#pX9@mK4"),
    ("GENERIC_SECRET", "api_key=Zk9qW7xP2mLr4TnB", "Zk9qW7xP2mLr4TnB"),
    *[p for p in POSITIVES if p[0] == "AWS_SECRET_KEY"],
]  # fmt: skip

#: What may stand between two values: spaces, punctuation, CJK text without spaces.
SEPARATORS = [" ", "  ", "\n", "\t", ", ", "; ", " | ", "|", ",", ";", " / ", ": ", " - ",
              " (", " [", ")", "]", "}", ">", "<", '"', "'", "*", "#", "!", "?", "~",
              "、", "\uff0c", "。", "和"]  # fmt: skip


def test_adjacent_values_are_each_found_alone() -> None:
    r = Redactor()
    for entity, text, part in ADJACENT:
        found = r.scan(text)
        assert [(f.entity, f.text) for f in found] == [(entity, part)], text


def _covered(found: list[Finding], start: int, end: int) -> bool:
    return any(f.start <= start and end <= f.end for f in found)


@given(st.sampled_from(ADJACENT), st.sampled_from(SEPARATORS), st.sampled_from(ADJACENT))
def test_two_adjacent_values_are_both_found_and_redacted(
    a: tuple[str, str, str], sep: str, b: tuple[str, str, str]
) -> None:
    r = Redactor()
    text = a[1] + sep + b[1]
    a0 = a[1].index(a[2])
    b0 = len(a[1]) + len(sep) + b[1].index(b[2])
    found = r.scan(text)
    assert _covered(found, a0, a0 + len(a[2])), (text, found)
    assert _covered(found, b0, b0 + len(b[2])), (text, found)
    red = r.redact(text)
    assert a[2] not in red.value and b[2] not in red.value
    # one pass is enough: nothing is left for a second one
    assert not r.redact(red.value).changed


# --------------------------------------------------------------------------- bad input


def test_empty_and_non_text(r: Redactor) -> None:
    assert r.scan("") == []
    empty = ""
    assert r.redact(empty).value is empty
    assert r.redact(42).value == 42
    assert r.redact([]).value == []
    with pytest.raises(InvalidInput):
        r.scan(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not bytes"):
        r.redact(b"a@example.com")


def test_lone_surrogates_are_scanned_as_replacement_characters(r: Redactor) -> None:
    text = "\ud800 ann@example.com \udfff"
    found = r.scan(text)
    assert [(f.entity, f.start, f.end) for f in found] == [("EMAIL", 2, 17)]
    assert r.redact(text).value == "\ud800 <EMAIL_1> \udfff"


def test_bytes_must_be_utf8(r: Redactor) -> None:
    assert [f.text for f in r.scan("é a@example.com".encode())] == ["a@example.com"]
    with pytest.raises(InvalidUtf8) as info:
        r.scan(b"ok \xff a@example.com")
    assert "byte offset 3" in str(info.value)


def test_scan_batch_equals_one_by_one(r: Redactor) -> None:
    texts = [p[1] for p in POSITIVES] * 5 + NEGATIVES
    assert r.scan_batch(texts, num_threads=3) == [r.scan(t) for t in texts]
    with pytest.raises(InvalidInput, match="num_threads"):
        r.scan_batch(texts, num_threads=0)
    with pytest.raises(InvalidInput):
        r.scan_batch("a@example.com")


@pytest.mark.slow
def test_100_mb_input(r: Redactor) -> None:
    block = "Plain prose about refunds and cards, nothing to hide here at all. " * 16
    text = (block * (100_000_000 // len(block))) + " ann@example.com"
    found = r.scan(text)
    assert [(f.entity, f.start) for f in found] == [("EMAIL", len(text) - 15)]


def test_doctests() -> None:
    result = doctest.testmod(redact_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_names() -> None:
    for name in ("Redactor", "Redaction", "Finding", "Vault", "ENTITIES"):
        assert getattr(covekit, name) is getattr(redact_module, name)
        assert getattr(covekit.decision, name) is getattr(redact_module, name)
    assert covekit.errors.UnknownEntity is UnknownEntity


# --------------------------------------------------------------------------- properties

_pii = st.sampled_from(
    [p[2] for p in POSITIVES] + ["ann@example.com", "10.0.0.1", "+1 415-555-2671"]
)
_filler = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFF), max_size=30
)
_texts = st.lists(st.one_of(_pii, _filler), max_size=8).map(" ".join)


@given(_texts)
def test_offsets_point_at_the_original(text: str) -> None:
    for f in Redactor().scan(text):
        assert text[f.start : f.end] == f.text


@given(_texts)
def test_placeholders_never_hold_the_original_and_the_vault_restores(text: str) -> None:
    r = Redactor()
    vault = Vault()
    red = r.redact(text, vault=vault)
    for f in red.findings:
        ph = [p for p in re.findall(r"<[A-Z_]+_\d+>", red.value) if vault.get(p) == f.text]
        assert ph and all(f.text not in p for p in ph)
    assert vault.restore(red.value) == text


@given(_texts, st.sampled_from(["placeholder", "mask", "hash"]))
def test_redacting_twice_changes_nothing_more(text: str, action: str) -> None:
    r = Redactor(default_action=action, hash_key=b"k" * 16)  # type: ignore[arg-type]
    once = r.redact(text).value
    twice = r.redact(once)
    assert twice.value == once
    assert not twice.changed


@given(_filler)
def test_text_without_findings_comes_back_identical(text: str) -> None:
    r = Redactor()
    if not r.scan(text):
        assert r.redact(text).value is text
