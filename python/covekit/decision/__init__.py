"""The decision plane: what goes into a request (context, budgets), where it goes
(routing), and what it may contain (policy).

>>> import covekit.decision
>>> covekit.decision.Policy is covekit.Policy
True
"""

from covekit.decision.policy import Policy as Policy
from covekit.decision.policy import PolicyFinding as PolicyFinding
from covekit.decision.policy import PolicyVerdict as PolicyVerdict
from covekit.decision.policy import Topic as Topic

__all__ = ["Policy", "PolicyFinding", "PolicyVerdict", "Topic"]
