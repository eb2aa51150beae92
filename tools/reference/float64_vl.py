"""float64_vl.py - an independent computation of Qwen2-VL / Qwen2.5-VL in numpy:
preprocessing, the vision tower and merger, and the qwen2vl language model with
M-RoPE positions, straight from the GGUF files (float64_lm.py's reader).

Two computations (mode):
  "llama.cpp"  what the reference (llama.cpp 3f545be, libmtmd) computes: its
               float32 size rule and letterboxed align-corners bilinear resize
               (bit-exact, so the script can assert it against the reference's
               own tensor), the merger's tanh GELU, the LM's RMSNorm with eps 0;
  "hf"         the original (Hugging Face transformers: Qwen2VLImageProcessor,
               Qwen2VisionTransformerPretrainedModel / Qwen2_5_VisionTransformer,
               Qwen2VLModel), written from its published behaviour: smart_resize
               in Python floats (round half to even), Pillow's BICUBIC stretch
               (the real PIL here), rescale in float64 then float32, the erf
               GELU, the LM's RMSNorm with the file's epsilon.
Everything after preprocessing is float64 with exact weights (dequantised
exactly) and exact activations: the yardstick of `--arith exact`.  Shares no
code with the engine; used by make_vl_goldens.py.
"""
import math
import numpy as np

import float64_lm

F32 = np.float32
WINDOW_PX = 112
MERGE = 2


# ------------------------------------------------------------------ preprocessing

def _round_half_away_f32(r):
    """std::round of a float32 value (exact in double)."""
    r = float(r)
    q = math.floor(r)
    return q + (1 if r - q >= 0.5 else 0)


def size_llama_cpp(w, h, align, min_px, max_px):
    f = F32(align)
    wb = max(align, int(_round_half_away_f32(F32(w) / f)) * align)
    hb = max(align, int(_round_half_away_f32(F32(h) / f)) * align)
    if max_px > 0 and hb * wb > max_px:
        beta = np.sqrt(F32(h) * F32(w) / F32(max_px))
        hb = max(align, int(math.floor(float(F32(F32(h) / beta) / f))) * align)
        wb = max(align, int(math.floor(float(F32(F32(w) / beta) / f))) * align)
    elif min_px > 0 and hb * wb < min_px:
        beta = np.sqrt(F32(min_px) / (F32(h) * F32(w)))
        hb = int(math.ceil(float(F32(F32(h) * beta) / f))) * align
        wb = int(math.ceil(float(F32(F32(w) * beta) / f))) * align
    return wb, hb


def size_hf(w, h, align, min_px, max_px):
    if w < 10 or h < 10 or max(w, h) / min(w, h) > 200:
        raise ValueError("the original processor refuses a %dx%d image" % (w, h))
    hb = round(h / align) * align
    wb = round(w / align) * align
    if hb * wb > max_px:
        beta = math.sqrt((h * w) / max_px)
        hb = max(align, math.floor(h / beta / align) * align)
        wb = max(align, math.floor(w / beta / align) * align)
    elif hb * wb < min_px:
        beta = math.sqrt(min_px / (h * w))
        hb = math.ceil(h * beta / align) * align
        wb = math.ceil(w * beta / align) * align
    return wb, hb


