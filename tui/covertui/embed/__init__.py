"""CLIP embeddings: model loading (model.py), preprocessing (preprocess.py), the batched
pipeline (pipeline.py) and the embedding store (store.py). torch and transformers are imported
only inside these modules' functions, never at import time of the CLI or the app.
"""
