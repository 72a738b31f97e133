"""The data gate's set-level checks: duplicate ids, exact and near-duplicate prompts, the stratified split,
train/test leakage, the token budget, label counts.

Near-duplicates: the Jaccard similarity of the character shingle sets of two normalised prompts. LSH
on MinHash signatures proposes candidate pairs (with banding chosen so that a pair at the threshold is
proposed with probability >= 0.999) and every candidate is confirmed with the exact Jaccard, so ~15k
rows (dolly) cost seconds instead of the ~10^8 pairs of an all-pairs loop, and a reported
near-duplicate is never only an estimate.
"""
import random
import re
from collections import defaultdict

import numpy as np

NUM_PERM = 64
_RNG = np.random.default_rng(20240601)  # fixed: the same data gives the same candidates on every run
_A = _RNG.integers(1, 2**62, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _RNG.integers(0, 2**63, NUM_PERM, dtype=np.uint64)


def normalise(text: str) -> str:
    """Case and whitespace folded: what `exact duplicate` means."""
    return re.sub(r"\s+", " ", text).strip().lower()


def shingles(text: str, size: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the normalised text's character `size`-grams (the whole text when shorter)."""
    codes = np.frombuffer(normalise(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    size = max(1, min(size, len(codes)))
    h = np.zeros(max(len(codes) - size + 1, 1), dtype=np.uint64)
    for j in range(size):  # polynomial hash of each window, vectorised over the windows
        h = h * np.uint64(0x100000001B3) + codes[j:j + len(h)]
    # splitmix64's finaliser spreads the structured polynomial values over all 64 bits before MinHash
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.unique(h ^ (h >> np.uint64(31)))


def rows_per_band(threshold: float) -> int:
    """The most selective banding that still proposes a pair at `threshold` with probability >= 0.999."""
    return next(r for r in (32, 16, 8, 4, 2, 1) if 1 - (1 - threshold ** r) ** (NUM_PERM // r) >= 0.999)


class NearDuplicates:
    """An index of prompts; `matches` gives the indexed ids whose Jaccard with a new prompt is >= threshold."""

    def __init__(self, threshold: float, shingle_size: int):
        self.threshold, self.size, self.r = threshold, shingle_size, rows_per_band(threshold)
        self.buckets = defaultdict(list)  # (band, its MinHash values) -> ids
        self.sketches = {}  # id -> (shingles, band keys)

    def sketch(self, text: str):
        s = shingles(text, self.size)
        signature = (s[:, None] * _A + _B).min(axis=0)  # uint64 arithmetic wraps: a hash mod 2^64
        return s, [(b, signature[b * self.r:(b + 1) * self.r].tobytes()) for b in range(NUM_PERM // self.r)]

    def matches(self, sketch) -> list[tuple[str, float]]:
        s, bands = sketch
        found = []
        for key in dict.fromkeys(k for band in bands for k in self.buckets.get(band, ())):
            other = self.sketches[key][0]
            common = np.intersect1d(s, other, assume_unique=True).size
            jaccard = common / (s.size + other.size - common)
            if jaccard >= self.threshold:
                found.append((key, jaccard))
        return sorted(found, key=lambda m: -m[1])

    def add(self, key: str, sketch) -> None:
        self.sketches[key] = sketch
        for band in sketch[1]:
            self.buckets[band].append(key)


def deduplicate(chats, text, threshold: float, shingle_size: int):
    """The first row of each id, exact-duplicate group and near-duplicate group is kept; the others come
    back as (row, reason, detail). Also returns the index of the kept rows, for the leakage check."""
    index, seen_text, kept, rejected = NearDuplicates(threshold, shingle_size), {}, [], []
    for chat in chats:
        key = normalise(text(chat))
        if chat["id"] in index.sketches:
            rejected.append((chat, "duplicate_id", f"id {chat['id']!r} already used by an earlier row"))
        elif key in seen_text:
            rejected.append((chat, "exact_duplicate", f"same prompt as {seen_text[key]} (case and whitespace folded)"))
        elif match := index.matches(sketch := index.sketch(text(chat))):
            rejected.append((chat, "near_duplicate", f"prompt shingle Jaccard {match[0][1]:.3f} with {match[0][0]}"))
        else:
            seen_text[key] = chat["id"]
            index.add(chat["id"], sketch)
            kept.append(chat)
    return kept, rejected, index


def leakage(index: NearDuplicates, train, test) -> int:
    """Test rows that are exact or near duplicates of a train row (0 when deduplicate ran before the split)."""
    train_ids = {r["id"] for r in train}
    return sum(any(key in train_ids for key, _ in index.matches(index.sketches[r["id"]])) for r in test)


def stratified_split(chats, label, test_fraction: float, val_fraction: float, seed: int) -> dict:
    """Shuffle each label's rows, deal the labels out round-robin, then cut the dealt order into test / val /
    train: every split gets each label in proportion, even small ones, and the first N rows of any split
    (evaluate.max_rows, train_*.max_train_rows) cycle through the labels."""
    rng = random.Random(seed)
    cells = defaultdict(list)
    for chat in chats:
        cells[label(chat)].append(chat)
    for key in sorted(cells):
        rng.shuffle(cells[key])
    dealt = [cell[i] for i in range(max(map(len, cells.values()), default=0))
             for cell in (cells[k] for k in sorted(cells)) if i < len(cell)]
    n_test, n_val = round(len(dealt) * test_fraction), round(len(dealt) * val_fraction)
    return {"test": dealt[:n_test], "val": dealt[n_test:n_test + n_val], "train": dealt[n_test + n_val:]}


def token_lengths(tokenizer, chats) -> tuple[list[int], list[int]]:
    """Tokens of each whole chat as training sees it (chat template) and of each answer alone."""
    if not chats:
        return [], []
    texts = tokenizer.apply_chat_template([c["messages"] for c in chats], tokenize=False)
    full = tokenizer(texts, add_special_tokens=False)["input_ids"]
    answers = tokenizer([c["messages"][-1]["content"] for c in chats])["input_ids"]
    return [len(t) for t in full], [len(t) for t in answers]


def label_counts(splits: dict, task) -> dict:
    """Flat per-split label counts: {split}_severity_SEV1, {split}_category_outage, ... (the task's label fields,
    tasks.Task.label_fields: every triage label, zeros included; a generic data set's categories, when it has them)."""
    labels = task.label_fields([r for rows in splits.values() for r in rows])
    return {f"{name}_{field}_{re.sub(r'[^0-9A-Za-z]+', '_', value)}": sum(r.get(field) == value for r in rows)
            for name, rows in splits.items() for field, values in labels for value in values}


def overlapping(chats, text, references: dict[str, str], threshold: float, shingle_size: int) -> list[tuple[dict, str]]:
    """The chats whose prompt is an exact or near duplicate of one of `references` ({name: text}: the reports of
    the real evaluation and development splits), each with the reference's name and the Jaccard: such a row may not
    be trained on. Exact copies are found whatever their length (a one-line report has few shingles)."""
    index, exact = NearDuplicates(threshold, shingle_size), {}
    for name, reference in references.items():
        index.add(name, index.sketch(reference))
        exact.setdefault(normalise(reference), name)
    found = []
    for chat in chats:
        if (name := exact.get(normalise(text(chat)))) is not None:
            found.append((chat, f"the same text as {name}"))
        elif match := index.matches(index.sketch(text(chat))):
            found.append((chat, f"prompt shingle Jaccard {match[0][1]:.3f} with {match[0][0]}"))
    return found


def first_n(rows: list, n: int | None, seed: int) -> list:
    """The first `n` rows of a seeded shuffle (every row, in its order, when n is None): the same first rows at
    every n, so a data-scaling curve's subsets are nested."""
    if n is None:
        return list(rows)
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    return shuffled if n is None else shuffled[:n]


def interleave(a: list, b: list) -> list:
    """Both lists in one, each in its own order, spread in proportion: any prefix holds both in about their
    overall shares."""
    out, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and (i + 1) * len(b) <= (j + 1) * len(a)):
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out
