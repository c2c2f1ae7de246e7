"""Random SigLIP checkpoints built on the fly (no model hub here), shaped as the released SigLIP 2
fixed-resolution ones are saved: a SiglipModel, a Gemma-style fast tokenizer (BPE with byte
fallback, "▁" for spaces, <pad> = 0, <eos> = 1, <bos> = 2) that covers Latin and Japanese text, and
a SiglipImageProcessor config (fixed height x width, bilinear, mean = std = 0.5, no crop).
"""

from __future__ import annotations

import json
from pathlib import Path

TEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-éèàçôù青い猫のカバー赤夕日"


def _gemma_style_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    vocab: dict[str, int] = {}
    for token in ("<pad>", "<eos>", "<bos>", "<unk>", "<mask>"):
        vocab[token] = len(vocab)
    for byte in range(256):  # byte fallback: any character is some tokens
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for char in "▁" + TEXT:
        vocab.setdefault(char, len(vocab))
    merges = [("▁", c) for c in "abcdefghijklmnopqrstuvwxyz"]  # a word's first letter with its space
    for first, second in merges:
        vocab.setdefault(first + second, len(vocab))
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=merges, fuse_unk=True, unk_token="<unk>", byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="▁", behavior="merged_with_next", invert=False)
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GemmaTokenizer", "model_max_length": 1000000000000000019884624838656,
        "pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>", "unk_token": "<unk>",
        "add_bos_token": False, "add_eos_token": True, "padding_side": "right"}))


# shaped as the released checkpoints (random weights: the compute and memory cost is real), for benchmarks
SIGLIP2_B32 = dict(hidden=768, layers=12, heads=12, image_size=256, patch=32, vocab_size=256_000)
SIGLIP2_SO400M = dict(hidden=1152, layers=27, heads=16, intermediate=4304, image_size=256, patch=16,
                      vocab_size=256_000)


def make_siglip(path: Path, hidden: int = 32, layers: int = 2, heads: int = 4, image_size: int = 64,
                patch: int = 16, max_length: int = 64, seed: int = 0, intermediate: int | None = None,
                vocab_size: int | None = None) -> Path:
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _gemma_style_tokenizer(path)
    vocab_size = max(vocab_size or 0, len(json.loads((path / "tokenizer.json").read_text())["model"]["vocab"]))
    intermediate = intermediate or 4 * hidden
    config = SiglipConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=intermediate,
                         num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=max_length,
                         pad_token_id=0, eos_token_id=1, bos_token_id=2, projection_size=hidden),
        vision_config=dict(hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                           num_attention_heads=heads, image_size=image_size, patch_size=patch),
    )
    torch.manual_seed(seed)
    SiglipModel(config).save_pretrained(path)
    SiglipImageProcessor(size={"height": image_size, "width": image_size}, resample=2,
                         image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]).save_pretrained(path)
    return path
