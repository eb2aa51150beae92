#!/usr/bin/env python3
"""chat_model.py - writes a tiny "scripted" LLaMA GGUF for the chat tests: a
byte-level BPE vocabulary in the style of Llama 3 or Qwen (their special
tokens, tokenizer.chat_template, add_bos) and weights chosen so that greedy
generation is known in advance.

Every attention and FFN weight is zero, so each position's final hidden state
is its own token embedding.  Chain tokens get one-hot embeddings and the output
row of the next chain token points at the previous one's direction, so the
argmax after token CHAIN[i] is CHAIN[i+1]; every other token has a zero
embedding (all logits 0: argmax = id 0).  After "\\n" (the last token of the
llama3 and chatml generation prompts) the model says

    "No" "," "Ġ" "Ã" "©" <end-of-turn> "Ġmore" "Ġmore" ...

i.e. "No, é" split over two byte tokens, then its end-of-turn token, then
" more" forever (what --ignore-eos shows).  Its verdict is "No" (unsafe).

usage: chat_model.py OUT.gguf llama3|qwen|notemplate [--embd N]
"""
import struct
import sys

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STR, GGUF_ARR = 4, 5, 6, 7, 8, 9


def byte_chars():
    """GPT-2 bytes_to_unicode, as characters in byte order."""
    out, nxt = [], 0x100
    for c in range(256):
        keep = 0x21 <= c <= 0x7E or 0xA1 <= c <= 0xAC or 0xAE <= c <= 0xFF
        out.append(chr(c) if keep else chr(nxt))
        if not keep:
            nxt += 1
    return out


def s(b, x):
    x = x.encode() if isinstance(x, str) else x
    b += struct.pack("<Q", len(x)) + x


def main():
    out, flavour = sys.argv[1], sys.argv[2]
    embd = int(sys.argv[sys.argv.index("--embd") + 1]) if "--embd" in sys.argv else 128
    toks = byte_chars() + ["Hi", "\u0120Yes", "Yes", "\u0120No", "No", "\u0120more"]
    types = [1] * len(toks)
    if flavour in ("llama3", "notemplate"):
        special = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        pre, add_bos, bos, eos, eot = "llama-bpe", True, "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
        tmpl = None if flavour == "notemplate" else (
            "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
            "message['content'] | trim + '<|eot_id|>' }}{% endfor %}")
    elif flavour == "qwen":
        special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        pre, add_bos, bos, eos, eot = "qwen2", False, "<|endoftext|>", "<|im_end|>", "<|im_end|>"
        tmpl = "{% for message in messages %}{{ '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{% endfor %}"
    else:
        sys.exit("flavour: llama3, qwen or notemplate")
    toks += special
    types += [3] * len(special)
    while len(toks) % 16:
        toks.append("[PAD%d]" % len(toks))
        types.append(5)
    V = len(toks)
    tid = {t: i for i, t in enumerate(toks)}
    chain = [10, tid["No"], ord(","), 0x20, 0xC3, 0xA9, tid[eot], tid["\u0120more"], tid["\u0120more"]]
    assert toks[0x20] == "\u0120" and toks[0xC3] == "\u00c3" and toks[0xA9] == "\u00a9"

    emb = [[0.0] * embd for _ in range(V)]
    outw = [[0.0] * embd for _ in range(V)]
    for k, t in enumerate(chain[:-1]):
        if any(emb[t]):
            continue                      # the last "more" loops onto itself
        emb[t][k] = 1.0
        outw[chain[k + 1]][k] = 10.0

    ff, heads = embd, 4
    tensors = [("token_embd.weight", [embd, V], emb)]
    zero = lambda r, c: [[0.0] * c for _ in range(r)]
    ones = [[1.0] * embd]
    tensors += [("blk.0.attn_norm.weight", [embd], ones),
                ("blk.0.attn_q.weight", [embd, embd], zero(embd, embd)),
                ("blk.0.attn_k.weight", [embd, embd], zero(embd, embd)),
                ("blk.0.attn_v.weight", [embd, embd], zero(embd, embd)),
                ("blk.0.attn_output.weight", [embd, embd], zero(embd, embd)),
                ("blk.0.ffn_norm.weight", [embd], ones),
                ("blk.0.ffn_gate.weight", [embd, ff], zero(ff, embd)),
                ("blk.0.ffn_up.weight", [embd, ff], zero(ff, embd)),
                ("blk.0.ffn_down.weight", [ff, embd], zero(embd, ff)),
                ("output_norm.weight", [embd], ones),
                ("output.weight", [embd, V], outw)]

    kv = bytearray()
    n_kv = 0

    def key(k, t):
        nonlocal n_kv
        s(kv, k)
        kv.extend(struct.pack("<I", t))
        n_kv += 1

    def kstr(k, v): key(k, GGUF_STR); s(kv, v)
    def ku32(k, v): key(k, GGUF_U32); kv.extend(struct.pack("<I", v))
    def kf32(k, v): key(k, GGUF_F32); kv.extend(struct.pack("<f", v))
    def kbool(k, v): key(k, GGUF_BOOL); kv.extend(struct.pack("<B", 1 if v else 0))

    kstr("general.architecture", "llama")
    kstr("general.name", "mmsafe scripted chat test model (%s)" % flavour)
    ku32("general.alignment", 32)
    ku32("llama.context_length", 512)
    ku32("llama.embedding_length", embd)
    ku32("llama.block_count", 1)
    ku32("llama.feed_forward_length", ff)
    ku32("llama.attention.head_count", heads)
    ku32("llama.attention.head_count_kv", heads)
    kf32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    kf32("llama.rope.freq_base", 10000.0)
    kstr("tokenizer.ggml.model", "gpt2")
    kstr("tokenizer.ggml.pre", pre)
    key("tokenizer.ggml.tokens", GGUF_ARR); kv.extend(struct.pack("<IQ", GGUF_STR, V))
    for t in toks:
        s(kv, t)
    key("tokenizer.ggml.token_type", GGUF_ARR); kv.extend(struct.pack("<IQ", GGUF_I32, V))
    kv.extend(struct.pack("<%di" % V, *types))
    key("tokenizer.ggml.merges", GGUF_ARR); kv.extend(struct.pack("<IQ", GGUF_STR, 0))
    ku32("tokenizer.ggml.bos_token_id", tid[bos])
    ku32("tokenizer.ggml.eos_token_id", tid[eos])
    kbool("tokenizer.ggml.add_bos_token", add_bos)
    if tmpl:
        kstr("tokenizer.chat_template", tmpl)

    info = bytearray()
    data = bytearray()
    for name, ne, rows in tensors:
        s(info, name)
        info.extend(struct.pack("<I", len(ne)))
        for d in ne:
            info.extend(struct.pack("<Q", d))
        info.extend(struct.pack("<IQ", 0, len(data)))       # F32, offset
        for r in rows:
            data.extend(struct.pack("<%df" % len(r), *r))
        while len(data) % 32:
            data.append(0)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), n_kv) + bytes(kv) + bytes(info)
    head += b"\0" * (-len(head) % 32)
    with open(out, "wb") as f:
        f.write(head + bytes(data))


if __name__ == "__main__":
    main()
