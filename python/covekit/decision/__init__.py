"""The decision plane: what goes into a request (context, budgets) and where it goes (routing)."""

from covekit.decision.redact import ENTITIES as ENTITIES
from covekit.decision.redact import Finding as Finding
from covekit.decision.redact import Redaction as Redaction
from covekit.decision.redact import Redactor as Redactor
from covekit.decision.redact import Vault as Vault

__all__ = ["ENTITIES", "Finding", "Redaction", "Redactor", "Vault"]
