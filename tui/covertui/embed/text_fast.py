"""The text tower without torch or transformers: numpy and the `tokenizers` library.

Importing torch and transformers takes ~4 s on 2 cores; the app's first answer waited for it. A text
tower is saved once per model identity in the cache folder, and from then on `load` gives a tower that
imports neither:
- CLIP: the first time transformers loads it (`export`), checked against it on probe texts. It runs
  over the query's own tokens (CLIP's attention is causal: padding never changes the tokens before it).
- SigLIP: straight from the checkpoint's safetensors (`export_siglip`), never loading torch's tower,
  whose 256k-token table is 0.8 GB in fp32 (SigLIP 2 B). Its tokenizer is checked against
  transformers' on the probes. Queries are padded to the trained length (the pooled vector is the last
  position's), lowercased for SigLIP 2, masked as transformers masks them.
The token table stays on disk (fp16, memory-mapped): only the rows of the tokens used are read.
Families without a numpy tower (int8 models, other activations) keep transformers' path.
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

FORMAT = 2  # bump when what is saved changes: older exports are made again
PROBES = ["a blue cover with a cat", "sunset", "Red", "an orange album cover with text, and a dog!",
          "une pochette bleue avec un chat", "青い猫のカバー", "cat " * 80]
SAME = 0.995  # cosine of each probe against transformers' tower, at least (fp32: 1.0000; bf16 ~0.999)
ACTIVATIONS = ("quick_gelu", "gelu", "gelu_pytorch_tanh")
log = logging.getLogger(__name__)


def folder(cache_dir: Path, identity: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in identity)
    return cache_dir / "text-towers" / f"{safe}-v{FORMAT}"


class NumpyText:
    """A CLIP or SigLIP text transformer and its head, as transformers computes them."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((path / "meta.json").read_text())
        self.family = meta.get("family", "clip")
        self.layers, self.heads = meta["layers"], meta["heads"]
        self.eps, self.act, self.eos = meta["eps"], meta["act"], meta["eos_token_id"]
        self.max_length = meta["max_length"]
        self.lowercase, self.masked = meta.get("lowercase", False), meta.get("masked", False)
        with np.load(path / "weights.npz") as saved:
            self.w = {name: saved[name].astype(np.float32) for name in saved.files}
        self.token = np.load(path / "token.npy", mmap_mode="r")  # read by row: a 256k table stays on disk
        self.dim = int(self.w["projection"].shape[0])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        if self.family == "clip":
            self.tokenizer.no_padding()
        else:
            self.tokenizer.enable_padding(length=self.max_length, pad_id=meta["pad_id"], pad_token=meta["pad_token"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 rows, one per text."""
        texts = [t.lower() for t in texts] if self.lowercase else texts
        out = np.stack([self._one(e.ids, e.attention_mask) for e in self.tokenizer.encode_batch(texts)])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def _one(self, ids: list[int], mask: list[int]) -> np.ndarray:
        w, n = self.w, len(ids)
        x = self.token[ids].astype(np.float32) + w["position"][:n]
        bias: np.ndarray | float
        if self.family == "clip":
            bias = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)
        else:  # padding is attended to unless the tokenizer masks it (as transformers passes its mask)
            bias = np.where(np.asarray(mask) > 0, 0.0, -np.inf).astype(np.float32)[None, :] if self.masked else 0.0
        head = x.shape[1] // self.heads
        for i in range(self.layers):
            p = f"{i}."
            h = _norm(x, w[p + "ln1.w"], w[p + "ln1.b"], self.eps)
            q = (h @ w[p + "q.w"].T + w[p + "q.b"]) * head ** -0.5
            k = h @ w[p + "k.w"].T + w[p + "k.b"]
            v = h @ w[p + "v.w"].T + w[p + "v.b"]
            q, k, v = (t.reshape(n, self.heads, head).transpose(1, 0, 2) for t in (q, k, v))
            scores = q @ k.transpose(0, 2, 1) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            attended = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            x = x + attended.transpose(1, 0, 2).reshape(n, -1) @ w[p + "o.w"].T + w[p + "o.b"]
            h = _norm(x, w[p + "ln2.w"], w[p + "ln2.b"], self.eps)
            h = _activation(h @ w[p + "fc1.w"].T + w[p + "fc1.b"], self.act)
            x = x + h @ w[p + "fc2.w"].T + w[p + "fc2.b"]
        x = _norm(x, w["final.w"], w["final.b"], self.eps)
        if self.family != "clip":  # SigLIP: the last position, through the head
            return w["projection"] @ x[-1] + w["head.b"]
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
    if name == "gelu_pytorch_tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    raise ValueError(name)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-7 (Abramowitz and Stegun 7.1.26 is 1.5e-7): numpy has none, and scipy is not here."""
    sign, a = np.sign(x), np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def saved(cache_dir: Path, identity: str) -> bool:
    return (folder(cache_dir, identity) / "meta.json").is_file()


def load(cache_dir: Path, identity: str) -> NumpyText | None:
    """The saved tower of this model identity, or None (not exported yet, or unreadable: transformers)."""
    if not saved(cache_dir, identity):
        return None
    path = folder(cache_dir, identity)
    try:
        return NumpyText(path)
    except Exception as exc:  # damaged: the transformers path works, and export() makes it again
        log.warning("text tower at %s not usable (%s); loading it through transformers", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None


_PARTS = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.out_proj",
          "ln1": "layer_norm1", "ln2": "layer_norm2", "fc1": "mlp.fc1", "fc2": "mlp.fc2"}


def _names(layers: int, head: str) -> dict[str, str]:
    """Our short names -> transformers' state names of a text tower (CLIP's and SigLIP's agree but the head)."""
    names = {"position": "text_model.embeddings.position_embedding.weight",
             "final.w": "text_model.final_layer_norm.weight", "final.b": "text_model.final_layer_norm.bias",
             "projection": f"{head}.weight"}
    for i in range(layers):
        for short, long in _PARTS.items():
            names[f"{i}.{short}.w"] = f"text_model.encoder.layers.{i}.{long}.weight"
            names[f"{i}.{short}.b"] = f"text_model.encoder.layers.{i}.{long}.bias"
    return names


def _meta(config, family: str, **extra) -> dict:
    return {"format": FORMAT, "family": family, "layers": config.num_hidden_layers, "heads": config.num_attention_heads,
            "eps": float(config.layer_norm_eps), "act": config.hidden_act, "eos_token_id": int(config.eos_token_id or 0),
            "max_length": int(getattr(config, "max_position_embeddings", 77)), **extra}


def _save(cache_dir: Path, identity: str, write, agrees) -> bool:
    """Write a tower into a temporary folder (`write(folder)`), keep it if `agrees(NumpyText)`: atomic."""
    target = folder(cache_dir, identity)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    try:
        tmp.mkdir(parents=True)
        write(tmp)
        if not agrees(NumpyText(tmp)):
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        return True
    except OSError as exc:  # a read-only or full cache: transformers' path stays
        log.warning("could not save the numpy text tower: %s", exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def export(cache_dir: Path, identity: str, model, tokenizer, config) -> bool:
    """Save a transformers CLIPTextModelWithProjection for `load`, if its numpy tower gives the same
    vectors on the probes; True when saved."""
    if getattr(config, "hidden_act", None) not in ACTIVATIONS or not hasattr(tokenizer, "backend_tokenizer"):
        return False
    import torch

    state = {name: tensor.detach().float().cpu().numpy() for name, tensor in model.state_dict().items()}
    try:
        weights = {short: state[long] for short, long in _names(config.num_hidden_layers, "text_projection").items()}
        token = state["text_model.embeddings.token_embedding.weight"]
    except KeyError as exc:
        log.info("no numpy text tower for this checkpoint: %s missing", exc)
        return False

    def write(tmp: Path) -> None:
        np.savez(tmp / "weights.npz", **{k: v.astype(np.float16) for k, v in weights.items()})
        np.save(tmp / "token.npy", token.astype(np.float16))
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "meta.json").write_text(json.dumps(_meta(config, "clip")))

    def agrees(fast: NumpyText) -> bool:
        inputs = tokenizer(PROBES, padding=True, truncation=True, max_length=fast.max_length, return_tensors="pt")
        with torch.inference_mode():
            reference = torch.nn.functional.normalize(model(**inputs).text_embeds.float(), dim=-1).numpy()
        agreement = float((fast.encode(PROBES) * reference).sum(axis=1).min())
        if agreement < SAME:
            log.warning("numpy text tower disagrees with transformers (cosine %.4f): not used", agreement)
        return agreement >= SAME

    return _save(cache_dir, identity, write, agrees)


def _weight_files(checkpoint: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file holding it (one file, or shards with an index)."""
    index = checkpoint / "model.safetensors.index.json"
    if index.is_file():
        return {name: checkpoint / file for name, file in json.loads(index.read_text())["weight_map"].items()}
    from safetensors import safe_open

    single = checkpoint / "model.safetensors"
    with safe_open(str(single), framework="numpy") as weights:
        return dict.fromkeys(weights.keys(), single)


def export_siglip(cache_dir: Path, identity: str, checkpoint: Path, config, tokenizer, lowercase: bool) -> bool:
    """Save a SigLIP text tower for `load` from the checkpoint's safetensors, without building torch's
    tower; True when saved. The tokenizer must give transformers' ids on the probes."""
    if config.hidden_act not in ACTIVATIONS or not hasattr(tokenizer, "backend_tokenizer"):
        return False
    from safetensors import safe_open

    try:
        files = _weight_files(checkpoint)
    except (OSError, ValueError, KeyError) as exc:  # .bin weights only, or unreadable: transformers' path
        log.info("no numpy text tower for %s: %s", checkpoint, exc)
        return False
    names = _names(config.num_hidden_layers, "text_model.head")
    names["head.b"] = "text_model.head.bias"
    table = "text_model.embeddings.token_embedding.weight"
    if missing := [long for long in (*names.values(), table) if long not in files]:
        log.info("no numpy text tower for %s: %s missing", checkpoint, missing[0])
        return False
    masked = "attention_mask" in getattr(tokenizer, "model_input_names", ())

    def write(tmp: Path) -> None:
        weights = {}
        for short, long in names.items():
            with safe_open(str(files[long]), framework="numpy") as f:
                weights[short] = f.get_tensor(long).astype(np.float16)
        np.savez(tmp / "weights.npz", **weights)
        with safe_open(str(files[table]), framework="numpy") as f:  # 256k rows: a slice at a time, to disk
            rows = f.get_slice(table)
            count, width = rows.get_shape()
            out = np.lib.format.open_memmap(tmp / "token.npy", mode="w+", dtype=np.float16, shape=(count, width))
            for start in range(0, count, 16384):
                end = min(start + 16384, count)
                out[start:end] = rows[start:end].astype(np.float16)
            out.flush()
            del out
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "meta.json").write_text(json.dumps(_meta(config, "siglip", lowercase=lowercase, masked=masked,
                                                        pad_id=int(tokenizer.pad_token_id or 0),
                                                        pad_token=str(tokenizer.pad_token or "<pad>"))))

    def agrees(fast: NumpyText) -> bool:
        texts = [t.lower() for t in PROBES] if lowercase else PROBES
        expected = tokenizer(texts, padding="max_length", truncation=True, max_length=fast.max_length)
        got = fast.tokenizer.encode_batch(texts)
        same = all(e.ids == ids for e, ids in zip(got, expected["input_ids"], strict=True))
        if not same:
            log.warning("the saved tokenizer disagrees with transformers': numpy text tower not used")
        return same

    return _save(cache_dir, identity, write, agrees)
