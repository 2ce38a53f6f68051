"""covekit.decision.conflicts: quantities, key terms and conflicts across documents.

Every quantity form (durations, money, percentages, dates, counts; ranges, bounds, number
words, thousands separators), the things that are not quantities (identifiers, versions,
phone numbers, URLs, citation markers, labels, years), key terms, the conflict rule
(different documents, same kind and unit, shared key terms, disagreeing values),
labelled policy-text pairs, edge cases (empty, unicode, 1 MB, many mentions), a
hypothesis property on offsets, determinism, JSON round trips, bad input, threads, the
module's doctests, and the false-positive rate on BEIR SciFact (printed).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import threading
from typing import Any

import pytest
from covekit import Conflict, Mention, SearchHit, find_conflicts
from covekit.decision import conflicts as conflicts_module
from covekit.decision.conflicts import KINDS, extract_mentions
from covekit.errors import InvalidInput
from hypothesis import given
from hypothesis import strategies as st

INF = math.inf
EXAMPLES = max(20, int(os.environ.get("COVEKIT_MAX_EXAMPLES", "200")) // 2)

#: Labelled policy-text pairs (document a, document b, conflict?): the cases the rules
#: were tuned on.
POLICY_CASES: list[tuple[str, str, bool]] = [
    (
        "Refunds are processed within 5-10 business days.",
        "Refund processing takes 14 business days.",
        True,
    ),
    (
        "The Free plan allows up to 3 devices.",
        "On the Free plan you can connect up to 5 devices.",
        True,
    ),
    (
        "Standard shipping takes 3-5 business days within the continental US.",
        "Standard shipping usually takes 7 business days.",
        True,
    ),
    (
        "You can return unused items within 30 days of delivery for a full refund.",
        "Unused items can be returned within 14 days of delivery.",
        True,
    ),
    (
        "The Pro plan costs $20 per user per month, billed annually.",
        "Pro plan pricing: $25 per user per month when billed annually.",
        True,
    ),
    (
        "Late payments incur a fee of 5% of the outstanding balance.",
        "A late payment fee of 2% of the outstanding balance applies.",
        True,
    ),
    (
        "The new privacy policy takes effect on March 1, 2024.",
        "Our updated privacy policy takes effect on 2024-04-01.",
        True,
    ),
    (
        "Support tickets receive a first response within 24 hours.",
        "We send a first response to every support ticket within 4 hours.",
        True,
    ),
    (
        "Each Business account includes 10 user seats.",
        "Business accounts include 25 user seats at no extra cost.",
        True,
    ),
    (
        "Password reset links expire after 30 minutes.",
        "A password reset link expires after 2 hours.",
        True,
    ),
    (
        "The annual subscription is refundable within 14 days of purchase.",
        "Annual subscriptions can be refunded within 30 days of purchase.",
        True,
    ),
    (
        "Trial accounts are deleted after 60 days of inactivity.",
        "Inactive trial accounts are deleted after 90 days.",
        True,
    ),
    (
        "Shipping: 7 business days.",
        "Standard shipping takes 3-5 business days.",
        True,
    ),
    (
        "The warranty covers manufacturing defects for 2 years from the date of purchase.",
        "Manufacturing defects are covered by the warranty for 12 months from purchase.",
        True,
    ),
    (
        "Enterprise customers get a 99.9% uptime guarantee.",
        "The uptime guarantee for Enterprise customers is 99.5%.",
        True,
    ),
    (
        "Orders over $50 ship free.",
        "Free shipping applies to orders over $75.",
        True,
    ),
    (
        "Refunds are processed within 5-10 business days.",
        "Refund processing takes 7 business days.",
        False,
    ),
    (
        "Refunds are processed within 10 business days.",
        "Refund processing takes 14 days.",
        False,
    ),
    (
        "The Free plan allows up to 3 devices.",
        "The Pro plan allows up to 10 devices.",
        False,
    ),
    (
        "Standard shipping takes 3-5 business days.",
        "Express shipping takes 1-2 business days.",
        False,
    ),
    (
        "Refunds are issued within 14 days.",
        "Exchanges are processed within 30 days.",
        False,
    ),
    (
        "The Pro plan costs $20 per month.",
        "The Pro plan costs $20 per month, billed monthly.",
        False,
    ),
    (
        "Returns are accepted within 30 days of delivery.",
        "You have 30 days from delivery to return an item.",
        False,
    ),
    (
        "Our office is open 9 hours a day on weekdays.",
        "Password reset links expire after 2 hours.",
        False,
    ),
    (
        "The warranty lasts 1 year.",
        "The warranty lasts 12 months.",
        False,
    ),
    (
        "Support responds within 24 hours.",
        "Support responds within 1 day.",
        False,
    ),
    (
        "Last updated: March 5, 2024. Refunds are processed within 10 business days.",
        "Last updated: January 12, 2023. Shipping takes 5 business days.",
        False,
    ),
    (
        "Premium members receive a 10% discount on all orders.",
        "Orders over $100 receive free gift wrapping, and 4% of orders are returned.",
        False,
    ),
    (
        "Version 2.3 supports 5 concurrent users.",
        "Version 3.1 supports 5 concurrent users.",
        False,
    ),
    (
        "Call 555-123-4567 for refunds within 14 days.",
        "Call 555-987-6543 for refunds within 14 days.",
        False,
    ),
    (
        "Refunds take between 5 and 10 business days.",
        "Refunds take up to 10 business days.",
        False,
    ),
    (
        "The daily limit is 5 transfers.",
        "The monthly limit is 50 transfers.",
        False,
    ),
]

#: Pairs written once the rules were in place, to check them rather than tune them. Rules
#: added after them: a count noun that modifies a duration ("20 vacation days", which
#: fixed one of these cases), and three from reading the SciFact flags (a number after
#: "per", a document that also states the other's value, two currencies in one range),
#: which left these results as they were.
HELD_OUT_CASES: list[tuple[str, str, bool]] = [
    (
        (
            "If you cancel your subscription, we will refund the unused portion of your plan "
            "within 7 days of the cancellation request."
        ),
        (
            "Refunds for cancelled subscriptions are issued for the unused portion of the plan "
            "within 21 days."
        ),
        True,
    ),
    (
        (
            "Customers in the EU have the right to withdraw from an online purchase within 14 "
            "days without giving a reason."
        ),
        "EU customers may withdraw from online purchases within 30 days, no reason required.",
        True,
    ),
    (
        "Our standard SLA guarantees 99.95% monthly uptime for all production clusters.",
        "Production clusters are covered by an SLA of 99.9% monthly uptime.",
        True,
    ),
    (
        ("Employees accrue 20 vacation days per year, and unused days expire at the end of March."),
        "Full-time employees accrue 25 vacation days per year.",
        True,
    ),
    (
        (
            "The maximum upload size for attachments is 25 MB, and each message can hold up to "
            "10 attachments."
        ),
        "Each message can hold up to 20 attachments.",
        True,
    ),
    (
        "International orders usually arrive in 10-15 business days, depending on customs.",
        "Please allow 20 business days for international orders to arrive.",
        True,
    ),
    (
        "Interest on savings accounts is paid at an annual rate of 3.5%.",
        "Savings accounts earn interest at an annual rate of 4.1%, paid monthly.",
        True,
    ),
    (
        "The early-bird registration fee for the conference is $299 until May 1, 2025.",
        "Early-bird registration for the conference costs $349.",
        True,
    ),
    (
        "Backups are retained for 35 days and then permanently deleted.",
        "We retain backups for 90 days before they are permanently deleted.",
        True,
    ),
    (
        "Invoices are due 30 days after the invoice date.",
        "Payment of invoices is due within 45 days of the invoice date.",
        True,
    ),
    (
        "Invoices are due 30 days after the invoice date.",
        "Late invoices are charged interest after 60 days.",
        False,
    ),
    (
        "Backups are retained for 35 days.",
        "Audit logs are retained for 365 days.",
        False,
    ),
    (
        "Employees accrue 20 vacation days per year.",
        "Employees may carry over up to 5 unused vacation days into the next year.",
        False,
    ),
    (
        "International orders usually arrive in 10-15 business days.",
        "Domestic orders usually arrive in 2-4 business days.",
        False,
    ),
    (
        "The conference takes place on June 12, 2025 in Berlin.",
        "The conference venue opens at 8 am on June 12, 2025.",
        False,
    ),
    (
        "The Basic plan includes 5 GB of storage and 2 team members.",
        "The Team plan includes 100 GB of storage and 10 team members.",
        False,
    ),
    (
        "Refunds are issued to the original payment method within 10 business days.",
        (
            "Store credit is issued immediately, and refunds to the original payment method "
            "take up to 10 business days."
        ),
        False,
    ),
    (
        "A 14-day free trial is available for all plans.",
        "All plans come with a free trial of 14 days.",
        False,
    ),
    (
        "Customer support is available 24 hours a day, 7 days a week.",
        "Phone support hours are 9 am to 5 pm, 5 days a week.",
        False,
    ),
    (
        "The device battery lasts up to 12 hours on a single charge.",
        "On a single charge, the battery lasts up to 12 hours of video playback.",
        False,
    ),
]


def one(text: str) -> Mention:
    """The only mention of ``text``."""
    found = extract_mentions(0, "doc", text)
    assert len(found) == 1, [m.text for m in found]
    return found[0]


def pair(a: str, b: str, **options: Any) -> list[Conflict]:
    return find_conflicts([(1, "doc-a", a), (2, "doc-b", b)], **options)


# --------------------------------------------------------------------------- quantities

FORMS = [
    # durations: calendar time in days, months and years in months, business days apart
    ("Delivery takes 30 days.", "duration", "30 days", (30.0, 30.0), "day"),
    ("Delivery takes two weeks.", "duration", "two weeks", (14.0, 14.0), "day"),
    ("Delivery takes 48 hours.", "duration", "48 hours", (2.0, 2.0), "day"),
    ("Delivery takes 3 months.", "duration", "3 months", (3.0, 3.0), "month"),
    ("Delivery takes 2 years.", "duration", "2 years", (24.0, 24.0), "month"),
    ("Delivery takes 90 minutes.", "duration", "90 minutes", (0.0625, 0.0625), "day"),
    ("Refunds within 14 days.", "duration", "within 14 days", (-INF, 14.0), "day"),
    ("Refunds in 5-10 business days.", "duration", "5-10 business days", (5, 10), "business day"),
    ("Allow 3 working days.", "duration", "3 working days", (3.0, 3.0), "business day"),
    ("Allow 2 business weeks.", "duration", "2 business weeks", (10.0, 10.0), "business day"),
    ("Start a 30-day trial.", "duration", "30-day", (30.0, 30.0), "day"),
    ("Start a two-week trial.", "duration", "two-week", (14.0, 14.0), "day"),
    ("Reply within a week.", "duration", "within a week", (-INF, 7.0), "day"),
    ("Reply in an hour.", "duration", "an hour", (1 / 24, 1 / 24), "day"),
    ("Results in 24h.", "duration", "24h", (1.0, 1.0), "day"),
    ("Users must be 18 years old.", "duration", "18 years old", (18.0, 18.0), "age"),
    ("For an 18-year-old driver.", "duration", "18-year-old", (18.0, 18.0), "age"),
    ("Employees accrue 20 vacation days.", "duration", "20 vacation days", (20, 20), "day"),
    ("Delivery takes twenty-one days.", "duration", "twenty-one days", (21.0, 21.0), "day"),
    # money, in the currency's units
    ("It costs $20.", "money", "$20", (20.0, 20.0), "USD"),
    ("It costs USD 1,200.50.", "money", "USD 1,200.50", (1200.5, 1200.5), "USD"),
    ("It costs €15.", "money", "€15", (15.0, 15.0), "EUR"),
    ("It costs 15 EUR.", "money", "15 EUR", (15.0, 15.0), "EUR"),
    ("It costs £9.99.", "money", "£9.99", (9.99, 9.99), "GBP"),
    ("It costs 15€.", "money", "15€", (15.0, 15.0), "EUR"),
    ("It costs US$5.", "money", "US$5", (5.0, 5.0), "USD"),
    ("It costs CA$5.", "money", "CA$5", (5.0, 5.0), "CAD"),
    ("It costs 20 dollars.", "money", "20 dollars", (20.0, 20.0), "USD"),
    ("It costs 50 cents.", "money", "50 cents", (0.5, 0.5), "USD"),
    ("It raised $1.5 million.", "money", "$1.5 million", (1.5e6, 1.5e6), "USD"),
    ("It raised $5k.", "money", "$5k", (5000.0, 5000.0), "USD"),
    ("It costs $20-$30.", "money", "$20-$30", (20.0, 30.0), "USD"),
    ("It costs up to $500.", "money", "up to $500", (-INF, 500.0), "USD"),
    ("Plans start from $9.", "money", "from $9", (9.0, INF), "USD"),
    # percentages
    ("A fee of 5%.", "percent", "5%", (5.0, 5.0), "%"),
    ("A fee of 5 percent.", "percent", "5 percent", (5.0, 5.0), "%"),
    ("A fee of 5 per cent.", "percent", "5 per cent", (5.0, 5.0), "%"),
    ("A fee of 2.5%.", "percent", "2.5%", (2.5, 2.5), "%"),
    ("A fee of 5-10%.", "percent", "5-10%", (5.0, 10.0), "%"),
    ("A fee of 5% to 10%.", "percent", "5% to 10%", (5.0, 10.0), "%"),
    ("A fee of between 5% and 10%.", "percent", "between 5% and 10%", (5.0, 10.0), "%"),
    (
        "Rates rose 3 percentage points.",
        "percent",
        "3 percentage points",
        (3, 3),
        "percentage point",
    ),
    ("Costs fell by 30%.", "percent", "by 30%", (30.0, 30.0), "% change"),
    # dates: day numbers since 1970-01-01 (2024-03-05 is day 19787)
    ("Effective 2024-03-05.", "date", "2024-03-05", (19787.0, 19787.0), "date"),
    ("Effective March 5, 2024.", "date", "March 5, 2024", (19787.0, 19787.0), "date"),
    ("Effective Mar. 5, 2024.", "date", "Mar. 5, 2024", (19787.0, 19787.0), "date"),
    ("Effective 5 March 2024.", "date", "5 March 2024", (19787.0, 19787.0), "date"),
    ("Effective 5th of March 2024.", "date", "5th of March 2024", (19787.0, 19787.0), "date"),
    ("Effective 13/03/2024.", "date", "13/03/2024", (19795.0, 19795.0), "date"),
    ("Effective 03/13/2024.", "date", "03/13/2024", (19795.0, 19795.0), "date"),
    ("Effective March 2024.", "date", "March 2024", (19783.0, 19813.0), "date"),
    ("Effective March 5-7, 2024.", "date", "March 5-7, 2024", (19787.0, 19789.0), "date"),
    ("Due before March 5, 2024.", "date", "before March 5, 2024", (-INF, 19787.0), "date"),
    ("Valid since 2024-03-05.", "date", "since 2024-03-05", (19787.0, INF), "date"),
    ("Logged 2024-03-05T10:30:00Z.", "date", "2024-03-05T10:30:00Z", (19787, 19787), "date"),
    # counts with a unit noun (the unit is the noun in the singular)
    ("Connect 3 devices.", "number", "3 devices", (3.0, 3.0), "device"),
    ("Connect up to 5 users.", "number", "up to 5 users", (-INF, 5.0), "user"),
    ("Connect three devices.", "number", "three devices", (3.0, 3.0), "device"),
    ("Connect 1,000 devices.", "number", "1,000 devices", (1000.0, 1000.0), "device"),
    ("Add 5 additional users.", "number", "5 additional users", (5.0, 5.0), "user"),
    ("It has 10 user seats.", "number", "10 user seats", (10.0, 10.0), "seat"),
    ("We asked 12 children.", "number", "12 children", (12.0, 12.0), "child"),
    ("It has 2 policies.", "number", "2 policies", (2.0, 2.0), "policy"),
    ("It serves 5 million users.", "number", "5 million users", (5e6, 5e6), "user"),
    ("It allows one user.", "number", "one user", (1.0, 1.0), "user"),
]


@pytest.mark.parametrize(
    ("text", "kind", "span", "value", "unit"), FORMS, ids=[f[0] for f in FORMS]
)
def test_every_quantity_form(
    text: str, kind: str, span: str, value: tuple[float, float], unit: str
) -> None:
    m = one(text)
    assert (m.kind, m.text, m.unit) == (kind, span, unit)
    assert m.value == pytest.approx(value)
    assert text[m.start : m.end] == m.text


RANGES_AND_BOUNDS = [
    ("5-10 days", (5.0, 10.0), "range"),
    ("5\u201310 days", (5.0, 10.0), "range"),  # en dash
    ("5 to 10 days", (5.0, 10.0), "range"),
    ("from 5 to 10 days", (5.0, 10.0), "range"),
    ("between 5 and 10 days", (5.0, 10.0), "range"),
    ("3 or 4 days", (3.0, 4.0), "range"),
    ("up to 10 days", (-INF, 10.0), "upper"),
    ("no more than 10 days", (-INF, 10.0), "upper"),
    ("at most 10 days", (-INF, 10.0), "upper"),
    ("less than 10 days", (-INF, 10.0), "upper"),
    ("within 10 days", (-INF, 10.0), "upper"),
    ("10 days or less", (-INF, 10.0), "upper"),
    ("10 days max", (-INF, 10.0), "upper"),
    ("at least 10 days", (10.0, INF), "lower"),
    ("more than 10 days", (10.0, INF), "lower"),
    ("no less than 10 days", (10.0, INF), "lower"),
    ("10 or more days", (10.0, INF), "lower"),
    ("10+ days", (10.0, INF), "lower"),
    ("10 days or longer", (10.0, INF), "lower"),
    ("about 10 days", (9.0, 11.0), "range"),
    ("within 5-10 days", (5.0, 10.0), "range"),  # a bound does not change a range
    ("10 days", (10.0, 10.0), "exact"),
]


@pytest.mark.parametrize(("text", "value", "bound"), RANGES_AND_BOUNDS)
def test_ranges_and_bounds(text: str, value: tuple[float, float], bound: str) -> None:
    m = one(f"Shipping takes {text}.")
    assert m.text == text
    assert m.value == pytest.approx(value)
    assert m.bound == bound


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Density of 75% or more.", ["75% or more"]),
        ("Orders of $20 or more.", ["$20 or more"]),
        ("Only 5% or less of users.", ["5% or less"]),
        ("Plans cost $20 or €18.", ["$20", "€18"]),  # two currencies: two values
        ("Between $5 and $10.", ["Between $5 and $10"]),
        ("It takes 5 and 10 days.", ["10 days"]),  # two values, the first without a unit
        ("The rate per 100 women.", []),  # a denominator, not a count
    ],
)
def test_spans(text: str, spans: list[str]) -> None:
    assert [m.text for m in extract_mentions(0, "d", text)] == spans


def test_business_days_are_not_calendar_days() -> None:
    assert one("Refunds take 10 business days.").unit == "business day"
    assert one("Refunds take 14 days.").unit == "day"
    assert one("Refunds take 14 calendar days.").unit == "day"
    # Not comparable: neither equal nor a conflict.
    assert pair("Refunds take 10 business days.", "Refunds take 14 days.") == []
    assert pair("Refunds take 10 business days.", "Refunds take 14 business days.") != []


def test_equal_values_in_other_units_agree() -> None:
    assert pair("Support responds within 24 hours.", "Support responds within 1 day.") == []
    assert pair("The warranty lasts 1 year.", "The warranty lasts 12 months.") == []
    assert pair("The fee is $1,200.", "The fee is USD 1200.00.") == []
    assert pair("Effective 2024-03-05.", "Effective March 5, 2024.") == []


NOT_QUANTITIES = [
    "Call 555-123-4567 today.",
    "Call (555) 123-4567 today.",
    "Call +1 555 123 4567 today.",
    "Upgrade to v2.3 today.",
    "Install version 2.3.1 now.",
    "Version 2 users can log in.",
    "See https://example.com/refunds-in-30-days for details.",
    "See example.com/30 for details.",
    "As shown in [1] and [2, 3] and [4-6].",
    "Order #12345 shipped.",
    "Error E1234 and SKU-889 devices.",
    "Patients with type 2 diabetes.",
    "A phase 3 trial.",
    "It runs on Windows 10 devices.",
    "In 2019 patients were enrolled.",
    "Doors open at 10:30 and close at 5 pm.",
    "We won 3-1 in the final.",
    "She came 5th overall.",
    "Email support5@example.com today.",
    "The ratio was 1:2 and 3/4 of them.",
    "Use the x86 build and the 3D view.",
    "A 5-fold increase, 5 mg of it.",
    "p = 0.016 (n = 17).",
    "The 95% CI was 1.2-3.4.",
    "2216 (0.7%) developed it.",
    "Training twice a week.",
    "It costs $20 a month.",  # only the money, not "a month"
    "Due on 05/03/2024.",  # ambiguous: 5 March or May 3
    "Due on March 5.",  # no year
    "Three open reading frames.",
]


@pytest.mark.parametrize("text", NOT_QUANTITIES)
def test_no_mentions_in_identifiers_versions_phones_urls_citations(text: str) -> None:
    found = [m.text for m in extract_mentions(0, "d", text)]
    if text.startswith("It costs $20 a month"):
        assert found == ["$20"]
    else:
        assert found == []


def test_mentions_are_in_order_and_do_not_overlap() -> None:
    text = (
        "Refunds take 5-10 business days; exchanges take 30 days. Plans cost $20 or €18, "
        "up to 5 users, 10% off until March 31, 2025, and three devices."
    )
    found = extract_mentions(3, "policy", text)
    assert [m.text for m in found] == [
        "5-10 business days", "30 days", "$20", "€18", "up to 5 users", "10%",
        "until March 31, 2025", "three devices",
    ]  # fmt: skip
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    assert all(text[m.start : m.end] == m.text for m in found)
    assert {(m.chunk_id, m.doc_id) for m in found} == {(3, "policy")}


# --------------------------------------------------------------------------- key terms


def test_key_terms_are_stemmed_content_words_near_the_quantity() -> None:
    a = one("Refunds are processed within 5-10 business days.")
    b = one("Refund processing takes 14 business days.")
    assert set(a.terms) >= {"refund", "process"}
    assert set(b.terms) >= {"refund", "process"}
    assert a.terms == tuple(sorted(a.terms))


def test_key_terms_stay_in_the_sentence_and_the_clause() -> None:
    text = "Orders ship in 2 days and arrive in 5 days. Returns are free."
    ship, arrive = extract_mentions(0, "d", text)
    assert "ship" in ship.terms and "arriv" not in ship.terms
    assert "arriv" in arrive.terms and "return" not in arrive.terms
    wide = extract_mentions(0, "d", "one two three four five six seven refund 5 days", window=1)
    assert wide[0].terms == ("refund",)


def test_dates_of_documents_are_not_key_terms() -> None:
    m = one("Last updated: March 5, 2024.")
    assert m.terms == ()


def test_unicode_text_does_not_fail() -> None:
    texts = [
        "Rückerstattungen dauern 14 Tage.",  # German: extraction is English-only
        "退款需要14天。",
        "Возврат занимает 14 дней.",
        "الاسترداد يستغرق 14 يومًا",
        "Refunds 🎉 take 14 days 🎉.",
        "Refunds take 14 days\u0301 and e\u0301 5 days.",
        "lone \ud800 surrogate: refunds take 14 days",
        "\x00\x01 refunds take 14 days \x7f",
        "İstanbul refunds take 14 days",  # lowercasing changes the length
    ]
    for text in texts:
        for m in extract_mentions(0, "d", text):
            assert text[m.start : m.end] == m.text
    assert one("Refunds 🎉 take 14 days 🎉.").value == (14.0, 14.0)
    assert one("İstanbul: refunds take fourteen days").value == (14.0, 14.0)
    assert one("lone \ud800 surrogate: refunds take 14 days").terms == ("lone", "refund", "surrog")


# --------------------------------------------------------------------------- conflicts


def test_conflict_from_the_issue() -> None:
    (c,) = pair(
        "Refunds are processed within 5-10 business days.",
        "Refund processing takes 14 business days.",
    )
    assert (c.kind, c.unit, c.terms, c.doc_ids) == (
        "duration", "business day", ("process", "refund"), ("doc-a", "doc-b")
    )  # fmt: skip
    assert [m.text for m in c.mentions] == ["within 5-10 business days", "14 business days"]


def test_a_value_inside_a_range_is_not_a_conflict() -> None:
    assert pair("Refunds take 5-10 business days.", "Refunds take 7 business days.") == []
    assert pair("Refunds take 5-10 business days.", "Refunds take 10-12 business days.") == []
    assert pair("Refunds take 5-10 business days.", "Refunds take 11 business days.") != []


def test_bounds_of_the_same_direction_conflict_when_their_limits_differ() -> None:
    assert pair("The free plan has up to 3 devices.", "The free plan has up to 5 devices.")
    assert pair("Orders ship free over $50.", "Orders ship free over $75.")
    assert not pair("The free plan has up to 5 devices.", "The free plan has 3 devices.")
    assert pair("The free plan has up to 3 devices.", "The free plan has 5 devices.")
    assert not pair("Refunds take at least 5 days.", "Refunds take 7 days.")


def test_same_document_is_not_a_conflict() -> None:
    chunks = [
        (1, "policy", "Refunds are processed within 10 business days."),
        (2, "policy", "Refunds are processed within 20 business days for orders abroad."),
    ]
    assert find_conflicts(chunks) == []
    one_chunk = [(1, "policy", "Refunds take 10 days. Refunds take 20 days.")]
    assert find_conflicts(one_chunk) == []


def test_every_disagreeing_mention_is_grouped() -> None:
    chunks = [
        (1, "2023", "Standard shipping takes 5-7 business days."),
        (2, "2024", "Standard shipping takes 6 business days."),
        (3, "faq", "Standard shipping takes 10 business days."),
        (4, "blog", "Our office is closed for 2 days in May."),
    ]
    (c,) = find_conflicts(chunks)
    assert [(m.chunk_id, m.text) for m in c.mentions] == [
        (1, "5-7 business days"),
        (2, "6 business days"),
        (3, "10 business days"),
    ]
    assert c.doc_ids == ("2023", "2024", "faq")


def test_different_things_are_not_compared() -> None:
    assert (
        pair("The Free plan allows up to 3 devices.", "The Pro plan allows up to 10 devices.") == []
    )
    assert pair("The daily limit is 5 transfers.", "The monthly limit is 50 transfers.") == []
    assert (
        pair("Refunds are issued within 14 days.", "Exchanges are processed within 30 days.") == []
    )
    assert pair("Refunds take 14 days.", "Refunds cost $14.") == []  # other kinds


def test_options() -> None:
    a, b = "Refunds take 14 days.", "Refund requests take 30 days to process."
    assert pair(a, b)
    assert pair(a, b, kinds=["duration"])
    assert pair(a, b, kinds="money") == []
    # Two shared terms (refund, reach) in sentences that are not terse lines.
    a = "Thanks. Refunds take 14 days to reach the original card."
    b = "Thanks. Refunds take 30 days to reach your account."
    assert pair(a, b, min_shared_terms=2)
    assert pair(a, b, min_shared_terms=3) == []
    # A terse line ("Refunds: 30 days.") needs only the terms it has.
    assert pair(a, "Refunds: 30 days.", min_shared_terms=3)
    # A narrower window sees fewer terms: one content word on each side.
    narrow = "Thanks. Approved refunds for damaged items take 14 days to reach your card."
    assert pair(narrow, b) and not pair(narrow, b, window=1)


@pytest.mark.parametrize(("a", "b", "expected"), POLICY_CASES, ids=lambda x: str(x)[:40])
def test_policy_cases(a: str, b: str, expected: bool) -> None:
    assert bool(pair(a, b)) is expected
    assert bool(pair(b, a)) is expected  # the order does not matter


def test_held_out_policy_cases() -> None:
    got = [(bool(pair(a, b)), expected) for a, b, expected in HELD_OUT_CASES]
    false_positives = sum(g and not e for g, e in got)
    found = sum(g and e for g, e in got)
    assert false_positives == 0
    assert found >= 9, f"found {found} of {sum(e for _, e in got)} conflicts"


def test_search_hits_are_accepted() -> None:
    hits = [
        SearchHit(1, "a", "Refunds take 14 days.", 0, 21, 1.0, 1, (), "v1"),
        SearchHit(2, "b", "Refunds take 30 days.", 0, 21, 0.9, 2, (), "v1"),
    ]
    (c,) = find_conflicts(hits)
    assert c.doc_ids == ("a", "b")


# --------------------------------------------------------------------------- edge cases


def test_empty_inputs() -> None:
    assert find_conflicts([]) == []
    assert find_conflicts(iter([])) == []
    assert extract_mentions(0, "d", "") == []
    assert extract_mentions(0, "d", "   \n\t ") == []
    assert extract_mentions(0, "d", "No numbers here at all.") == []
    assert find_conflicts([(1, "a", ""), (2, "b", "no numbers")]) == []


def test_one_megabyte_stays_linear() -> None:
    fragment = "Refunds take 14 days; shipping is free over $50 for up to 3 devices. "
    text = fragment * (1_000_000 // len(fragment))
    found = extract_mentions(0, "big", text)
    repeats = text.count(fragment)
    assert len(found) == 3 * repeats
    assert all(text[m.start : m.end] == m.text for m in found[:: max(1, len(found) // 97)])
    other = text.replace("14 days", "30 days")
    (c,) = find_conflicts([(1, "a", text), (2, "b", other)], kinds=["duration"])
    assert len(c.mentions) == 2 * repeats
    assert {m.value for m in c.mentions} == {(14.0, 14.0), (30.0, 30.0)}


def test_a_huge_sentence_without_punctuation() -> None:
    text = ("word " * 200_000) + "refunds take 14 days " + ("word " * 200_000)
    (m,) = extract_mentions(0, "d", text)
    assert m.terms == ("refund", "word")


def test_many_mentions() -> None:
    # 2,000 mentions, 250 different contexts: each document states its own value.
    rng = random.Random(7)
    words = [f"{a}{b}" for a in ("red", "blue", "gold", "jade", "onyx") for b in "bcdfghjklm"]
    chunks = [
        (
            c,
            f"doc-{c % 5}",
            " ".join(
                f"Refunds for {rng.choice(words)} orders take {10 * (c % 5 + 1)} days."
                for _ in range(100)
            ),
        )
        for c in range(20)
    ]
    got = find_conflicts(chunks)
    # "redb orders" and "jadek orders" are different things (the contrast rule): one
    # conflict per word, every mention in one of them.
    assert len(got) == len(words)
    assert sum(len(c.mentions) for c in got) == 2000
    assert all(len(c.doc_ids) >= 2 for c in got)
    # A document that also states the other's value lists values; it does not contradict.
    assert pair("Refunds take 14 days.", "Refunds take 30 days. Refunds take 14 days.") == []


# --------------------------------------------------------------------------- properties

FRAGMENTS = [
    "Refunds take ", "14 days", "5-10 business days", "within ", "up to ", "$20", "USD 1,200.50",
    "€15", "15 EUR", "5%", "5 percent", "2024-03-05", "March 5, 2024", "5 March 2024",
    "05/03/2024", "3 devices", "two weeks", "a week", "between 5 and 10", " and ", " or ",
    "v2.3", "555-123-4567", "https://x.com/5", "[1]", "Type 2", ", ", ". ", "; ", "\n", "\n\n",
    "- ", "(", ")", "-", "\u2013", "%", "$", "+", "at least ", "the Free plan ", "Über ", "東京",
    "\u0301", "🎉", "İ", "\ud800", "10:30", "1.5", "0", "twenty-four", "hours", " ", "A",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=30).map(
    "".join
)


@given(texts)
def test_offsets_point_into_the_text(text: str) -> None:
    found = extract_mentions(0, "d", text)
    for m in found:
        assert text[m.start : m.end] == m.text
        assert m.kind in KINDS and m.unit
        low, high = m.value
        assert low <= high and not (math.isnan(low) or math.isnan(high))
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), texts), max_size=6))
def test_conflicts_are_deterministic_and_well_formed(docs: list[tuple[str, str]]) -> None:
    chunks = [(i, doc, text) for i, (doc, text) in enumerate(docs)]
    got = find_conflicts(chunks)
    assert find_conflicts(chunks) == got
    conflicts_module._cached_analysis.cache_clear()
    assert find_conflicts(list(chunks)) == got  # the same without the cache
    for c in got:
        assert len(c.doc_ids) >= 2
        assert {m.kind for m in c.mentions} == {c.kind} and len({m.unit for m in c.mentions}) == 1
        keys = [(m.chunk_id, m.start) for m in c.mentions]
        assert keys == sorted(keys)
        assert Conflict.from_dict(json.loads(json.dumps(c.to_dict(), allow_nan=False))) == c


def test_output_order_follows_the_input() -> None:
    chunks = [
        (1, "a", "Refunds take 14 days. The Free plan has up to 3 devices."),
        (2, "b", "The Free plan has up to 5 devices. Refunds take 30 days."),
    ]
    got = find_conflicts(chunks)
    assert [c.kind for c in got] == ["duration", "number"]
    assert [c.kind for c in find_conflicts(chunks[::-1])] == ["number", "duration"]


def test_to_dict_is_json_and_round_trips() -> None:
    (c,) = pair("The free plan has up to 3 devices.", "The free plan has at least 5 devices.")
    data = c.to_dict()
    text = json.dumps(data, allow_nan=False)  # open ends are null, not Infinity
    assert json.loads(text)["mentions"][0]["value"] == [None, 3.0]
    assert json.loads(text)["mentions"][1]["value"] == [5.0, None]
    assert set(data) == {"kind", "unit", "terms", "doc_ids", "mentions"}
    assert Conflict.from_dict(json.loads(text)) == c
    m = c.mentions[0]
    assert Mention.from_dict(json.loads(json.dumps(m.to_dict()))) == m


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("chunks", "error", "says"),
    [
        ([(1, "a")], InvalidInput, "(chunk_id, doc_id, text)"),
        ([(1, "a", "x", "y")], InvalidInput, "has 4 items"),
        ([(1, "a", b"bytes")], TypeError, "text must be a str"),
        ([(1, "a", None)], TypeError, "text must be a str"),
        ([("1", "a", "x")], TypeError, "chunk_id must be an int"),
        ([(True, "a", "x")], TypeError, "chunk_id must be an int"),
        ([(1, 2, "x")], TypeError, "doc_id must be a str"),
        ([42], TypeError, "pass (chunk_id, doc_id, text) tuples"),
        ("text", TypeError, "not a str"),
        (None, TypeError, ""),
    ],
)
def test_bad_chunks(chunks: Any, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=None) as info:
        find_conflicts(chunks)
    assert says in str(info.value)


def test_bad_options_and_arguments() -> None:
    with pytest.raises(InvalidInput, match="min_shared_terms must be >= 1"):
        find_conflicts([], min_shared_terms=0)
    with pytest.raises(TypeError, match="min_shared_terms must be an int"):
        find_conflicts([], min_shared_terms=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="window must be >= 1"):
        find_conflicts([], window=0)
    with pytest.raises(InvalidInput, match="unknown kinds"):
        find_conflicts([], kinds=["durations"])
    with pytest.raises(TypeError, match="text must be a str"):
        extract_mentions(0, "d", b"14 days")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chunk_id must be an int"):
        extract_mentions("0", "d", "14 days")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="window must be >= 1"):
        extract_mentions(0, "d", "14 days", window=-1)
    with pytest.raises(InvalidInput, match=r"Mention\.to_dict"):
        Mention.from_dict({"kind": "money"})
    with pytest.raises(InvalidInput, match=r"Conflict\.to_dict"):
        Conflict.from_dict({"mentions": []})


# --------------------------------------------------------------------------- threads


def test_many_threads_get_the_same_answer() -> None:
    chunks = [
        (i, f"doc-{i % 3}", " ".join(POLICY_CASES[i % len(POLICY_CASES)][:2])) for i in range(30)
    ]
    expected = find_conflicts(chunks)
    results: list[list[Conflict]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                conflicts_module._cached_analysis.cache_clear()
                results.append(find_conflicts(chunks))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results) and len(results) == 80


# --------------------------------------------------------------------------- doctests


def test_doctests() -> None:
    import doctest

    result = doctest.testmod(conflicts_module)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- real text


def test_false_positives_on_scifact(capsys: pytest.CaptureFixture[str]) -> None:
    """Flags per query on the top-10 BM25 hits of 100 SciFact queries, printed.

    SciFact abstracts are different studies, so every flag is a false positive by the
    standard "two sources state different values for the same fact". The bound below
    is loose (it guards against a rule change that floods real text with flags); the
    printed figures are the measurement, and bench_conflicts.py shows the flags.
    """
    import numpy as np
    from covekit import BM25Index
    from covekit.evals.retrieval import load_beir
    from shared_data import beir_dir

    ds = load_beir(beir_dir("scifact"))
    ids = list(ds.corpus)
    texts = [ds.corpus[i].full_text for i in ids]
    index = BM25Index()
    index.add(np.arange(len(texts), dtype=np.uint64), texts)
    queries = list(ds.queries.values())[:100]
    hits, _ = index.search(queries, k=10)
    flags = [
        len(find_conflicts([(int(j), ids[int(j)], texts[int(j)]) for j in row])) for row in hits
    ]
    mentions = sum(len(extract_mentions(0, ids[int(j)], texts[int(j)])) for j in hits[:, 0])
    with capsys.disabled():
        print(
            f"\nSciFact: {len(flags)} queries, top-10 BM25 hits: {sum(flags)} conflict flags "
            f"({sum(flags) / len(flags):.2f} per query, {sum(1 for f in flags if f)} queries "
            f"with one or more); {mentions / len(flags):.1f} mentions per top-1 abstract"
        )
    assert sum(flags) / len(flags) <= 0.3
