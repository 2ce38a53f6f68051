"""The decision plane: what goes into a request (context, budgets), where it goes
(routing), and what it may contain (redaction, policy).

>>> import covekit.decision
>>> covekit.decision.Policy is covekit.Policy and covekit.decision.Redactor is covekit.Redactor
True
"""

from covekit.decision.policy import Policy as Policy
from covekit.decision.policy import PolicyFinding as PolicyFinding
from covekit.decision.policy import PolicyVerdict as PolicyVerdict
from covekit.decision.policy import Topic as Topic
from covekit.decision.redact import ENTITIES as ENTITIES
from covekit.decision.redact import Finding as Finding
from covekit.decision.redact import Redaction as Redaction
from covekit.decision.redact import Redactor as Redactor
from covekit.decision.redact import Vault as Vault

__all__ = [
    "ENTITIES",
    "Finding",
    "Policy",
    "PolicyFinding",
    "PolicyVerdict",
    "Redaction",
    "Redactor",
    "Topic",
    "Vault",
]
