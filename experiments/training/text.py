"""A deliberately simple tokenizer and vocabulary for the embedding-bag text model.

Why not a pretrained tokenizer: it would need a download (the platform works offline) and hides
what the model sees. Lower-cased word tokens (\\w+, so any script's letters and digits) are enough
for a baseline-strength network and are trivially reproducible. The vocabulary is built from the
training texts only, so validation and test words never leak into the model; unseen words map to
one <unk> id. Ties in frequency are broken alphabetically so the same texts always give the same
ids (and therefore the same embeddings for a given seed).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

_TOKEN = re.compile(r"\w+", re.UNICODE)
UNK = "<unk>"


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Vocab:
    tokens: tuple[str, ...]  # index 0 is UNK

    @classmethod
    def build(cls, texts: Iterable[str], *, max_size: int, min_freq: int) -> Vocab:
        counts = Counter(token for text in texts for token in tokenize(text))
        kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
        return cls(tokens=(UNK, *kept[: max(0, max_size - 1)]))

    def __len__(self) -> int:
        return len(self.tokens)

    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """All texts as one flat id tensor plus per-text lengths: the layout EmbeddingBag takes
        (ids + offsets), built once so batching is only slicing."""
        lookup = self.index()
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            tokens = [lookup.get(t, 0) for t in tokenize(text)]
            ids.extend(tokens)
            lengths.append(len(tokens))
        return torch.tensor(ids, dtype=torch.int64), torch.tensor(lengths, dtype=torch.int64)