def bilinear_f32(src, tw, th):
    """The reference's resize_bilinear (align corners, float32, truncation)."""
    h, w, _ = src.shape
    xr = F32(w - 1) / F32(tw - 1) if tw > 1 else F32(0)
    yr = F32(h - 1) / F32(th - 1) if th > 1 else F32(0)
    px = np.arange(tw, dtype=F32) * xr
    py = np.arange(th, dtype=F32) * yr
    x0 = np.minimum(px.astype(np.int64), w - 1)
    y0 = np.minimum(py.astype(np.int64), h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    xf = (px - x0.astype(F32))[None, :, None]
    yf = (py - y0.astype(F32))[:, None, None]
    s = src.astype(F32)
    p00, p10 = s[y0][:, x0], s[y0][:, x1]
    p01, p11 = s[y1][:, x0], s[y1][:, x1]
    top = p00 + (p10 - p00) * xf
    bot = p01 + (p11 - p01) * xf
    return (top + (bot - top) * yf).astype(np.uint8)


def preprocess(rgb, mode, mean, std, min_tokens, max_tokens, align=28):
    """rgb (h, w, 3) uint8 -> (3, th, tw) float32 and the resized uint8 image."""
    h, w, _ = rgb.shape
    a2 = align * align
    if mode == "llama.cpp":
        tw, th = size_llama_cpp(w, h, align, min_tokens * a2, max_tokens * a2)
        if (tw, th) == (w, h):
            img = rgb.copy()
        else:
            sc = min(F32(tw) / F32(w), F32(th) / F32(h))
            nw = min(int(math.ceil(float(F32(F32(w) * sc)))), tw)
            nh = min(int(math.ceil(float(F32(F32(h) * sc)))), th)
            small = bilinear_f32(rgb, nw, nh)
            img = np.zeros((th, tw, 3), np.uint8)
            ox, oy = (tw - nw) // 2, (th - nh) // 2
            img[oy:oy + nh, ox:ox + nw] = small
        v = img.astype(F32) / F32(255)
    else:
        from PIL import Image
        tw, th = size_hf(w, h, align, min_tokens * a2, max_tokens * a2)
        img = np.asarray(Image.fromarray(rgb).resize((tw, th), Image.BICUBIC)) if (tw, th) != (w, h) else rgb.copy()
        v = (img.astype(np.float64) * (1 / 255)).astype(F32)
    out = (v - np.asarray(mean, F32)) / np.asarray(std, F32)
    return np.ascontiguousarray(out.transpose(2, 0, 1)).astype(F32), img


# ------------------------------------------------------------------ vision tower

def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    from math import erf
    return 0.5 * x * (1 + np.vectorize(erf)(x / math.sqrt(2)))


class Vision:
    def __init__(self, path):
        g = float64_lm.Gguf(path)
        kv = g.kv
        self.proj = kv["clip.projector_type"]
        assert self.proj in ("qwen2vl_merger", "qwen2.5vl_merger"), self.proj
        self.q25 = self.proj == "qwen2.5vl_merger"
        self.P = kv["clip.vision.patch_size"]
        self.D = kv["clip.vision.embedding_length"]
        self.H = kv["clip.vision.attention.head_count"]
        self.L = kv["clip.vision.block_count"]
        self.eps = kv["clip.vision.attention.layer_norm_epsilon"]
        self.silu = bool(kv.get("clip.use_silu", False))
        self.n_wa = kv.get("clip.vision.n_wa_pattern", 0) if self.q25 else 0
        self.mean = [float(x) for x in kv["clip.vision.image_mean"]]
        self.std = [float(x) for x in kv["clip.vision.image_std"]]
        self.dh = self.D // self.H
        t = lambda n: g.get(n) if g.has(n) else None
        self.k0 = g.get("v.patch_embd.weight").reshape(self.D, -1)
        self.k1 = g.get("v.patch_embd.weight.1").reshape(self.D, -1)
        self.blocks = []
        for i in range(self.L):
            p = "v.blk.%d." % i
            self.blocks.append({k: t(p + k) for k in (
                "ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "attn_q.weight", "attn_q.bias", "attn_k.weight",
                "attn_k.bias", "attn_v.weight", "attn_v.bias", "attn_out.weight", "attn_out.bias", "ffn_gate.weight",
                "ffn_gate.bias", "ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias")})
        self.post_w, self.post_b = t("v.post_ln.weight"), t("v.post_ln.bias")
        self.mm0, self.mm0_b = g.get("mm.0.weight"), g.get("mm.0.bias")
        self.mm2, self.mm2_b = g.get("mm.2.weight"), g.get("mm.2.bias")
        self.n_out = self.mm2.shape[0]

    def norm(self, x, w, b):
        if self.q25:
            y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w
        else:
            mu = x.mean(axis=-1, keepdims=True)
            var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
            y = (x - mu) / np.sqrt(var + self.eps) * w
        return y + b if b is not None else y

    def unit_order(self, gw, gh):
        if self.n_wa <= 0:
            return list(range(gw * gh)), [(0, gw * gh)]
        win = WINDOW_PX // (self.P * MERGE)
        order, wins = [], []
        for wy in range(0, gh, win):
            for wx in range(0, gw, win):
                a = len(order)
                for dy in range(min(win, gh - wy)):
                    for dx in range(min(win, gw - wx)):
                        order.append((wy + dy) * gw + wx + dx)
                wins.append((a, len(order)))
        return order, wins

    def encode(self, pre, mode):
        """pre (3, H, W) -> (gw*gh, n_out) float64, rows in row-major token order."""
        P, D, dh = self.P, self.D, self.dh
        _, Hpx, W = pre.shape
        gw, gh = W // (P * MERGE), Hpx // (P * MERGE)
        U = gw * gh
        order, wins = self.unit_order(gw, gh)
        pre = pre.astype(np.float64)
        py, px, cols = [], [], []
        for s in range(4 * U):
            u, sub = order[s // 4], s % 4
            y, x = 2 * (u // gw) + sub // 2, 2 * (u % gw) + sub % 2
            py.append(y)
            px.append(x)
            cols.append(pre[:, y * P:(y + 1) * P, x * P:(x + 1) * P].reshape(-1))
        cols = np.array(cols)
        x = cols @ self.k0.T + cols @ self.k1.T
        # 2-D rotary: pairs (i, i + dh/2); the first dh/4 turn with the row, the next with the column
        q4 = dh // 4
        inv = 10000.0 ** (-np.arange(q4) * 4.0 / dh)
        ang = np.concatenate([np.array(py)[:, None] * inv[None, :], np.array(px)[:, None] * inv[None, :]], axis=1)
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

        def rope(v):
            v = v.reshape(len(v), self.H, dh)
            a, b = v[..., :dh // 2], v[..., dh // 2:]
            return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

        T = 4 * U
        for li, B in enumerate(self.blocks):
            h = self.norm(x, B["ln1.weight"], B["ln1.bias"])
            q = rope(h @ B["attn_q.weight"].T + B["attn_q.bias"])
            k = rope(h @ B["attn_k.weight"].T + B["attn_k.bias"])
            v = (h @ B["attn_v.weight"].T + B["attn_v.bias"]).reshape(T, self.H, dh)
            full = self.n_wa <= 0 or (li + 1) % self.n_wa == 0
            ranges = [(0, T)] if full else [(4 * a, 4 * b) for (a, b) in wins]
            o = np.zeros((T, self.H, dh))
            for (a, b) in ranges:
                for hh in range(self.H):
                    sc = q[a:b, hh] @ k[a:b, hh].T / math.sqrt(dh)
                    sc = np.exp(sc - sc.max(axis=1, keepdims=True))
                    sc /= sc.sum(axis=1, keepdims=True)
                    o[a:b, hh] = sc @ v[a:b, hh]
            x = x + o.reshape(T, D) @ B["attn_out.weight"].T + B["attn_out.bias"]
            h = self.norm(x, B["ln2.weight"], B["ln2.bias"])
            up = h @ B["ffn_up.weight"].T + (B["ffn_up.bias"] if B["ffn_up.bias"] is not None else 0)
            if B["ffn_gate.weight"] is not None:
                gt = h @ B["ffn_gate.weight"].T + B["ffn_gate.bias"]
                act = gt / (1 + np.exp(-gt)) if self.silu else gt / (1 + np.exp(-1.702 * gt))
                f = act * up
            else:
                f = up / (1 + np.exp(-up)) if self.silu else up / (1 + np.exp(-1.702 * up))
            x = x + f @ B["ffn_down.weight"].T + B["ffn_down.bias"]
        if self.post_w is not None:
            x = self.norm(x, self.post_w, self.post_b)
        m = x.reshape(U, 4 * D) @ self.mm0.T + self.mm0_b
        m = gelu_tanh(m) if mode == "llama.cpp" else gelu_erf(m)
        y = m @ self.mm2.T + self.mm2_b
        out = np.zeros_like(y)
        out[np.array(order)] = y
        return out, gw, gh


# ------------------------------------------------------------------ language model

class LM(float64_lm.Model):
    """qwen2vl: float64_lm's qwen2 forward with M-RoPE positions (t, y, x, e)."""

    def __init__(self, path):
        g = float64_lm.Gguf(path)
        assert g.kv["general.architecture"] == "qwen2vl"
        g.kv["general.architecture"] = "qwen2"   # the same block; positions and eps are ours
        for k in list(g.kv):
            if k.startswith("qwen2vl."):
                g.kv["qwen2." + k[8:]] = g.kv[k]
        self._init_from(g)
        self.sect = [int(s) for s in g.kv["qwen2.rope.dimension_sections"]] + [0] * 4
        self.sect = self.sect[:4]
        self.file_eps = self.eps

    def _init_from(self, g):
        # float64_lm.Model.__init__ reads a path; redo its reading from the parsed file
        a = "qwen2"
        kv = lambda k, d=None: g.kv.get("%s.%s" % (a, k), d)
        self.arch = a
        self.E = kv("embedding_length")
        self.L = kv("block_count")
        self.nh = kv("attention.head_count")
        self.nkv = kv("attention.head_count_kv", self.nh)
        self.hd = kv("attention.key_length", self.E // self.nh)
        self.eps = kv("attention.layer_norm_rms_epsilon", 0.0)
        self.base = kv("rope.freq_base", 10000.0)
        self.freq_scale = 1.0
        self.neox = True
        self.emb = g.get("token_embd.weight")
        self.out = g.get("output.weight") if g.has("output.weight") else self.emb
        self.out_b = g.get("output.bias") if g.has("output.bias") else None
        self.out_norm = g.get("output_norm.weight")
        self.ff = None
        opt = lambda n: g.get(n) if g.has(n) else None
        self.layers = []
        for i in range(self.L):
            p = "blk.%d." % i
            self.layers.append({k: opt(p + k) for k in (
                "attn_norm.weight", "ffn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                "attn_output.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_q.bias",
                "attn_k.bias", "attn_v.bias", "attn_output.bias", "attn_q_norm.weight", "attn_k_norm.weight")})
        self.gguf = g

    def rope4(self, x, pos4):
        half = self.hd // 2
        i = np.arange(half)
        tot = sum(self.sect)
        sector = i % tot
        comp = np.where(sector < self.sect[0], 0, np.where(sector < self.sect[0] + self.sect[1], 1,
                        np.where(sector < self.sect[0] + self.sect[1] + self.sect[2], 2, 3)))
        p = pos4[:, comp].astype(np.float64)        # [T, half]
        theta = p * self.base ** (-2.0 * i / self.hd)
        c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)

    def logits_mm(self, tokens, embd, pos4, eps):
        """tokens with -1 where the next row of embd goes; pos4 [T, 4]; last-position logits."""
        self.eps = eps
        T = len(tokens)
        x = np.zeros((T, self.E))
        e = 0
        for i, t in enumerate(tokens):
            if t < 0:
                x[i] = embd[e]
                e += 1
            else:
                x[i] = self.emb[t]
        gq = self.nh // self.nkv
        mask = np.triu(np.full((T, T), -np.inf), 1)
        pos4 = np.asarray(pos4)
        for Ly in self.layers:
            h = self.rms(x, Ly["attn_norm.weight"])
            q = (h @ Ly["attn_q.weight"].T + Ly["attn_q.bias"]).reshape(T, self.nh, self.hd)
            k = (h @ Ly["attn_k.weight"].T + Ly["attn_k.bias"]).reshape(T, self.nkv, self.hd)
            v = (h @ Ly["attn_v.weight"].T + Ly["attn_v.bias"]).reshape(T, self.nkv, self.hd)
            q, k = self.rope4(q, pos4), self.rope4(k, pos4)
            o = np.zeros((T, self.nh, self.hd))
            for hh in range(self.nh):
                s = q[:, hh, :] @ k[:, hh // gq, :].T / np.sqrt(self.hd) + mask
                s = np.exp(s - s.max(axis=1, keepdims=True))
                s /= s.sum(axis=1, keepdims=True)
                o[:, hh, :] = s @ v[:, hh // gq, :]
            x = x + o.reshape(T, -1) @ Ly["attn_output.weight"].T
            h = self.rms(x, Ly["ffn_norm.weight"])
            gt, up = h @ Ly["ffn_gate.weight"].T, h @ Ly["ffn_up.weight"].T
            x = x + (gt / (1 + np.exp(-gt)) * up) @ Ly["ffn_down.weight"].T
        y = self.rms(x[-1], self.out_norm) @ self.out.T
        if self.out_b is not None:
            y = y + self.out_b
        return y


def positions(tokens, gw, gh):
    """M-RoPE positions as the reference and Hugging Face's get_rope_index assign
    them: text (p, p, p, 0); the image's rows (p0, p0 + r, p0 + c, 0); the text
    after the image resumes at p0 + max(gw, gh).  Returns [T, 4] and the next p."""
    out, p, i = [], 0, 0
    while i < len(tokens):
        if tokens[i] < 0:
            for r in range(gh):
                for c in range(gw):
                    out.append((p, p + r, p + c, 0))
            i += gw * gh
            p += max(gw, gh)
        else:
            out.append((p, p, p, 0))
            p += 1
            i += 1
    return np.array(out, np.int64), p
