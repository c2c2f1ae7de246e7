"""Embedding throughput: the original tool's pipeline vs the model alone vs covertui's pipeline.

Same random checkpoint (ViT-B/32 shapes by default, real compute cost), same images, one run:
- original: per-image CLIPProcessor on the main thread, DataLoader without workers, batch 64, fp32
- model only: covertui's model call on ready pixels at the chosen dtype (the ceiling)
- covertui: embed_covers (threaded draft-mode preprocessing feeding batches, stored as it goes)
Targets on a 2-core CPU: covertui >= 2.5x original and >= 90% of model only.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from _common import checkpoint, cover_files


def original(path: Path, files: list[Path], batch: int = 64) -> float:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from transformers import CLIPModel, CLIPProcessor

    processor = CLIPProcessor.from_pretrained(path)
    model = CLIPModel.from_pretrained(path).eval()

    class Covers(Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            image = Image.open(files[i]).convert("RGB")
            return processor(images=image, return_tensors="pt")["pixel_values"][0]

    started = time.perf_counter()
    with torch.no_grad():
        for pixels in DataLoader(Covers(), batch_size=batch, num_workers=0):
            features = model.get_image_features(pixel_values=pixels).pooler_output
            features / features.norm(dim=-1, keepdim=True)
    return len(files) / (time.perf_counter() - started)


def model_only(model, n: int, batch: int) -> float:
    import numpy as np
    import torch

    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (batch, 3, 224, 224), dtype=np.uint8))
    model.encode_pixels(pixels[:2])  # warm-up
    started = time.perf_counter()
    done = 0
    while done < n:
        model.encode_pixels(pixels)
        done += batch
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=384)
    parser.add_argument("--shape", default="vit-b32", choices=["vit-b32", "vit-l14"])
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--skip-original", action="store_true")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "covertui-bench")
    args = parser.parse_args()

    from covertui.config import load_settings
    from covertui.embed.model import ClipModel
    from covertui.embed.pipeline import default_batch_size, embed_covers
    from covertui.embed.preprocess import PREPROCESS_VERSION
    from covertui.embed.store import EmbeddingStore

    print(f"preparing a random {args.shape} checkpoint and {args.images} covers in {args.work} ...", flush=True)
    path = checkpoint(args.work, args.shape)
    files = cover_files(args.work / "covers", args.images)
    home = Path(tempfile.mkdtemp(prefix="covertui-embed-"))
    settings = load_settings(environ={"COVERTUI_HOME": str(home)}, cwd=home)
    settings = dataclasses.replace(settings, model=str(path), device=args.device, dtype=args.dtype)
    model = ClipModel(settings, towers=("vision",))
    batch = args.batch or default_batch_size(model.device)
    print(f"model: {model.description}, batch {batch}", flush=True)

    base = None if args.skip_original else original(path, list(files.values()))
    ceiling = model_only(model, args.images, batch)
    store = EmbeddingStore(settings.paths, model.identity, PREPROCESS_VERSION)
    report = embed_covers(model, store, files, batch_size=batch)
    ours = report.rate
    if base:
        print(f"original pipeline (fp32, per-image CLIPProcessor): {base:8.1f} images/s")
    print(f"model only ({model.dtype_name}):                       {ceiling:8.1f} images/s")
    print(f"covertui pipeline ({model.dtype_name}):                {ours:8.1f} images/s")
    if base:
        print(f"covertui / original: {ours / base:.2f}x   (target >= 2.5x on CPU, >= 10x on a GPU)")
    print(f"covertui / model only: {100 * ours / ceiling:.0f}%   (target >= 90%)")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
