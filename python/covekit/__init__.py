"""covekit: the system around the model.

>>> import covekit
>>> covekit.get_tokenizer("cl100k_base").count("hello world")
2
"""

from covekit import decision as decision
from covekit import errors as errors
from covekit import evals as evals
from covekit import hash as hash
from covekit import observe as observe
from covekit.data.bm25 import Analyzer as Analyzer
from covekit.data.bm25 import BM25Index as BM25Index
from covekit.data.cache import CacheHit as CacheHit
from covekit.data.cache import CacheStats as CacheStats
from covekit.data.cache import QueryCache as QueryCache
from covekit.data.cache import calibrate_threshold as calibrate_threshold
from covekit.data.chunk import Chunk as Chunk
from covekit.data.chunk import Chunker as Chunker
from covekit.data.documents import Document as Document
from covekit.data.embed import Embedder as Embedder
from covekit.data.embed import HashingEmbedder as HashingEmbedder
from covekit.data.embed import OpenAICompatibleEmbedder as OpenAICompatibleEmbedder
from covekit.data.embed import SentenceTransformerEmbedder as SentenceTransformerEmbedder
from covekit.data.filters import Filter as Filter
from covekit.data.freshness import Freshness as Freshness
from covekit.data.freshness import parse_freshness as parse_freshness
from covekit.data.hybrid import HybridRetriever as HybridRetriever
from covekit.data.hybrid import RetrievalHit as RetrievalHit
from covekit.data.hybrid import SignalScore as SignalScore
from covekit.data.ingest import Duplicate as Duplicate
from covekit.data.ingest import IngestFailure as IngestFailure
from covekit.data.ingest import IngestResult as IngestResult
from covekit.data.ingest import IngestSummary as IngestSummary
from covekit.data.ingest import Skipped as Skipped
from covekit.data.ingest import load_documents as load_documents
from covekit.data.knowledge_base import AddSummary as AddSummary
from covekit.data.knowledge_base import DocumentInfo as DocumentInfo
from covekit.data.knowledge_base import KnowledgeBase as KnowledgeBase
from covekit.data.knowledge_base import SearchHit as SearchHit
from covekit.data.normalize import Normalization as Normalization
from covekit.data.normalize import normalize_text as normalize_text
from covekit.data.tokenize import Tokenizer as Tokenizer
from covekit.data.tokenize import get_tokenizer as get_tokenizer
from covekit.data.tokenize import list_encodings as list_encodings
from covekit.data.tokenize import tokenizer_for_model as tokenizer_for_model
from covekit.data.vector_index import MISSING_ID as MISSING_ID
from covekit.data.vector_index import VectorIndex as VectorIndex
from covekit.decision.budget import BudgetPlan as BudgetPlan
from covekit.decision.budget import Degrade as Degrade
from covekit.decision.chat_format import ChatFormat as ChatFormat
from covekit.decision.chat_format import chat_format_for_model as chat_format_for_model
from covekit.decision.chat_format import count_chat_tokens as count_chat_tokens
from covekit.decision.chat_format import count_tool_tokens as count_tool_tokens
from covekit.decision.conflicts import Conflict as Conflict
from covekit.decision.conflicts import Mention as Mention
from covekit.decision.conflicts import find_conflicts as find_conflicts
from covekit.decision.context import Context as Context
from covekit.decision.context import ContextBuilder as ContextBuilder
from covekit.decision.context import FreshnessPolicy as FreshnessPolicy
from covekit.decision.deadline import Deadline as Deadline
from covekit.decision.dedup import NearDuplicates as NearDuplicates
from covekit.decision.manifest import Citation as Citation
from covekit.decision.manifest import ContextManifest as ContextManifest
from covekit.decision.packing import Packing as Packing
from covekit.decision.packing import Section as Section
from covekit.decision.packing import pack as pack
from covekit.decision.policy import Policy as Policy
from covekit.decision.policy import PolicyFinding as PolicyFinding
from covekit.decision.policy import PolicyVerdict as PolicyVerdict
from covekit.decision.policy import Topic as Topic
from covekit.decision.prices import Price as Price
from covekit.decision.prices import PriceTable as PriceTable
from covekit.decision.redact import ENTITIES as ENTITIES
from covekit.decision.redact import Finding as Finding
from covekit.decision.redact import Redaction as Redaction
from covekit.decision.redact import Redactor as Redactor
from covekit.decision.redact import Vault as Vault
from covekit.decision.router import Route as Route
from covekit.decision.router import Router as Router
from covekit.decision.router import RouterReport as RouterReport
from covekit.decision.router import RouteRule as RouteRule
from covekit.decision.router import Workflow as Workflow
from covekit.errors import CovekitError as CovekitError
from covekit.errors import PolicyViolation as PolicyViolation
from covekit.errors import RepairError as RepairError
from covekit.execution.agent import Agent as Agent
from covekit.execution.agent import AgentRun as AgentRun
from covekit.execution.agent import AgentStep as AgentStep
from covekit.execution.answer import Answer as Answer
from covekit.execution.answer import AnswerCitation as AnswerCitation
from covekit.execution.approval import ApprovalQueue as ApprovalQueue
from covekit.execution.approval import ApprovalRequest as ApprovalRequest
from covekit.execution.calibrate import Calibrator as Calibrator
from covekit.execution.calibrate import ConfidenceSignals as ConfidenceSignals
from covekit.execution.calibrate import brier_decomposition as brier_decomposition
from covekit.execution.calibrate import brier_score as brier_score
from covekit.execution.calibrate import expected_calibration_error as expected_calibration_error
from covekit.execution.calibrate import reliability_table as reliability_table
from covekit.execution.calibrate import roc_auc as roc_auc
from covekit.execution.contract import Action as Action
from covekit.execution.contract import Budget as Budget
from covekit.execution.contract import Contract as Contract
from covekit.execution.contract import ContractStream as ContractStream
from covekit.execution.contract import Model as Model
from covekit.execution.contract import Rule as Rule
from covekit.execution.extractive import ExtractiveModel as ExtractiveModel
from covekit.execution.fallback import Fallback as Fallback
from covekit.execution.grounding import Grounding as Grounding
from covekit.execution.grounding import QuotedSpan as QuotedSpan
from covekit.execution.grounding import SentenceSupport as SentenceSupport
from covekit.execution.grounding import ground as ground
from covekit.execution.model import ModelBase as ModelBase
from covekit.execution.model import StreamEvent as StreamEvent
from covekit.execution.model_cache import CachedModel as CachedModel
from covekit.execution.model_cache import RequestCache as RequestCache
from covekit.execution.openai_client import OpenAIChatModel as OpenAIChatModel
from covekit.execution.repair import Repair as Repair
from covekit.execution.repair import Repaired as Repaired
from covekit.execution.repair import repair_json as repair_json
from covekit.execution.retry import RetryPolicy as RetryPolicy
from covekit.execution.schema import Schema as Schema
from covekit.execution.schema import SchemaViolation as SchemaViolation
from covekit.execution.schema import ValidationResult as ValidationResult
from covekit.execution.scripted import ScriptedCall as ScriptedCall
from covekit.execution.scripted import ScriptedModel as ScriptedModel
from covekit.execution.stream import SchemaStream as SchemaStream
from covekit.execution.stream import StreamState as StreamState
from covekit.execution.tools import IdempotencyStore as IdempotencyStore
from covekit.execution.tools import Tool as Tool
from covekit.execution.tools import Toolbox as Toolbox
from covekit.execution.tools import ToolResult as ToolResult
from covekit.execution.tools import tool as tool
from covekit.execution.verdict import ActionCall as ActionCall
from covekit.execution.verdict import Attempt as Attempt
from covekit.execution.verdict import Enforced as Enforced
from covekit.execution.verdict import Escalation as Escalation
from covekit.execution.verdict import ModelReply as ModelReply
from covekit.execution.verdict import StreamVerdict as StreamVerdict
from covekit.execution.verdict import ToolCall as ToolCall
from covekit.execution.verdict import Verdict as Verdict
from covekit.execution.verdict import Violation as Violation
from covekit.observe.export import OTLPExporter as OTLPExporter
from covekit.observe.privacy import ContentPolicy as ContentPolicy
from covekit.observe.sink import SpanSink as SpanSink
from covekit.observe.store import SQLiteTraceStore as SQLiteTraceStore
from covekit.observe.trace import Span as Span
from covekit.observe.trace import Trace as Trace
from covekit.observe.trace import Tracer as Tracer
from covekit.pipeline import Pipeline as Pipeline

