"""A tiny GGUF that llama.cpp loads: the Qwen2.5 instruct layout (architecture,
tokenizer kind, special tokens, chat template) with a few kilobytes of weights.

The real catalog models cannot be downloaded in tests, so their chat template
and stop sequences are checked on this stand-in. It is a `qwen2` model with a
byte-level BPE vocabulary (the 256 byte tokens and Qwen's three special tokens
`<|endoftext|>`, `<|im_start|>`, `<|im_end|>`), one layer, 16 dimensions. Its
weights are chosen, not trained: every layer adds nothing (zero attention and
feed-forward weights), so the next token depends only on the last one, through
the output matrix. After a newline it writes "O", after "O" "K", and after
anything else `<|im_end|>`: a reply to a prompt that ends with the assistant's
opener (`<|im_start|>assistant\\n`) is always "OK", then the end of the turn.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

QWEN25_CHAT_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user '
    "query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:"
    '\\n<tools>" }}\n'
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function '
    "name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n"
    '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call>'
    '<|im_end|>\\n" }}\n'
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) '
    'or (message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + "
    "'\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)
"""The chat template in Qwen2.5 Instruct's tokenizer_config.json (the same text
bartowski's GGUFs carry in `tokenizer.chat_template`)."""

ENDOFTEXT, IM_START, IM_END = 256, 257, 258
"""Token ids of the special tokens (after the 256 byte tokens)."""

_N_EMBD, _N_FF, _N_HEAD = 16, 32, 2

# GGUF value types
_U32, _I32, _F32, _BOOL, _STR, _ARR = 4, 5, 6, 7, 8, 9


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-unicode table: the text of each byte token, in byte order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _value(kind: int, value: object) -> bytes:
    if kind == _STR:
        return _string(str(value))
    if kind == _U32:
        return struct.pack("<I", value)
    if kind == _I32:
        return struct.pack("<i", value)
    if kind == _F32:
        return struct.pack("<f", value)
    if kind == _BOOL:
        return struct.pack("<?", value)
    raise ValueError(kind)


def _kv(key: str, kind: int, value: object) -> bytes:
    out = _string(key) + struct.pack("<I", kind)
    if kind == _ARR:
        item_kind, items = value  # type: ignore[misc]
        out += struct.pack("<IQ", item_kind, len(items))
        return out + b"".join(_value(item_kind, v) for v in items)
    return out + _value(kind, value)


def _weights() -> dict[str, np.ndarray]:
    """Tensors in numpy's (rows, columns) order; GGUF stores the shape reversed."""
    n_vocab = 259
    slot = {ord("\n"): 1, ord("O"): 2, ord("K"): 3}  # the rest share slot 0
    embd = np.zeros((n_vocab, _N_EMBD), np.float32)
    for token in range(n_vocab):
        embd[token, slot.get(token, 0)] = 1.0
    output = np.zeros((n_vocab, _N_EMBD), np.float32)
    output[ord("O"), 1] = 10.0  # after a newline: "O"
    output[ord("K"), 2] = 10.0  # after "O": "K"
    output[IM_END, 3] = 10.0  # after "K": the end of the turn
    output[IM_END, 0] = 10.0  # after anything else, too
    ones = np.ones(_N_EMBD, np.float32)
    zeros = np.zeros(_N_EMBD, np.float32)
    square = np.zeros((_N_EMBD, _N_EMBD), np.float32)
    return {
        "token_embd.weight": embd,
        "output_norm.weight": ones,
        "output.weight": output,
        "blk.0.attn_norm.weight": ones,
        "blk.0.attn_q.weight": square,
        "blk.0.attn_q.bias": zeros,
        "blk.0.attn_k.weight": square,
        "blk.0.attn_k.bias": zeros,
        "blk.0.attn_v.weight": square,
        "blk.0.attn_v.bias": zeros,
        "blk.0.attn_output.weight": square,
        "blk.0.ffn_norm.weight": ones,
        "blk.0.ffn_gate.weight": np.zeros((_N_FF, _N_EMBD), np.float32),
        "blk.0.ffn_up.weight": np.zeros((_N_FF, _N_EMBD), np.float32),
        "blk.0.ffn_down.weight": np.zeros((_N_EMBD, _N_FF), np.float32),
    }


def write_tiny_qwen(path: Path, chat_template: str | None = QWEN25_CHAT_TEMPLATE) -> Path:
    """Write the stand-in model; `chat_template=None` leaves the key out (a GGUF
    without a template, for the catalog's fallback)."""
    tokens = [*_byte_chars(), "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [1] * 256 + [3, 3, 3]  # normal, then control
    kvs = [
        _kv("general.architecture", _STR, "qwen2"),
        _kv("general.name", _STR, "tiny qwen2.5 stand-in"),
        _kv("general.alignment", _U32, 32),
        _kv("qwen2.context_length", _U32, 512),
        _kv("qwen2.embedding_length", _U32, _N_EMBD),
        _kv("qwen2.block_count", _U32, 1),
        _kv("qwen2.feed_forward_length", _U32, _N_FF),
        _kv("qwen2.attention.head_count", _U32, _N_HEAD),
        _kv("qwen2.attention.head_count_kv", _U32, _N_HEAD),
        _kv("qwen2.attention.layer_norm_rms_epsilon", _F32, 1e-6),
        _kv("qwen2.rope.freq_base", _F32, 1000000.0),
        _kv("tokenizer.ggml.model", _STR, "gpt2"),
        _kv("tokenizer.ggml.pre", _STR, "qwen2"),
        _kv("tokenizer.ggml.tokens", _ARR, (_STR, tokens)),
        _kv("tokenizer.ggml.token_type", _ARR, (_I32, types)),
        _kv("tokenizer.ggml.merges", _ARR, (_STR, ["Ġ Ġ"])),
        _kv("tokenizer.ggml.bos_token_id", _U32, ENDOFTEXT),
        _kv("tokenizer.ggml.eos_token_id", _U32, IM_END),
        _kv("tokenizer.ggml.padding_token_id", _U32, ENDOFTEXT),
        _kv("tokenizer.ggml.add_bos_token", _BOOL, False),
    ]
    if chat_template is not None:
        kvs.append(_kv("tokenizer.chat_template", _STR, chat_template))
    tensors = _weights()
    infos, blobs, offset = [], [], 0
    for name, array in tensors.items():
        dims = list(reversed(array.shape))
        infos.append(_string(name) + struct.pack("<I", len(dims))
                     + b"".join(struct.pack("<Q", d) for d in dims)
                     + struct.pack("<IQ", 0, offset))  # type 0: F32
        data = array.astype("<f4").tobytes()
        pad = (-len(data)) % 32
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    head = (b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
            + b"".join(kvs) + b"".join(infos))
    head += b"\0" * ((-len(head)) % 32)
    path.write_bytes(head + b"".join(blobs))
    return path
