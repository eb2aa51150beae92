"""float64_lm.py - an independent float64 forward pass of the decoders mmsafe
loads (llama, qwen2, qwen3), straight from a GGUF file, in numpy.

It is the "exact" yardstick of tests/fixtures/decoders/: weights dequantised
exactly (F32, F16, Q8_0, Q4_K, Q6_K), every activation in float64, no rounding
of any kind.  Used by make_decoder_goldens.py; shares no code with the engine.
"""
import struct
import numpy as np

GGUF_TYPES = {0: ("u8", 1), 1: ("i8", 1), 2: ("u16", 2), 3: ("i16", 2), 4: ("u32", 4), 5: ("i32", 4),
              6: ("f32", 4), 7: ("bool", 1), 10: ("u64", 8), 11: ("i64", 8), 12: ("f64", 8)}
FMT = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f",
       "bool": "<?", "u64": "<Q", "i64": "<q", "f64": "<d"}
# ggml type id -> (block size, bytes per block)
QT = {0: (1, 4), 1: (1, 2), 8: (32, 34), 12: (256, 144), 14: (256, 210)}


class Gguf:
    def __init__(self, path):
        self.buf = open(path, "rb").read()
        b = self.buf
        assert b[:4] == b"GGUF", path
        self.p = 4
        _version, n_t, n_kv = struct.unpack_from("<IQQ", b, self.p)
        self.p += 20
        self.kv = {}
        for _ in range(n_kv):
            k = self._str()
            t = self._u32()
            self.kv[k] = self._val(t)
        self.tensors = {}
        for _ in range(n_t):
            name = self._str()
            nd = self._u32()
            ne = struct.unpack_from("<%dQ" % nd, b, self.p)
            self.p += 8 * nd
            ty = self._u32()
            off = struct.unpack_from("<Q", b, self.p)[0]
            self.p += 8
            self.tensors[name] = (ne, ty, off)
        align = self.kv.get("general.alignment", 32)
        self.data = (self.p + align - 1) // align * align

    def _u32(self):
        v = struct.unpack_from("<I", self.buf, self.p)[0]
        self.p += 4
        return v

    def _str(self):
        n = struct.unpack_from("<Q", self.buf, self.p)[0]
        s = self.buf[self.p + 8:self.p + 8 + n]
        self.p += 8 + n
        return s.decode("utf-8", "surrogateescape")

    def _val(self, t):
        if t == 8:
            return self._str()
        if t == 9:
            at = self._u32()
            n = struct.unpack_from("<Q", self.buf, self.p)[0]
            self.p += 8
            if at == 8:
                return [self._str() for _ in range(n)]
            name, size = GGUF_TYPES[at]
            arr = np.frombuffer(self.buf, dtype=np.dtype(FMT[name][1:]).newbyteorder("<"), count=n, offset=self.p)
            self.p += size * n
            return arr
        name, size = GGUF_TYPES[t]
        v = struct.unpack_from(FMT[name], self.buf, self.p)[0]
        self.p += size
        return v

    def has(self, name):
        return name in self.tensors

    def get(self, name):
        """The tensor as float64, numpy shape = reversed ne (rows of ne[0])."""
        ne, ty, off = self.tensors[name]
        n = int(np.prod(ne))
        blk, bb = QT[ty]
        raw = np.frombuffer(self.buf, dtype=np.uint8, count=n // blk * bb, offset=self.data + off)
        if ty == 0:
            x = raw.view("<f4").astype(np.float64)
        elif ty == 1:
            x = raw.view("<f2").astype(np.float64)
        elif ty == 8:
            x = deq_q8_0(raw.reshape(-1, 34))
        elif ty == 12:
            x = deq_q4_k(raw.reshape(-1, 144))
        elif ty == 14:
            x = deq_q6_k(raw.reshape(-1, 210))
        return x.reshape(tuple(reversed(ne)))


def f16(a):
    return np.ascontiguousarray(a).view("<f2").astype(np.float64).reshape(a.shape[:-1])


def deq_q8_0(b):
    d = f16(b[:, 0:2])
    q = b[:, 2:34].view(np.int8).astype(np.float64)
    return (d[:, None] * q).reshape(-1)


def deq_q4_k(b):
    d, dmin = f16(b[:, 0:2]), f16(b[:, 2:4])
    sc = b[:, 4:16].astype(np.int64)
    qs = b[:, 16:144].astype(np.int64)
    scale = np.zeros((b.shape[0], 8), np.int64)
    mins = np.zeros((b.shape[0], 8), np.int64)
    for j in range(8):  # 6-bit scales and mins, packed (spec: get_scale_min_k4)
        if j < 4:
            scale[:, j] = sc[:, j] & 63
            mins[:, j] = sc[:, j + 4] & 63
        else:
            scale[:, j] = (sc[:, j + 4] & 0xF) | ((sc[:, j - 4] >> 6) << 4)
            mins[:, j] = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
    out = np.zeros((b.shape[0], 256))
    for g in range(4):  # 64 values per group: low nibbles then high nibbles of 32 bytes
        q = qs[:, 32 * g:32 * g + 32]
        for h, vals in ((0, q & 0xF), (1, q >> 4)):
            j = 2 * g + h
            out[:, 64 * g + 32 * h:64 * g + 32 * h + 32] = (d * scale[:, j])[:, None] * vals - (dmin * mins[:, j])[:, None]
    return out.reshape(-1)


def deq_q6_k(b):
    ql = b[:, 0:128].astype(np.int64)
    qh = b[:, 128:192].astype(np.int64)
    sc = b[:, 192:208].view(np.int8).astype(np.float64)
    d = f16(b[:, 208:210])
    out = np.zeros((b.shape[0], 256))
    for half in range(2):
        L, H, S = ql[:, 64 * half:64 * half + 64], qh[:, 32 * half:32 * half + 32], sc[:, 8 * half:8 * half + 8]
        for l in range(32):
            i = l // 16
            q1 = ((L[:, l] & 0xF) | (((H[:, l] >> 0) & 3) << 4)) - 32
            q2 = ((L[:, l + 32] & 0xF) | (((H[:, l] >> 2) & 3) << 4)) - 32
            q3 = ((L[:, l] >> 4) | (((H[:, l] >> 4) & 3) << 4)) - 32
            q4 = ((L[:, l + 32] >> 4) | (((H[:, l] >> 6) & 3) << 4)) - 32
            base = 128 * half
            out[:, base + l] = d * S[:, i] * q1
            out[:, base + l + 32] = d * S[:, i + 2] * q2
            out[:, base + l + 64] = d * S[:, i + 4] * q3
            out[:, base + l + 96] = d * S[:, i + 6] * q4
    return out.reshape(-1)


class Model:
    def __init__(self, path):
        g = Gguf(path)
        self.arch = a = g.kv["general.architecture"]
        assert a in ("llama", "qwen2", "qwen3"), a
        kv = lambda k, d=None: g.kv.get("%s.%s" % (a, k), d)
        self.E = kv("embedding_length")
        self.L = kv("block_count")
        self.nh = kv("attention.head_count")
        self.nkv = kv("attention.head_count_kv", self.nh)
        self.hd = kv("attention.key_length", self.E // self.nh)
        self.eps = kv("attention.layer_norm_rms_epsilon")
        self.base = kv("rope.freq_base", 10000.0)
        fs = kv("rope.scaling.factor", 0.0) or 0.0
        self.freq_scale = 1.0 / fs if fs else 1.0
        self.neox = a in ("qwen2", "qwen3")
        self.emb = g.get("token_embd.weight")
        self.out = g.get("output.weight") if g.has("output.weight") else self.emb
        self.out_b = g.get("output.bias") if g.has("output.bias") else None
        self.out_norm = g.get("output_norm.weight")
        self.ff = g.get("rope_freqs.weight") if (a == "llama" and g.has("rope_freqs.weight")) else None
        opt = lambda n: g.get(n) if g.has(n) else None
        self.layers = []
        for i in range(self.L):
            p = "blk.%d." % i
            self.layers.append({k: opt(p + k) for k in (
                "attn_norm.weight", "ffn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                "attn_output.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_q.bias",
                "attn_k.bias", "attn_v.bias", "attn_output.bias", "attn_q_norm.weight", "attn_k_norm.weight")})
        self.gguf = g

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos):  # x [T, heads, hd]
        half = self.hd // 2
        i = np.arange(half)
        theta = pos[:, None] * self.base ** (-2.0 * i / self.hd)
        if self.ff is not None:
            theta = theta / self.ff[None, :]
        theta = theta * self.freq_scale
        c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        y = x.copy()
        if self.neox:
            a, b = x[..., :half], x[..., half:]
            y[..., :half] = a * c - b * s
            y[..., half:] = a * s + b * c
        else:
            a, b = x[..., 0::2], x[..., 1::2]
            y[..., 0::2] = a * c - b * s
            y[..., 1::2] = a * s + b * c
        return y

    def logits(self, tokens):
        """Last-position logits of the whole sequence (no cache: recomputed)."""
        T = len(tokens)
        x = self.emb[np.asarray(tokens)]
        pos = np.arange(T, dtype=np.float64)
        gq = self.nh // self.nkv
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for Ly in self.layers:
            h = self.rms(x, Ly["attn_norm.weight"])
            q = h @ Ly["attn_q.weight"].T
            k = h @ Ly["attn_k.weight"].T
            v = h @ Ly["attn_v.weight"].T
            if Ly["attn_q.bias"] is not None: q = q + Ly["attn_q.bias"]
            if Ly["attn_k.bias"] is not None: k = k + Ly["attn_k.bias"]
            if Ly["attn_v.bias"] is not None: v = v + Ly["attn_v.bias"]
            q = q.reshape(T, self.nh, self.hd)
            k = k.reshape(T, self.nkv, self.hd)
            v = v.reshape(T, self.nkv, self.hd)
            if Ly["attn_q_norm.weight"] is not None:
                q = self.rms(q, Ly["attn_q_norm.weight"])
                k = self.rms(k, Ly["attn_k_norm.weight"])
            q, k = self.rope(q, pos), self.rope(k, pos)
            o = np.zeros((T, self.nh, self.hd))
            for hh in range(self.nh):
                s = q[:, hh, :] @ k[:, hh // gq, :].T / np.sqrt(self.hd) + mask
                s = np.exp(s - s.max(axis=1, keepdims=True))
                s /= s.sum(axis=1, keepdims=True)
                o[:, hh, :] = s @ v[:, hh // gq, :]
            att = o.reshape(T, -1) @ Ly["attn_output.weight"].T
            if Ly["attn_output.bias"] is not None: att = att + Ly["attn_output.bias"]
            x = x + att
            h = self.rms(x, Ly["ffn_norm.weight"])
            gt, up = h @ Ly["ffn_gate.weight"].T, h @ Ly["ffn_up.weight"].T
            x = x + (gt / (1 + np.exp(-gt)) * up) @ Ly["ffn_down.weight"].T
        y = self.rms(x[-1], self.out_norm) @ self.out.T
        if self.out_b is not None: y = y + self.out_b
        return y