__version__ = "0.1.0"

__all__ = [
    "ENTITIES",
    "MISSING_ID",
    "Action",
    "ActionCall",
    "AddSummary",
    "Agent",
    "AgentRun",
    "AgentStep",
    "Analyzer",
    "Answer",
    "AnswerCitation",
    "ApprovalQueue",
    "ApprovalRequest",
    "Attempt",
    "BM25Index",
    "Budget",
    "BudgetPlan",
    "CacheHit",
    "CacheStats",
    "CachedModel",
    "Calibrator",
    "ChatFormat",
    "Chunk",
    "Chunker",
    "Citation",
    "ConfidenceSignals",
    "Conflict",
    "ContentPolicy",
    "Context",
    "ContextBuilder",
    "ContextManifest",
    "Contract",
    "ContractStream",
    "CovekitError",
    "Deadline",
    "Degrade",
    "Document",
    "DocumentInfo",
    "Duplicate",
    "Embedder",
    "Enforced",
    "Escalation",
    "ExtractiveModel",
    "Fallback",
    "Filter",
    "Finding",
    "Freshness",
    "FreshnessPolicy",
    "Grounding",
    "HashingEmbedder",
    "HybridRetriever",
    "IdempotencyStore",
    "IngestFailure",
    "IngestResult",
    "IngestSummary",
    "KnowledgeBase",
    "Mention",
    "Model",
    "ModelBase",
    "ModelReply",
    "NearDuplicates",
    "Normalization",
    "OTLPExporter",
    "OpenAIChatModel",
    "OpenAICompatibleEmbedder",
    "Packing",
    "Pipeline",
    "Policy",
    "PolicyFinding",
    "PolicyVerdict",
    "PolicyViolation",
    "Price",
    "PriceTable",
    "QueryCache",
    "QuotedSpan",
    "Redaction",
    "Redactor",
    "Repair",
    "RepairError",
    "Repaired",
    "RequestCache",
    "RetrievalHit",
    "RetryPolicy",
    "Route",
    "RouteRule",
    "Router",
    "RouterReport",
    "Rule",
    "SQLiteTraceStore",
    "Schema",
    "SchemaStream",
    "SchemaViolation",
    "ScriptedCall",
    "ScriptedModel",
    "SearchHit",
    "Section",
    "SentenceSupport",
    "SentenceTransformerEmbedder",
    "SignalScore",
    "Skipped",
    "Span",
    "SpanSink",
    "StreamEvent",
    "StreamState",
    "StreamVerdict",
    "Tokenizer",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Toolbox",
    "Topic",
    "Trace",
    "Tracer",
    "ValidationResult",
    "Vault",
    "VectorIndex",
    "Verdict",
    "Violation",
    "Workflow",
    "__version__",
    "brier_decomposition",
    "brier_score",
    "calibrate_threshold",
    "chat_format_for_model",
    "count_chat_tokens",
    "count_tool_tokens",
    "decision",
    "errors",
    "evals",
    "expected_calibration_error",
    "find_conflicts",
    "get_tokenizer",
    "ground",
    "hash",
    "list_encodings",
    "load_documents",
    "normalize_text",
    "observe",
    "pack",
    "parse_freshness",
    "reliability_table",
    "repair_json",
    "roc_auc",
    "tokenizer_for_model",
    "tool",
]
