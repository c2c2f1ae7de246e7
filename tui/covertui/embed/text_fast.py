"""The text tower without torch or transformers: numpy and the `tokenizers` library.

Importing torch and transformers' CLIP classes takes ~4 s on 2 cores; the app's first answer waited
for it. The first time a CLIP text tower is loaded through transformers, its weights (fp16) and
tokenizer are saved per model identity in the cache folder (`export`), checked against the
transformers tower on probe texts first. From then on `load` gives a tower that imports neither:
numpy's matrix products over the query's own tokens (no padding: CLIP's attention is causal, so
padding never changes the tokens before it). Families without a numpy tower here (anything not CLIP,
int8 models) keep transformers' path.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

FORMAT = 1  # bump when what is saved changes: older exports are made again
PROBES = ["a blue cover with a cat", "sunset", "Red", "an orange album cover with text, and a dog!"]
SAME = 0.995  # cosine of each probe against transformers' tower, at least (fp32: 1.0000; bf16 ~0.999)
log = logging.getLogger(__name__)


def folder(cache_dir: Path, identity: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in identity)
    return cache_dir / "text-towers" / f"{safe}-v{FORMAT}"


class NumpyClipText:
    """CLIP's text transformer and projection, as CLIPTextModelWithProjection computes them."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((path / "meta.json").read_text())
        self.layers, self.heads = meta["layers"], meta["heads"]
        self.eps, self.act, self.eos = meta["eps"], meta["act"], meta["eos_token_id"]
        self.max_length = meta["max_length"]
        with np.load(path / "weights.npz") as saved:
            self.w = {name: saved[name].astype(np.float32) for name in saved.files}
        self.dim = int(self.w["projection"].shape[0])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 rows, one per text."""
        out = np.stack([self._one(encoding.ids) for encoding in self.tokenizer.encode_batch(texts)])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def _one(self, ids: list[int]) -> np.ndarray:
        w, n = self.w, len(ids)
        x = w["token"][ids] + w["position"][:n]
        causal = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)
        head = x.shape[1] // self.heads
        for i in range(self.layers):
            p = f"{i}."
            h = _norm(x, w[p + "ln1.w"], w[p + "ln1.b"], self.eps)
            q = (h @ w[p + "q.w"].T + w[p + "q.b"]) * head ** -0.5
            k = h @ w[p + "k.w"].T + w[p + "k.b"]
            v = h @ w[p + "v.w"].T + w[p + "v.b"]
            q, k, v = (t.reshape(n, self.heads, head).transpose(1, 0, 2) for t in (q, k, v))
            scores = q @ k.transpose(0, 2, 1) + causal
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            x = x + attended.transpose(1, 0, 2).reshape(n, -1) @ w[p + "o.w"].T + w[p + "o.b"]
            h = _norm(x, w[p + "ln2.w"], w[p + "ln2.b"], self.eps)
            h = _activation(h @ w[p + "fc1.w"].T + w[p + "fc1.b"], self.act)
            x = x + h @ w[p + "fc2.w"].T + w[p + "fc2.b"]
        x = _norm(x, w["final.w"], w["final.b"], self.eps)
        ids_array = np.asarray(ids)
        # as transformers pools: the highest id for the original checkpoints (eos id 2), else the first EOS
        at = int(ids_array.argmax()) if self.eos == 2 else int(np.argmax(ids_array == self.eos))
        return w["projection"] @ x[at]


def _norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "quick_gelu":
        return x / (1.0 + np.exp(-1.702 * x))
    if name == "gelu":  # exact: 0.5 x (1 + erf(x / sqrt 2))
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    raise ValueError(name)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-7 (Abramowitz and Stegun 7.1.26 is 1.5e-7): numpy has none, and scipy is not here."""
    sign, a = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def saved(cache_dir: Path, identity: str) -> bool:
    return (folder(cache_dir, identity) / "meta.json").is_file()


def load(cache_dir: Path, identity: str) -> NumpyClipText | None:
    """The saved tower of this model identity, or None (not exported yet, or unreadable: transformers)."""
    if not saved(cache_dir, identity):
        return None
    path = folder(cache_dir, identity)
    try:
        return NumpyClipText(path)
    except Exception as exc:  # damaged: the transformers path works, and export() makes it again
        log.warning("text tower at %s not usable (%s); loading it through transformers", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None


def export(cache_dir: Path, identity: str, model, tokenizer, config) -> bool:
    """Save a transformers CLIPTextModelWithProjection for `load`, if its numpy tower gives the same
    vectors on the probes; True when saved. Written to a temporary folder and renamed: atomic."""
    if getattr(config, "hidden_act", None) not in ("quick_gelu", "gelu") or not hasattr(tokenizer, "backend_tokenizer"):
        return False
    import torch

    state = {name: tensor.detach().float().cpu().numpy() for name, tensor in model.state_dict().items()}
    prefix = "text_model."
    names = {"token": "embeddings.token_embedding.weight", "position": "embeddings.position_embedding.weight",
             "final.w": "final_layer_norm.weight", "final.b": "final_layer_norm.bias"}
    parts = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.out_proj",
             "ln1": "layer_norm1", "ln2": "layer_norm2", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}
    for i in range(config.num_hidden_layers):
        for short, long in parts.items():
            names[f"{i}.{short}.w"] = f"encoder.layers.{i}.{long}.weight"
            names[f"{i}.{short}.b"] = f"encoder.layers.{i}.{long}.bias"
    try:
        weights = {short: state[prefix + long] for short, long in names.items()}
        weights["projection"] = state["text_projection.weight"]
    except KeyError as exc:
        log.info("no numpy text tower for this checkpoint: %s missing", exc)
        return False
    target = folder(cache_dir, identity)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    try:
        tmp.mkdir(parents=True)
        np.savez(tmp / "weights.npz", **{k: v.astype(np.float16) for k, v in weights.items()})
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        max_length = int(getattr(config, "max_position_embeddings", 77))
        (tmp / "meta.json").write_text(json.dumps({
            "format": FORMAT, "layers": config.num_hidden_layers, "heads": config.num_attention_heads,
            "eps": float(config.layer_norm_eps), "act": config.hidden_act, "eos_token_id": int(config.eos_token_id),
            "max_length": max_length}))
        fast = NumpyClipText(tmp)
        inputs = tokenizer(PROBES, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            reference = torch.nn.functional.normalize(model(**inputs).text_embeds.float(), dim=-1).numpy()
        agreement = float((fast.encode(PROBES) * reference).sum(axis=1).min())
        if agreement < SAME:
            log.warning("numpy text tower disagrees with transformers (cosine %.4f): not used", agreement)
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        return True
    except OSError as exc:  # a read-only or full cache: transformers' path stays
        log.warning("could not save the numpy text tower: %s", exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return False
