"""covekit.ApprovalQueue and requires_approval tools: pending, approved, rejected (who and
when), bounded waits, and one execution after an approval."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from covekit import ApprovalQueue, Toolbox, ToolCall, tool
from covekit.errors import ApprovalPending, ApprovalQueueError, ApprovalRejected, InvalidInput


def _refund_tool() -> tuple[object, list[int]]:
    done: list[int] = []

    @tool(requires_approval=True)
    def refund(order: str, cents: int) -> str:
        """Refunds an order."""
        done.append(cents)
        return f"refunded {cents} on {order}"

    return refund, done


CALL = ToolCall("c1", "refund", json.dumps({"order": "A-17", "cents": 500}))


def test_queue_submit_pending_approve_reject() -> None:
    q = ApprovalQueue()
    before = time.time()
    a = q.submit("refund", {"cents": 5}, key="k-a", requested_by="agent-7", call_id="c1")
    b = q.submit("wire", {"usd": 10_000})
    assert [r.id for r in q.pending()] == [a, b]
    ra = q.get(a)
    assert (ra.tool, ra.arguments, ra.key, ra.requested_by, ra.call_id, ra.status) == (
        "refund",
        {"cents": 5},
        "k-a",
        "agent-7",
        "c1",
        "pending",
    )
    assert ra.requested_at >= before and not ra.decided
    approved = q.approve(a, by="ada")
    assert (approved.status, approved.decided_by) == ("approved", "ada")
    assert approved.decided_at is not None and approved.decided_at >= ra.requested_at
    rejected = q.reject(b, by="bob", reason="above the wire limit")
    assert (rejected.status, rejected.decided_by, rejected.reason) == (
        "rejected",
        "bob",
        "above the wire limit",
    )
    assert q.pending() == [] and len(q) == 2
    assert json.loads(json.dumps(rejected.to_dict()))["reason"] == "above the wire limit"
    assert q.find("k-a") == q.get(a) and q.find("nope") is None


def test_a_decision_is_final_and_ids_must_exist() -> None:
    q = ApprovalQueue()
    rid = q.submit("t", {})
    q.approve(rid, by="ada")
    with pytest.raises(ApprovalQueueError, match="already approved by ada"):
        q.reject(rid, by="bob")
    with pytest.raises(ApprovalQueueError, match="no approval request"):
        q.get("missing")
    assert isinstance(ApprovalQueueError("x"), ValueError)


@pytest.mark.parametrize("bad", [None, "", 3])
def test_decisions_name_who(bad: object) -> None:
    q = ApprovalQueue()
    rid = q.submit("t", {})
    with pytest.raises(InvalidInput, match="who decides"):
        q.approve(rid, by=bad)  # type: ignore[arg-type]


def test_submit_bad_input_and_dedup_by_key() -> None:
    q = ApprovalQueue()
    with pytest.raises(InvalidInput, match="not JSON"):
        q.submit("t", {"x": object()})
    with pytest.raises(InvalidInput, match="not JSON"):
        q.submit("t", {"x": float("nan")})
    with pytest.raises(InvalidInput):
        q.submit("", {})
    assert q.submit("t", {}, key="same") == q.submit("t", {}, key="same")
    assert len(q) == 1
    assert q.get(q.submit("t", {"ü": "😀" * 10_000})).arguments == {"ü": "😀" * 10_000}


def test_wait_is_bounded_and_wakes_on_a_decision() -> None:
    q = ApprovalQueue()
    rid = q.submit("t", {})
    assert q.wait(rid, 0.02).status == "pending"  # nobody decides: returns, no hang
    timer = threading.Timer(0.02, lambda: q.approve(rid, by="ada"))
    timer.start()
    try:
        got = q.wait(rid, 10.0)  # returns at the decision, not after 10 s
    finally:
        timer.join()
    assert got.status == "approved"
    for bad in (-1, float("inf"), float("nan"), None, True):
        with pytest.raises(InvalidInput, match="finite"):
            q.wait(rid, bad)  # type: ignore[arg-type]


def test_file_queue_shared_between_two_handles(tmp_path: Path) -> None:
    path = tmp_path / "approvals.sqlite"
    writer = ApprovalQueue(path)
    rid = writer.submit("t", {"a": 1})
    reader = ApprovalQueue(str(path))  # as another process would open it
    assert [r.id for r in reader.pending()] == [rid]
    timer = threading.Timer(0.03, lambda: writer.approve(rid, by="ada"))
    timer.start()
    try:
        assert reader.wait(rid, 10.0).status == "approved"  # sees the other handle's write
    finally:
        timer.join()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer.close()
    with reader:
        assert "approvals.sqlite" in repr(reader)


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "q.sqlite"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(ApprovalQueueError) as info:
        ApprovalQueue(bad)
    assert info.value.path == str(bad)


# ----------------------------------------------------------------------------- with tools


def test_call_waits_in_the_queue_and_runs_once_after_approval() -> None:
    refund, done = _refund_tool()
    box = Toolbox([refund], requested_by="agent-1")
    first = box.run(CALL)
    assert first.status == "pending_approval" and first.approval_id is not None
    assert done == []
    with pytest.raises(ApprovalPending):
        first.raise_for_status()
    again = box.run(CALL)  # asked again before a decision: the same request, not a new one
    assert again.status == "pending_approval" and again.approval_id == first.approval_id
    assert len(box.approvals) == 1
    request = box.approvals.pending()[0]
    assert (request.tool, request.arguments, request.requested_by) == (
        "refund",
        {"order": "A-17", "cents": 500},
        "agent-1",
    )
    box.approvals.approve(request.id, by="ada")
    ran = box.run(CALL)
    assert (ran.status, ran.value, ran.replayed) == ("ok", "refunded 500 on A-17", False)
    replay = box.run(CALL)
    assert replay.ok and replay.replayed
    assert done == [500]  # executed once


def test_rejected_call_never_runs() -> None:
    refund, done = _refund_tool()
    box = Toolbox([refund])
    rid = box.run(CALL).approval_id
    assert rid is not None
    box.approvals.reject(rid, by="bob", reason="duplicate refund")
    r = box.run(CALL)
    assert r.status == "rejected" and r.error == "refund was rejected by bob: duplicate refund"
    with pytest.raises(ApprovalRejected):
        r.raise_for_status()
    assert done == []


def test_approval_that_never_comes_is_a_bounded_pending_outcome() -> None:
    refund, done = _refund_tool()
    box = Toolbox([refund], approval_timeout=0.05)
    r = box.run(CALL)
    assert r.status == "pending_approval" and done == []
    assert box.run(CALL, approval_timeout=0).status == "pending_approval"


def test_waiting_call_runs_when_approved_meanwhile() -> None:
    refund, done = _refund_tool()
    box = Toolbox([refund])

    def approve_soon() -> None:
        for _ in range(500):
            pending = box.approvals.pending()
            if pending:
                box.approvals.approve(pending[0].id, by="ada")
                return
            time.sleep(0.005)

    approver = threading.Thread(target=approve_soon)
    approver.start()
    try:
        r = box.run(CALL, approval_timeout=10.0)
    finally:
        approver.join()
    assert r.ok and done == [500]


def test_distinct_keys_are_distinct_requests() -> None:
    refund, done = _refund_tool()
    box = Toolbox([refund])
    a = box.run(CALL, key="refund-1")
    b = box.run(CALL, key="refund-2")
    assert a.approval_id != b.approval_id and len(box.approvals.pending()) == 2
    box.approvals.approve(a.approval_id or "", by="ada")
    assert box.run(CALL, key="refund-1").ok
    assert box.run(CALL, key="refund-2").status == "pending_approval"
    assert done == [500]


def test_queue_in_a_file_shared_with_a_reviewer(tmp_path: Path) -> None:
    refund, done = _refund_tool()
    path = tmp_path / "review.sqlite"
    box = Toolbox([refund], approvals=path, store=tmp_path / "keys.sqlite")
    assert box.run(CALL).status == "pending_approval"
    reviewer = ApprovalQueue(path)
    reviewer.approve(reviewer.pending()[0].id, by="ada")
    assert box.run(CALL).ok
    # a new toolbox on the same files replays: the refund is not made twice
    box2 = Toolbox([refund], approvals=path, store=tmp_path / "keys.sqlite")
    assert box2.run(CALL).replayed and done == [500]
