"""Random CLIP checkpoints built on the fly (no model hub here), saved with save_pretrained.

`make_clip(path)` gives a tiny model for tests; `make_clip(path, **VIT_B32)` a ViT-B/32-shaped
one whose compute cost is real, for benchmarks. Both load through `from_pretrained`.
"""

from __future__ import annotations

from pathlib import Path

TINY = dict(text_hidden=32, text_layers=2, text_heads=4, vision_hidden=32, vision_layers=2, vision_heads=4,
            projection=16, patch=32)
VIT_B32 = dict(text_hidden=512, text_layers=12, text_heads=8, vision_hidden=768, vision_layers=12,
               vision_heads=12, projection=512, patch=32)
VIT_L14 = dict(text_hidden=768, text_layers=12, text_heads=12, vision_hidden=1024, vision_layers=24,
               vision_heads=16, projection=768, patch=14)
WORDS = ["a", "blue", "red", "green", "cover", "with", "cat", "dog", "sunset", "text", "photo", "of", "the"]


def _byte_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    chars = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in WORDS:  # merge each word left to right into one token
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocab.setdefault(pieces[0], len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return vocab, list(dict.fromkeys(merges))


def make_clip(path: Path, text_hidden: int = 32, text_layers: int = 2, text_heads: int = 4,
              vision_hidden: int = 32, vision_layers: int = 2, vision_heads: int = 4, projection: int = 16,
              patch: int = 32, image_size: int = 224, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    path = Path(path)
    vocab, merges = _byte_vocab()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=text_hidden, intermediate_size=4 * text_hidden,
                         num_hidden_layers=text_layers, num_attention_heads=text_heads, max_position_embeddings=77,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=vision_hidden, intermediate_size=4 * vision_hidden,
                           num_hidden_layers=vision_layers, num_attention_heads=vision_heads,
                           image_size=image_size, patch_size=patch),
        projection_dim=projection,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
                       ).save_pretrained(path)
    return path


if __name__ == "__main__":
    import sys

    out = make_clip(Path(sys.argv[1]), **(VIT_B32 if "--vit-b32" in sys.argv else TINY))
    print(out)
