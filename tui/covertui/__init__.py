"""covertui: find Spotify tracks by what their cover looks like."""

import logging
import os

# Ranking is one matrix-vector product per search. OpenBLAS's threads busy-wait after it and starve
# torch's text encoder on small machines: on 2 cores a search took 28.8 ms with them and 17.2 ms
# with one (benchmarks/search_latency.py). Must be set before numpy is imported; a user's value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

logging.getLogger(__name__).addHandler(logging.NullHandler())  # silent unless COVERTUI_LOG says where (logs.py)

__version__ = "0.4.0"
