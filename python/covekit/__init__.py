"""covekit: the system around the model.

>>> import covekit
>>> covekit.get_tokenizer("cl100k_base").count("hello world")
2
"""

from covekit import errors as errors
from covekit import hash as hash
from covekit.data.chunk import Chunk as Chunk
from covekit.data.chunk import Chunker as Chunker
from covekit.data.tokenize import Tokenizer as Tokenizer
from covekit.data.tokenize import get_tokenizer as get_tokenizer
from covekit.data.tokenize import list_encodings as list_encodings
from covekit.data.tokenize import tokenizer_for_model as tokenizer_for_model
from covekit.errors import CovekitError as CovekitError

__version__ = "0.1.0"

__all__ = [
    "Chunk",
    "Chunker",
    "CovekitError",
    "Tokenizer",
    "__version__",
    "errors",
    "get_tokenizer",
    "hash",
    "list_encodings",
    "tokenizer_for_model",
]
