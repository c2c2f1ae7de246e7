"""Loading a checkpoint of the CLIP or the SigLIP family (SigLIP 1 and SigLIP 2 at a fixed resolution)
on the right device and dtype, one tower or both.

The families differ where it counts for the vectors: CLIP pads text to the longest query and takes
its projected EOS state (`text_embeds`, `image_embeds`); SigLIP pads every query to the length it was
trained with (its pooled vector is the last position's, padding included) and takes `pooler_output`.
SigLIP 2 was trained on lowercased text: its own Siglip2Tokenizer lowercases, while the Gemma
tokenizer its released checkpoints name does not, so covertui lowercases queries for it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import ModelError
from ..progress import CancelToken, ProgressCallback, no_progress

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

# from_pretrained(dtype=...) switches torch's process-wide default dtype while it builds a model:
# two loads at once (the app's search model and a sync's vision tower) leave float32 weights in a
# bf16 model. One load at a time.
_LOAD_LOCK = threading.Lock()

DTYPES = {"float16": "float16", "fp16": "float16", "half": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float32": "float32", "fp32": "float32", "float": "float32", "int8": "int8", "qint8": "int8"}
# int8: the Linear layers quantized dynamically (weights int8, activations per batch), CPU only, by
# choice. ~2.2x fp32 on a random ViT-B/32, cosine to fp32 >= 0.999 (benchmarks/embed_throughput.py);
# its vectors are kept apart from exact ones (the model identity says int8).


def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# Where one of these exists a GPU may be (NVIDIA, AMD ROCm, WSL 2): only torch can tell.
GPU_NODES = ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def no_gpu_here() -> bool:
    """A Linux machine with no GPU driver at all: the CPU, known without importing torch (1.4 s)."""
    return sys.platform.startswith("linux") and not any(os.path.exists(node) for node in GPU_NODES)


def resolve_device(preference: str | None) -> str:
    """The device to run on. The CPU, named or certain, is known without importing torch: the app's
    index (browsing) needs none, only its text tower does."""
    if (preference or "").lower() == "cpu" or (not preference and no_gpu_here()):
        return "cpu"
    import torch

    if preference:
        wanted = preference.lower()
        if wanted.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ModelError(f"--device {preference}: no CUDA device is available here "
                                 "(use --device cpu, or install a CUDA build of torch).")
            return wanted
        if wanted == "mps":
            if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
                raise ModelError("--device mps: no Apple GPU is available here (use --device cpu).")
            return wanted
        raise ModelError(f"Unknown device {preference!r}: use cuda, mps or cpu.")
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(device: str, preference: str | None) -> str:
    if preference:
        if preference.lower() not in DTYPES:
            raise ModelError(f"Unknown dtype {preference!r}: use float16, bfloat16, float32 or int8 (CPU).")
        if DTYPES[preference.lower()] == "int8" and device != "cpu":
            raise ModelError(f"dtype int8 runs on the CPU only; on {device} use float16.")
        return DTYPES[preference.lower()]
    if device.startswith(("cuda", "mps")):
        return "float16"
    return "bfloat16" if cpu_has_native_bf16() else "float32"


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _is_local(model: str) -> bool:
    return model.startswith((".", "/", "~")) or Path(model).expanduser().is_dir()


def resolve_checkpoint(model: str, models_dir: Path, allow_download: bool = True,
                       progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> Path:
    """A local directory with the checkpoint: the path itself, covertui's models folder, the Hugging Face
    cache, or a download into covertui's models folder (if allowed), with progress, resumable."""
    if _is_local(model):
        path = Path(model).expanduser()
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is not a model folder (no config.json). Give a Hugging Face id or a folder "
                             "saved with save_pretrained.")
        return path.resolve()
    from .download import PATTERNS, download, downloaded

    if (fetched := downloaded(models_dir, model)) is not None:
        return fetched
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # fetched before by covertui 0.3 or another tool
        return Path(snapshot_download(model, allow_patterns=list(PATTERNS), local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        log.debug("%s is not in the Hugging Face cache: %s", model, exc)
    if not allow_download or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelError(f"Model {model!r} is not downloaded and downloads are off. Use a local folder instead: "
                         "--model /path/to/checkpoint (or COVERTUI_MODEL).")
    return download(models_dir, model, progress, cancel)


def model_is_cached(model: str, models_dir: Path) -> bool:
    try:
        resolve_checkpoint(model, models_dir, allow_download=False)
        return True
    except ModelError:
        return False


def short_name(model: str) -> str:
    """How a model is shown: the hub id, or a local checkpoint's folder name."""
    return Path(model).name if _is_local(model) else model


def model_identity(path: Path, name: str) -> str:
    """Stable id of the weights: name plus a hash of the config and the weights' size and time."""
    digest = hashlib.sha1((path / "config.json").read_bytes())
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return f"{short_name(name)}@{digest.hexdigest()[:12]}"


FAMILIES = {"clip": "CLIP", "siglip": "SigLIP"}  # config.json's model_type -> how covertui loads it
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def family_of(path: Path) -> str:
    """"clip" or "siglip", from the checkpoint's config; a clear error for anything else."""
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type", "")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"Cannot read {path / 'config.json'}: {exc}") from None
    if model_type == "siglip2":
        raise ModelError("Variable-resolution SigLIP 2 checkpoints (NaFlex, model type siglip2) are not supported: "
                         "use a fixed-resolution one, such as google/siglip2-base-patch32-256.")
    if model_type not in FAMILIES:
        raise ModelError(f"A {model_type or 'model of unknown type'} checkpoint: covertui reads CLIP and SigLIP "
                         "checkpoints (model type clip or siglip).")
    return model_type


def _processor_config(path: Path) -> dict:
    """The image processor's settings, where transformers saved them: preprocessor_config.json, or the
    `image_processor` part of processor_config.json (transformers 5)."""
    for name, part in (("preprocessor_config.json", None), ("processor_config.json", "image_processor")):
        try:
            cfg = json.loads((path / name).read_text())
        except (OSError, ValueError):
            continue
        cfg = cfg.get(part, {}) if part else cfg
        if isinstance(cfg, dict) and cfg:
            return cfg
    return {}


@dataclass
class ImageSpec:
    """What the checkpoint's image processor does, for our own preprocessing: CLIP resizes the shortest
    edge and crops the centre square; SigLIP resizes to a fixed height x width, with no crop."""

    size: int  # CLIP: shortest edge after resize; SigLIP: the height
    crop: int  # CLIP: square centre crop; SigLIP: the width
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: int  # PIL resampling filter
    fixed: bool = False  # resized to exactly (size, crop) = (height, width), as SigLIP's processor does

    @classmethod
    def from_checkpoint(cls, path: Path, family: str = "clip") -> ImageSpec:
        cfg = _processor_config(path)
        size: Any = cfg.get("size", 224)
        if family == "siglip":  # SiglipImageProcessor: its defaults where the config is silent
            height, width = (size.get("height", 224), size.get("width", 224)) if isinstance(size, dict) else (size, size)
            return cls(size=int(height), crop=int(width), mean=tuple(cfg.get("image_mean", (0.5, 0.5, 0.5))),
                       std=tuple(cfg.get("image_std", (0.5, 0.5, 0.5))), resample=int(cfg.get("resample", 3)),
                       fixed=True)
        size = size.get("shortest_edge", size.get("height", 224)) if isinstance(size, dict) else int(size)
        crop: Any = cfg.get("crop_size", size)
        crop = crop.get("height", size) if isinstance(crop, dict) else int(crop)
        return cls(size=int(size), crop=int(crop), mean=tuple(cfg.get("image_mean", CLIP_MEAN)),
                   std=tuple(cfg.get("image_std", CLIP_STD)), resample=int(cfg.get("resample", 3)))


class ClipModel:
    """One checkpoint on one device: encode_pixels / encode_text return L2-normalised numpy rows."""

    def __init__(self, settings: Settings, towers: tuple[str, ...] = ("vision", "text"),
                 allow_download: bool = True, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> None:
        self.device = resolve_device(settings.device)
        self.dtype_name = resolve_dtype(self.device, settings.dtype)
        from .choice import choose_model

        self.chosen = choose_model(settings, self.device)
        self.name = self.chosen.name
        self.path = resolve_checkpoint(self.name, settings.paths.models_dir, allow_download, progress, cancel)
        self.identity = model_identity(self.path, self.name) + ("+int8" if self.dtype_name == "int8" else "")
        self.family = family_of(self.path)
        self.spec = ImageSpec.from_checkpoint(self.path, self.family)
        self.cache_dir = settings.paths.cache_dir  # numpy text towers (text_fast.py)
        self._lock = threading.Lock()
        # the last queries' vectors, this model's own (a module-level cache kept every model alive)
        self._encoded = lru_cache(maxsize=256)(functools.partial(_encode_text, self))
        self.max_length = 77  # of a tokenized query (the text tower's config says, once loaded)
        self.lowercase = False  # SigLIP 2 reads lowercased text
        self.vision: Any = None  # the towers, each loaded when first needed
        self.text: Any = None
        self.tokenizer: Any = None
        for tower in towers:
            self.load(tower)

    @property
    def short_name(self) -> str:
        return short_name(self.name)

    @property
    def compute_dtype(self) -> str:
        """The dtype of activations: int8 weights still take float32 inputs."""
        return "float32" if self.dtype_name == "int8" else self.dtype_name

    @property
    def description(self) -> str:
        return f"{self.short_name} on {self.device} ({self.dtype_name})"

    @property
    def numpy_text(self) -> bool:
        """Whether the text tower is the numpy one (text_fast.py): the first to load, not the fastest to
        run (its fp32 weights are read at each query: ~3x torch's bf16 per query on 2 cores)."""
        from .text_fast import NumpyText

        return isinstance(self.text, NumpyText)

    def load(self, tower: str) -> None:
        """Load one tower ("vision" or "text") if it is not loaded yet. The text tower comes from numpy
        when it was saved for it (no torch, no transformers: ~4 s sooner on 2 cores)."""
        if getattr(self, tower) is not None:  # every encode calls this: no lock once loaded
            return
        with self._lock, _LOAD_LOCK:
            if getattr(self, tower) is not None:
                return
            if tower == "text" and self._fast_text:
                from . import text_fast

                if self.family == "siglip" and not text_fast.saved(self.cache_dir, self.identity):
                    self._export_siglip_text()  # from the checkpoint's files: torch's tower is never built
                fast = text_fast.load(self.cache_dir, self.identity)
                if fast is not None:
                    self.max_length, self.lowercase = fast.max_length, fast.lowercase
                    self.tokenizer, self.dim, self.text = fast.tokenizer, fast.dim, fast
                    return
            self._load_torch(tower)

    @property
    def torch_text_pays(self) -> bool:
        """Whether torch's text tower is worth loading after numpy's answered: for CLIP (~3x faster
        queries for ~250 MiB more), not for SigLIP, whose 256k-token table would take the app past 1 GB
        for queries ~1.5x faster (benchmarks/text_tower.py: 374 MiB numpy, 1,015 MiB peak with torch)."""
        return self.numpy_text and self.family == "clip"

    def load_torch_text(self) -> None:
        """The transformers text tower in place of the numpy one, for the queries after the first (the
        app loads it in the background once it answers)."""
        if self.numpy_text:
            with self._lock, _LOAD_LOCK:
                self._load_torch("text")

    @property
    def _fast_text(self) -> bool:
        return self.device == "cpu" and self.dtype_name != "int8"

    def _export_siglip_text(self) -> None:
        _quiet_transformers()
        from transformers import AutoConfig, AutoTokenizer

        from . import text_fast

        try:
            config = AutoConfig.from_pretrained(self.path).text_config
            tokenizer = AutoTokenizer.from_pretrained(self.path)
        except (OSError, ValueError, ImportError, AttributeError) as exc:  # transformers' path says it better
            log.info("no numpy text tower for %s: %s", self.name, exc)
            return
        try:
            text_fast.export_siglip(self.cache_dir, self.identity, self.path, config, tokenizer,
                                    lowercase=_gemma_vocabulary(tokenizer))
        except Exception as exc:  # an odd checkpoint file: transformers' tower still works
            log.warning("no numpy text tower for %s: %r", self.name, exc)

    def _load_torch(self, tower: str) -> None:
        """Load a tower through transformers (under the load locks); a text tower is saved for numpy."""
        _quiet_transformers()
        import torch
        import transformers
        from transformers import AutoConfig, AutoTokenizer

        try:
            config = AutoConfig.from_pretrained(self.path)
            sub = getattr(config, f"{tower}_config")
            cls: Any
            if self.family == "clip":
                sub.projection_dim = getattr(config, "projection_dim", sub.projection_dim)
                dim = sub.projection_dim
                cls = transformers.CLIPVisionModelWithProjection if tower == "vision" else \
                    transformers.CLIPTextModelWithProjection
            else:  # SigLIP: the text head maps to projection_size; the image vector is the vision width
                dim = getattr(sub, "projection_size", sub.hidden_size) if tower == "text" else sub.hidden_size
                cls = transformers.SiglipVisionModel if tower == "vision" else transformers.SiglipTextModel
            model: Any = cls.from_pretrained(self.path, config=sub, dtype=getattr(torch, self.compute_dtype))
        except (OSError, ValueError, KeyError, AttributeError, RuntimeError) as exc:
            raise ModelError(f"Could not load {self.name!r} as a {FAMILIES[self.family]} model: "
                             f"{exc}".splitlines()[0]) from None
        model.to(self.device).eval()
        if self.dtype_name == "int8":
            model = _quantized(model)
        if tower == "vision":  # the image processor's normalisation, applied on the device
            self._mean, self._std = (torch.tensor(getattr(self.spec, which), device=self.device,
                                                  dtype=torch.float32).view(1, 3, 1, 1) for which in ("mean", "std"))
        if tower == "text":
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.path)
            except (OSError, ValueError, ImportError) as exc:
                hint = (" SigLIP 1's SentencePiece tokenizer needs `pip install sentencepiece protobuf` (and reads "
                        "English only; SigLIP 2 reads many languages)." if self.family == "siglip" else "")
                raise ModelError(f"Could not load the tokenizer of {self.name!r}: {exc}".splitlines()[0] + hint) from None
            self.max_length = int(getattr(sub, "max_position_embeddings", 77))
            self.lowercase = self.family == "siglip" and _gemma_vocabulary(tokenizer)
            with torch.inference_mode():  # the first call pays for kernel setup: not the user's first query
                model(**self._tokens(tokenizer, ["warm up"]))
            from . import text_fast

            if self._fast_text and self.family == "clip" and not text_fast.saved(self.cache_dir, self.identity):
                text_fast.export(self.cache_dir, self.identity, model, tokenizer, sub)  # the next start: numpy
            self.tokenizer = tokenizer  # before the tower: a query under way uses either pair whole
        self.dim = int(dim)
        setattr(self, tower, model)  # last: load() returns without the lock once this is set

    def encode_pixels(self, pixels) -> np.ndarray:
        """uint8 tensor (N, 3, H, W) -> normalised float32 rows; normalisation runs on the device."""
        import torch

        self.load("vision")
        with torch.inference_mode():
            x = pixels.to(self.device, non_blocking=True).float()
            x = ((x / 255.0 - self._mean) / self._std).to(getattr(torch, self.compute_dtype))
            output = self.vision(pixel_values=x)
            out = output.image_embeds if self.family == "clip" else output.pooler_output
            out = torch.nn.functional.normalize(out.float(), dim=-1)
        return out.cpu().numpy()

    def encode_text(self, texts: list[str]) -> np.ndarray:
        return self._encoded(tuple(texts))

    def _tokens(self, tokenizer, texts: list[str]) -> dict:
        """The text tower's inputs, on the device, as the family was trained: CLIP padded to the longest
        query; SigLIP to its full length (`max_length` given: its tokenizer's own maximum is huge), SigLIP
        2's lowercased. Exactly what the tokenizer returns goes in (SigLIP 2's gives no attention mask)."""
        if self.family == "clip":
            inputs = tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        else:
            inputs = tokenizer([t.lower() for t in texts] if self.lowercase else texts, padding="max_length",
                               truncation=True, max_length=self.max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in inputs.items() if k in ("input_ids", "attention_mask", "position_ids")}


def _gemma_vocabulary(tokenizer) -> bool:
    """SigLIP 2's tokenizer (Gemma's, 256k pieces; SigLIP 1's is a 32k SentencePiece one), which it was
    trained to read lowercased."""
    name = type(tokenizer).__name__
    return "Gemma" in name or "Siglip2" in name or len(tokenizer) > 100_000


def _quantized(model):
    """The model with its Linear layers quantized to int8, dynamically (no calibration data)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _encode_text(model: ClipModel, texts: tuple[str, ...]):
    model.load("text")
    if model.numpy_text:
        result = model.text.encode(list(texts))
        result.setflags(write=False)
        return result
    import torch

    with torch.inference_mode():
        output = model.text(**model._tokens(model.tokenizer, list(texts)))
        out = output.text_embeds if model.family == "clip" else output.pooler_output
        out = torch.nn.functional.normalize(out.float(), dim=-1)
    result = out.cpu().numpy()
    result.setflags(write=False)
    return result
