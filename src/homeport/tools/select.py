"""Which operations of a large API to offer for a question: BM25 over `Operation.text()`.

A spec with hundreds of operations (GitHub's has over a thousand) cannot go to a model whole;
the `limit` operations most relevant to the question do. `OperationIndex` is built once per
API (an inverted index: for each word, the operations that have it and how often, with each
operation's length) and ranks by Okapi BM25, best first, ties in spec order. An API with no
more than `limit` operations is offered whole, in spec order.

An operation's words are those of its `text()`, with its name and title counted
`TITLE_WEIGHT` times: they say what it does, where a long description also mentions much else
(on GitHub's API, of 15 everyday questions, 6 rather than 4 get the wanted operation
first; all 15 get it among the first 20).

Words are what `words()` makes of a text: split at anything not a letter or digit and at
camelCase humps (`getJobById /jobs/{jobId}` -> get job by id jobs job id), lower-cased, very
common English words dropped, and plurals made singular by a tiny suffix rule (`jobs` ->
`job`, `vacancies` -> `vacancy`, `branches` -> `branch`), so a question and a spec that word
the same thing differently still meet.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from homeport.domain.tools import Operation

K1 = 1.2  # how quickly repeating a word stops adding to the score
B = 0.75  # how much a long text is discounted
TITLE_WEIGHT = 3

_SEPARATOR = re.compile(r"[\W_]+")
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_STOP_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "could", "do", "does", "for",
        "from", "has", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on",
        "or", "our", "please", "should", "so", "that", "the", "their", "them", "then", "there",
        "these", "this", "those", "to", "was", "we", "were", "what", "when", "where", "which",
        "who", "will", "with", "would", "you", "your",
    }
)  # fmt: skip


def words(text: str) -> list[str]:
    """The words BM25 compares, in order."""
    found: list[str] = []
    for token in _SEPARATOR.split(text):
        for part in _HUMP.split(token):
            word = part.lower()
            if word and word not in _STOP_WORDS:
                found.append(_singular(word))
    return found


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _operation_words(operation: Operation) -> list[str]:
    title = words(f"{operation.name} {operation.title}")
    return words(operation.text()) + title * (TITLE_WEIGHT - 1)


class OperationIndex:
    """One API's operations, indexed for `rank`."""

    def __init__(self, operations: Sequence[Operation]) -> None:
        self.operations = tuple(operations)
        counts = [Counter(_operation_words(operation)) for operation in self.operations]
        lengths = [sum(count.values()) for count in counts]
        average = (sum(lengths) / len(lengths) if lengths else 0.0) or 1.0
        self._norms = [K1 * (1 - B + B * length / average) for length in lengths]
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for position, count in enumerate(counts):
            for word, frequency in count.items():
                postings[word].append((position, frequency))
        self._postings = dict(postings)
        total = len(self.operations)
        self._idf = {
            word: math.log(1 + (total - len(found) + 0.5) / (len(found) + 0.5))
            for word, found in self._postings.items()
        }

    def rank(self, query: str, *, limit: int) -> list[Operation]:
        """The `limit` operations most relevant to `query`, best first."""
        if len(self.operations) <= limit:
            return list(self.operations)
        return [operation for operation, _ in self.scored(query, limit=limit)]

    def scored(self, query: str, *, limit: int) -> list[tuple[Operation, float]]:
        """The `limit` best operations for `query` with their BM25 scores, best first."""
        scores: dict[int, float] = defaultdict(float)
        for word in set(words(query)) & self._postings.keys():
            idf = self._idf[word]
            for position, frequency in self._postings[word]:
                norm = self._norms[position]
                scores[position] += idf * frequency * (K1 + 1) / (frequency + norm)
        best = heapq.nsmallest(
            limit, range(len(self.operations)), key=lambda p: (-scores.get(p, 0.0), p)
        )
        return [(self.operations[position], scores.get(position, 0.0)) for position in best]


def rank(operations: Sequence[Operation], query: str, *, limit: int) -> list[Operation]:
    """The `limit` operations most relevant to `query` (an index built for this one call)."""
    return OperationIndex(operations).rank(query, limit=limit)
