"""Stage two: the OneRestore network guided by cached embeddings; training and evaluation."""
