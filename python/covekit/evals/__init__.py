"""Evaluation: retrieval metrics (trec_eval definitions) and benchmark loaders.

>>> from covekit import evals
>>> evals.recall_at_k({"q": ["a"]}, {"q": {"a": 1}}, 10)
1.0
"""

from covekit.evals.retrieval import BeirDataset as BeirDataset
from covekit.evals.retrieval import BeirDocument as BeirDocument
from covekit.evals.retrieval import load_beir as load_beir
from covekit.evals.retrieval import mrr_at_k as mrr_at_k
from covekit.evals.retrieval import ndcg_at_k as ndcg_at_k
from covekit.evals.retrieval import recall_at_k as recall_at_k

__all__ = ["BeirDataset", "BeirDocument", "load_beir", "mrr_at_k", "ndcg_at_k", "recall_at_k"]
