"""The app's text tower with a SigLIP 2 B/32-256-shaped checkpoint (256k-token table): load time, query
p50, resident memory and peak, for the first start (which saves the numpy tower from the checkpoint's
files), a later start (numpy, no torch) and transformers' fp32 tower (the baseline, in the same run).
Each in a fresh process. `--shape siglip2-so400m` for the GPU default's shape.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import checkpoint

CODE = r'''
import sys, time, dataclasses
from pathlib import Path
from covertui.config import load_settings
from covertui.embed.model import ClipModel
s = load_settings(environ={"COVERTUI_HOME": sys.argv[3]}, cwd=Path(sys.argv[3]))
s = dataclasses.replace(s, model=sys.argv[1], device="cpu", dtype="float32")
t = time.perf_counter(); m = ClipModel(s, towers=("text",))
if sys.argv[2] == "torch": m.load_torch_text()
load = time.perf_counter() - t
m.encode_text(["warm"])
ts = []
for i in range(15):
    t = time.perf_counter(); m.encode_text([f"a blue cover with a cat {i}"]); ts.append(time.perf_counter() - t)
ts.sort()
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
print(f"{sys.argv[2]} ({type(m.text).__name__}): load {load:.2f} s, query p50 {ts[7]*1000:.0f} ms, RSS {rss:.0f} MiB, peak {hwm:.0f} MiB, torch imported: {'torch' in sys.modules}")
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="siglip2-b32", choices=["siglip2-b32", "siglip2-so400m", "vit-b32"])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "covertui-bench")
    args = parser.parse_args()
    path = checkpoint(args.work, args.shape)
    home = tempfile.mkdtemp(prefix="covertui-text-")
    for kind in ("first", "numpy", "torch"):
        run = subprocess.run([sys.executable, "-c", CODE, str(path), kind, home], capture_output=True, text=True)
        print(run.stdout.strip() or f"{kind}: failed\n{run.stderr[-2000:]}", flush=True)


if __name__ == "__main__":
    main()
