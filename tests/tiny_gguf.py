"""A tiny llama model in GGUF, generated for tests: an honest unreliable collaborator.

``write_tiny_llama(path)`` writes a 2-layer llama with random weights (a fixed seed) and
a byte-level vocabulary: the 256 byte tokens ``<0x00>``..``<0xFF>`` of a SentencePiece
("llama") tokenizer, plus ``<unk>``, ``<s>`` (BOS) and ``</s>`` (EOS) at llama's default
ids 0, 1, 2. Every text tokenizes (each UTF-8 byte is a token), so any prompt works;
what the model writes is noise, but it is real generation by llama.cpp: sampling,
stopping, usage counts, and grammar-constrained output when a request carries a JSON
Schema. ``tokenizer.chat_template`` holds a small Jinja template, so an
OpenAI-compatible server answers ``/v1/chat/completions`` with it.

The file is about 0.5 MB (F32 weights) and takes a few milliseconds to write.

Run as a script to write one: ``python tests/tiny_gguf.py /tmp/tiny.gguf``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

#: The model's shape: small enough to answer in a blink on one core.
N_VOCAB = 3 + 256
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_LAYER = 2
N_CTX_TRAIN = 2048
HEAD_DIM = N_EMBD // N_HEAD

#: A role-tagged chat template (Jinja, as llama-cpp-python renders it), BOS first.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _tokens() -> tuple[list[str], list[int]]:
    import gguf

    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [
        gguf.TokenType.UNKNOWN,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
    ] + [gguf.TokenType.BYTE] * 256
    return tokens, [int(t) for t in types]


def write_tiny_llama(path: str | Path, *, seed: int = 0) -> Path:
    """Writes the tiny llama GGUF to ``path`` (weights from ``seed``) and returns it."""
    import gguf

    path = Path(path)
    rng = np.random.default_rng(seed)

    def weight(*shape: int, scale: float = 0.5) -> np.ndarray:
        # numpy shape is (rows=out, cols=in), as in PyTorch; the writer reverses it into
        # ggml's order. A large scale makes the logits vary, so sampling is not uniform.
        return (rng.standard_normal(shape) * scale / np.sqrt(shape[-1])).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("covekit-tiny-llama")
    w.add_context_length(N_CTX_TRAIN)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(N_VOCAB)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, types = _tokens()
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_scores([0.0] * N_VOCAB)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    w.add_tensor("token_embd.weight", weight(N_VOCAB, N_EMBD, scale=1.0))
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(N_EMBD))
        w.add_tensor(p + "attn_q.weight", weight(N_HEAD * HEAD_DIM, N_EMBD))
        w.add_tensor(p + "attn_k.weight", weight(N_HEAD_KV * HEAD_DIM, N_EMBD))
        w.add_tensor(p + "attn_v.weight", weight(N_HEAD_KV * HEAD_DIM, N_EMBD))
        w.add_tensor(p + "attn_output.weight", weight(N_EMBD, N_HEAD * HEAD_DIM))
        w.add_tensor(p + "ffn_norm.weight", ones(N_EMBD))
        w.add_tensor(p + "ffn_gate.weight", weight(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", weight(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", weight(N_EMBD, N_FF))
    w.add_tensor("output_norm.weight", ones(N_EMBD))
    w.add_tensor("output.weight", weight(N_VOCAB, N_EMBD, scale=4.0))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


if __name__ == "__main__":
    out = write_tiny_llama(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")
    print(f"{out}: {out.stat().st_size} bytes")
