"""An in-memory search index over the published catalogue (one per process).

SecantusDB has no text index, and MongoDB's would not segment Chinese anyway, so each process
builds this from the published matters and rebuilds it when the catalogue version moves. Plain
synchronous code: the caller builds it in a worker thread.

Matching, strongest first: words segmented by rjieba (jieba's dictionary, in Rust) in the name,
colloquial names, keywords, situations and department; pinyin initials (`gtgsh`) and full
spelling (`getigongshanghu`) of the name and colloquial names; synonyms of everyday phrases
(开饭店 → 食品经营许可); and, when those find little, character-bigram or pinyin-trigram overlap
for near misses. Ties break on popularity (办件量), then code.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import rjieba
from pypinyin import lazy_pinyin

from app.db import Document
from matters.models import MatterSummary
from matters.synonyms import SYNONYMS

MAX_QUERY_CHARS = 40
_ASCII = re.compile(r"^[a-z]+$")
_FIELD_WEIGHTS = {"name": 10.0, "alias": 8.0, "keyword": 5.0, "situation": 3.0, "department": 2.0}
_FIELD_NAMES = {
    "name": "name",
    "alias": "aliases",
    "keyword": "keywords",
    "situation": "situations",
    "department": "departmentName",
}


@dataclass(frozen=True, slots=True)
class Highlight:
    field: str
    fragment: str  # the field's text with matched parts in 【】
    reason: str  # WORD, SYNONYM, PINYIN, INITIALS, FUZZY


@dataclass(frozen=True, slots=True)
class Hit:
    code: str
    score: float
    highlights: tuple[Highlight, ...]
    summary: MatterSummary


@dataclass(slots=True)
class _Doc:
    code: str
    popularity: int
    texts: list[tuple[str, str]]  # (field kind, text); the name first
    summary: MatterSummary
    name_norm: str = ""
    name_pinyin: str = ""
    pinyin: list[tuple[str, list[str]]] = field(default_factory=list)  # (text, syllables)


@dataclass(frozen=True, slots=True)
class _Keys:
    """What a name or colloquial name contributes to the lookup tables."""

    syllables: list[str]
    char_grams: frozenset[str]
    spellings: frozenset[str]
    initials: frozenset[str]
    pinyin_grams: frozenset[str]


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no spaces (users type 全角 and spaces freely)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def words(text: str) -> set[str]:
    return {w for w in rjieba.cut_for_search(normalize(text)) if w.strip()}


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)} or {text}


def mark(text: str, spans: Iterable[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out.append(f"{text[last:start]}【{text[start:end]}】")
        last = end
    return "".join(out) + text[last:]


def _word_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    for term in terms:
        for m in re.finditer(re.escape(term), text):
            spans.append((m.start(), m.end()))
    return spans


class SearchIndex:
    def __init__(self, version: int, rows: Sequence[Document]) -> None:
        self.version = version
        self.epoch = 0  # catalogue epoch it was built in (a reseed starts a new one)
        self.docs: list[_Doc] = []
        self.postings: dict[str, dict[int, tuple[float, str]]] = defaultdict(dict)
        self.initials: dict[str, set[int]] = defaultdict(set)
        self.spellings: dict[str, set[int]] = defaultdict(set)
        self.char_grams: dict[str, set[int]] = defaultdict(set)
        self.pinyin_grams: dict[str, set[int]] = defaultdict(set)
        self._word_memo: dict[str, set[str]] = {}
        self._key_memo: dict[str, _Keys] = {}
        self.by_code: dict[str, int] = {}
        self.dead: set[int] = set()  # positions of guides since replaced or withdrawn
        for row in rows:
            self._add(row)

        # Popularity (办件量) as a small multiplicative boost: relevance decides, volume breaks
        # near-ties.
        self.boost = [1 + 0.05 * math.log10(1 + d.popularity) for d in self.docs]

    def __len__(self) -> int:
        return len(self.docs) - len(self.dead)

    def apply(self, version: int, rows: Sequence[Document]) -> None:
        """Bring the index to `version` from the rows changed since (any status): the code's
        old entry is retired, its published version (if any) added."""
        published = {r["code"]: r for r in rows if r["status"] == "PUBLISHED"}
        for code in {r["code"] for r in rows}:
            old = self.by_code.pop(code, None)
            if old is not None:
                self.dead.add(old)
            if code in published:
                self._add(published[code])
        self.boost += [
            1 + 0.05 * math.log10(1 + d.popularity) for d in self.docs[len(self.boost) :]
        ]
        self.version = version

    def _add(self, row: Document) -> None:
        content = row.get("content", {})
        texts = [("name", content["name"])]
        texts += [("alias", a) for a in content.get("aliases", [])]
        texts += [("keyword", k) for k in content.get("keywords", [])]
        texts += [("situation", s["name"]) for s in content.get("situations", [])]
        texts.append(("department", content.get("department_name", "")))
        doc = _Doc(
            row["code"],
            int(content.get("popularity", 0)),
            texts,
            MatterSummary.from_document(row),
            normalize(content["name"]),
        )
        i = len(self.docs)
        self.docs.append(doc)
        self.by_code[doc.code] = i
        for kind, text in texts:
            weight = _FIELD_WEIGHTS[kind]
            for word in self._words_of(text):
                if weight > self.postings[word].get(i, (0.0, ""))[0]:
                    self.postings[word][i] = (weight, kind)
            if kind in ("name", "alias"):
                keys = self._keys_of(text)
                doc.pinyin.append((text, keys.syllables))
                if kind == "name":
                    doc.name_pinyin = "".join(keys.syllables)
                for gram in keys.char_grams:
                    self.char_grams[gram].add(i)
                for key in keys.spellings:
                    self.spellings[key].add(i)
                for key in keys.initials:
                    self.initials[key].add(i)
                for gram in keys.pinyin_grams:
                    self.pinyin_grams[gram].add(i)

    # Implementation lists repeat the same names in every district: segment and spell each
    # distinct text once per build.

    def _words_of(self, text: str) -> set[str]:
        found = self._word_memo.get(text)
        if found is None:
            found = self._word_memo[text] = words(text)
        return found

    def _keys_of(self, text: str) -> _Keys:
        keys = self._key_memo.get(text)
        if keys is None:
            norm = normalize(text)
            syllables = lazy_pinyin(norm, errors="ignore")
            spellings, initials = set(), set()
            # Every run of whole syllables, as spelling and as initials: `gtgsh`, `getihu`.
            n = len(syllables)
            for start in range(n):
                for end in range(start + 1, min(n, start + 12) + 1):
                    run = syllables[start:end]
                    spellings.add("".join(run))
                    if end - start >= 2:
                        initials.add("".join(s[0] for s in run))
            keys = self._key_memo[text] = _Keys(
                syllables,
                frozenset(_bigrams(norm)),
                frozenset(spellings),
                frozenset(initials),
                frozenset(_trigrams("".join(syllables))),
            )
        return keys

    # -- querying --------------------------------------------------------------------------

    def search(
        self, query: str, limit: int, after: tuple[float, str] | None = None
    ) -> tuple[list[Hit], bool]:
        """One page of matches, best first, strictly after `after` (score, code); and whether
        more follow. Highlights are worked out for the page only."""
        q = normalize(query)
        pinyin = bool(_ASCII.match(q))
        terms: dict[str, tuple[str, float]] = {}
        if pinyin:
            scores, reasons = self._pinyin(q)
        else:
            terms = self._terms(q)
            scores, reasons = self._words(q, terms), {}
        for i in self.dead:
            scores.pop(i, None)
        if len(scores) < 3:
            for i, score in self._fuzzy(q).items():
                if i in self.dead:
                    continue
                if i not in scores:
                    scores[i], reasons[i] = score, "FUZZY"
        # (-score, code, i) tuples order natively: best first, ties by code. Scores are not
        # rounded: a cursor carries the exact float back (JSON round-trips it).
        boost, docs = self.boost, self.docs
        ranked = [(-score * boost[i], docs[i].code, i) for i, score in scores.items()]
        if after is not None:
            key = (-after[0], after[1])
            ranked = [r for r in ranked if (r[0], r[1]) > key]
        page = [(-neg, i) for neg, _, i in heapq.nsmallest(limit + 1, ranked)]
        hits = [
            Hit(
                self.docs[i].code,
                score,
                self._highlights(i, q, terms, reasons.get(i)),
                self.docs[i].summary,
            )
            for score, i in page[:limit]
        ]
        return hits, len(page) > limit

    def _terms(self, q: str) -> dict[str, tuple[str, float]]:
        """Query words, plus the words of synonyms of everyday phrases it contains.

        An expansion's words share one weight (a long official name must not outweigh a short
        one), and the first expansion listed is the phrase's main meaning."""
        terms = {w: ("WORD", 1.0) for w in words(q)}
        common = max(len(self.docs) // 10, 20)
        for phrase, expansions in SYNONYMS.items():
            if phrase in q:
                for rank, expansion in enumerate(expansions):
                    expansion_words = words(expansion)
                    weight = (0.8 if rank == 0 else 0.3) * 3 / (2 + len(expansion_words))
                    for w in expansion_words:
                        # Words most guides share (登记, 许可) say nothing about intent.
                        if len(self.postings.get(w, ())) <= common and w not in terms:
                            terms[w] = ("SYNONYM", weight)
        return terms

    def _words(self, q: str, terms: dict[str, tuple[str, float]]) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        n = max(len(self.docs), 1)
        found = [(t, r, w, self.postings[t]) for t, (r, w) in terms.items() if t in self.postings]
        # Words in a fifth of all guides (许可, 登记) only rank what rarer words found; alone,
        # they still find everything. Saves walking thousands of postings per query.
        common = n // 5
        has_rare = any(len(p) <= common for _, _, _, p in found)
        for term, reason, weight_, posting in sorted(found, key=lambda f: len(f[3])):
            # Rare words weigh more; longer words say more than characters split off a phrase.
            factor = weight_ * math.log(1 + n / len(posting)) * min(len(term), 4) / 2
            skip_department = reason == "SYNONYM"
            if has_rare and len(posting) > common:
                for i in list(scores):
                    hit = posting.get(i)
                    if hit is not None and not (skip_department and hit[1] == "department"):
                        scores[i] += hit[0] * factor
                continue
            for i, (weight, kind) in posting.items():
                if not (skip_department and kind == "department"):
                    scores[i] += weight * factor
        for i in scores:
            if q in self.docs[i].name_norm:
                scores[i] *= 2.0  # the whole query inside the name: what the user meant
        return scores

    def _highlights(
        self, i: int, q: str, terms: dict[str, tuple[str, float]], reason: str | None
    ) -> tuple[Highlight, ...]:
        doc = self.docs[i]
        if reason == "FUZZY":
            return (Highlight("name", doc.texts[0][1], "FUZZY"),)
        if reason in ("PINYIN", "INITIALS"):
            return (Highlight("name", self._pinyin_highlight(i, q, reason), reason),)
        found = []
        for kind, text in doc.texts:
            lowered = text.lower()
            by_reason: dict[str, list[str]] = defaultdict(list)
            for term, (why, _) in terms.items():
                if term in lowered:
                    by_reason[why].append(term)
            for why, matched in sorted(by_reason.items(), key=lambda kv: kv[0] != "WORD"):
                found.append(
                    Highlight(_FIELD_NAMES[kind], mark(text, _word_spans(lowered, matched)), why)
                )
        return tuple(found[:4])

    def _pinyin(self, q: str) -> tuple[dict[int, float], dict[int, str]]:
        scores: dict[int, float] = {}
        reasons: dict[int, str] = {}
        for table, reason, base in (
            (self.spellings, "PINYIN", 10.0),
            (self.initials, "INITIALS", 9.0),
        ):
            for i in table.get(q, ()):
                score = base * (0.5 + len(q) / max(len(self.docs[i].name_pinyin), 1))
                if score > scores.get(i, 0.0):
                    scores[i], reasons[i] = score, reason
        if not scores and len(q) >= 3:
            # Partly typed spelling (`getigongsh`): inside the spelling of a name.
            for i, doc in enumerate(self.docs):
                if q in doc.name_pinyin:
                    scores[i], reasons[i] = 6.0 * len(q) / len(doc.name_pinyin), "PINYIN"
        return scores, reasons

    def _pinyin_highlight(self, i: int, q: str, reason: str) -> str:
        """The name or colloquial name the query spells, with the spelled characters marked."""
        for text, syllables in self.docs[i].pinyin:
            keys = [s[0] for s in syllables] if reason == "INITIALS" else syllables
            if len(text) != len(keys):
                continue  # mixed scripts: characters and syllables do not line up
            for start in range(len(keys)):
                acc = ""
                for end in range(start, len(keys)):
                    acc += keys[end]
                    if acc == q:
                        return mark(text, [(start, end + 1)])
                    if len(acc) >= len(q):
                        break
        return self.docs[i].texts[0][1]

    def _fuzzy(self, q: str) -> dict[int, float]:
        """Near misses: candidates sharing character bigrams (Chinese) or pinyin trigrams
        (Latin) with the query, kept when they are similar enough as strings."""
        ascii_query = bool(_ASCII.match(q))
        grams, table = (
            (_trigrams(q), self.pinyin_grams) if ascii_query else (_bigrams(q), self.char_grams)
        )
        common = max(len(self.docs) // 5, 50)
        counts: dict[int, int] = defaultdict(int)
        for gram in grams:
            posting = table.get(gram, ())
            if len(posting) > common:
                continue  # a gram most names share cannot tell them apart
            for i in posting:
                counts[i] += 1
        needed = min(2, len(grams))
        candidates = heapq.nlargest(
            20, (i for i, c in counts.items() if c >= needed), key=counts.__getitem__
        )
        threshold = 0.75 if ascii_query else 0.6
        found: dict[int, float] = {}
        for i in candidates:
            doc = self.docs[i]
            target = doc.name_pinyin if ascii_query else doc.name_norm
            # Users type the start of a name: compare with the start, and with the whole.
            similarity = max(
                SequenceMatcher(None, q, target[: len(q) + 2], autojunk=False).ratio(),
                SequenceMatcher(None, q, target, autojunk=False).ratio(),
            )
            if similarity >= threshold:
                found[i] = 4.0 * similarity
        return found
