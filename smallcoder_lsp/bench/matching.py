"""How close a suggestion is to the true text: exact match of its first line, and edit similarity."""

from __future__ import annotations


def first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def exact_match(suggestion: str, expected: str) -> bool:
    """The suggestion's first line is the rest of the true line (trailing whitespace aside); empty never matches."""
    shown = first_line(suggestion).rstrip()
    return bool(shown) and shown == first_line(expected).rstrip()


def levenshtein(a: str, b: str) -> int:
    """Insertions, deletions and substitutions that turn ``a`` into ``b``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(suggestion: str, expected: str) -> float:
    """1 - Levenshtein distance / the longer length, between the suggestion's first line and the rest of the
    true line (both without trailing whitespace); 0 for an empty suggestion."""
    shown, truth = first_line(suggestion).rstrip(), first_line(expected).rstrip()
    if not shown:
        return 0.0
    longest = max(len(shown), len(truth))
    return 1.0 - levenshtein(shown, truth) / longest
