"""Which model covertui uses, and which it recommends: the catalog `covertui models` shows.

The defaults are SigLIP 2 (multilingual, and far better at finding a picture from words than CLIP at
the same cost). A library embedded with the CLIP default of earlier releases keeps using it, and is
told what the better model costs, until its user chooses (`covertui models --use ID`, `--model`):
nothing is embedded again unasked, and switching keeps both sets of vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings

CPU_DEFAULT = "google/siglip2-base-patch32-256"
# The best SigLIP 2 whose input fits the stored covers (300 px): 256 px, the SO400M tower.
GPU_DEFAULT = "google/siglip2-so400m-patch16-256"
EARLIER_DEFAULTS = {"cpu": "openai/clip-vit-base-patch32", "gpu": "openai/clip-vit-large-patch14"}
MULTILINGUAL = "many languages (multilingual WebLI)"


@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str
    languages: str
    download_mb: int  # about: its safetensors weights
    pixels: int  # the side of the picture it looks at
    relative_cost: float  # per cover, against CLIP ViT-B/32 on a CPU (immich's and open_clip's measurements)
    note: str = ""


RECOMMENDED = (
    ModelInfo(CPU_DEFAULT, "SigLIP 2", MULTILINGUAL, 1500, 256, 1.5, "the CPU default"),
    ModelInfo("google/siglip2-base-patch16-256", "SigLIP 2", MULTILINGUAL, 1500, 256, 3.0, "finer detail"),
    ModelInfo("google/siglip2-large-patch16-256", "SigLIP 2", MULTILINGUAL, 3500, 256, 9.0, ""),
    ModelInfo(GPU_DEFAULT, "SigLIP 2", MULTILINGUAL, 4500, 256, 16.0, "the GPU default"),
    ModelInfo("openai/clip-vit-base-patch32", "CLIP", "English", 600, 224, 1.0, "the CPU default before 0.4"),
    ModelInfo("openai/clip-vit-large-patch14", "CLIP", "English", 1700, 224, 10.0, "the GPU default before 0.4"),
)
BY_ID = {info.id: info for info in RECOMMENDED}


def default_for(device: str) -> str:
    return GPU_DEFAULT if device.startswith(("cuda", "mps")) else CPU_DEFAULT


def counts_by_name(settings: Settings) -> dict[str, int]:
    """Covers with vectors, by model name (the store's identities, without their hash)."""
    from .store import vector_counts

    counts: dict[str, int] = {}
    for identity, count in vector_counts(settings.paths).items():
        name = identity.split("@")[0]
        counts[name] = max(counts.get(name, 0), count)
    return counts


@dataclass(frozen=True)
class Chosen:
    name: str
    why: str
    better: str = ""  # a recommended model the user has not chosen yet: covertui says what it costs


def choose_model(settings: Settings, device: str) -> Chosen:
    """The model to use: the one asked for (COVERTUI_MODEL, --model), the one chosen with `covertui models
    --use`, the earlier default where the covers have its vectors and none of the new one's, or the
    default."""
    if settings.model:
        return Chosen(settings.model, "COVERTUI_MODEL or --model")
    from ..catalog import Catalog

    with Catalog(settings.paths) as catalog:
        saved = catalog.model_choice()
    if saved:
        return Chosen(saved, "chosen with `covertui models --use`")
    new, old = default_for(device), EARLIER_DEFAULTS["gpu" if device.startswith(("cuda", "mps")) else "cpu"]
    from .model import short_name

    counts = counts_by_name(settings)
    if counts.get(short_name(old)) and not counts.get(short_name(new)):
        return Chosen(old, f"the covers have its vectors ({counts[short_name(old)]})", better=new)
    return Chosen(new, "the default")


def measured_rate(settings: Settings, model: str) -> float | None:
    """Covers/s the last sync measured here with `model` (kept by its short name)."""
    from ..catalog import Catalog
    from .model import short_name

    with Catalog(settings.paths) as catalog:
        return catalog.rates().get(short_name(model))


def upgrade_note(chosen: Chosen, covers: int, rate: float | None) -> str:
    """What switching to the better model costs here, in words; "" when there is none."""
    info = BY_ID.get(chosen.better)
    if info is None:
        return ""
    old = BY_ID.get(chosen.name)
    estimate = ""
    if rate and old:  # this machine's measured covers/s with the model in use, scaled by the models' costs
        seconds = covers / (rate * old.relative_cost / info.relative_cost)
        estimate = f", about {max(1, round(seconds / 60))} min to embed your {covers} covers here"
    return (f"A better model is available: {info.id} ({info.family}, reads {info.languages}; finds covers from "
            f"words far better than {chosen.name}). It costs a download of about {info.download_mb / 1000:.1f} GB"
            f"{estimate}. Your {chosen.name} vectors are kept. Switch with `covertui models --use {info.id}` "
            "(then `covertui sync`).")


def catalog(settings: Settings, device: str) -> list[dict]:
    """`covertui models`: the recommended models, and any other one the covers have vectors for."""
    from ..catalog import Catalog
    from .model import model_is_cached, short_name

    chosen = choose_model(settings, device)
    in_use = short_name(chosen.name)
    counts = counts_by_name(settings)
    with Catalog(settings.paths) as store:
        rates = store.rates()
    rows = []
    others = {name for name in (*counts, in_use) if name not in BY_ID}
    for info in RECOMMENDED + tuple(ModelInfo(name, "", "", 0, 0, 0.0) for name in sorted(others)):
        rows.append({"id": info.id, "family": info.family or None, "languages": info.languages or None,
                     "download_mb": info.download_mb or None, "downloaded": model_is_cached(info.id, settings.paths.models_dir),
                     "vectors": counts.get(info.id, 0), "covers_per_s": rates.get(info.id),
                     "in_use": info.id == in_use, "note": info.note})
    return rows


def use(settings: Settings, model: str) -> None:
    """Make `model` the one covertui uses from now on (a hub id or a local folder); "" for the default."""
    from ..catalog import Catalog

    with Catalog(settings.paths) as store:
        store.save_model_choice(model)
