"""Typing-noise normalisation of an ISCN string, with a report of every change.

ISCN 2020 ch. 3 writes a karyotype without spaces except inside a few fixed words (``nuc ish``,
``psu dic``) and around ``con``/``sep`` in FISH probe lists (ISCN 2020 ch. 13).  Reports written by
people add labels (``ISCN:``), trailing full stops, Unicode dashes and tildes, full-width
characters and stray spaces.  :func:`normalise` removes that noise so the grammar can stay strict,
and lists each change so nothing is altered silently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Normalisation:
    """One change made to the input: what ``kind`` of noise, the text before and after."""

    kind: str
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.kind}: {self.before!r} -> {self.after!r}"


#: Characters replaced one-for-one (Unicode look-alikes of ISCN punctuation).
_CHAR_MAP: dict[str, tuple[str, str]] = {
    "\u2010": ("-", "Unicode dash"),
    "\u2011": ("-", "Unicode dash"),
    "\u2012": ("-", "Unicode dash"),
    "\u2013": ("-", "Unicode dash"),
    "\u2014": ("-", "Unicode dash"),
    "\u2212": ("-", "Unicode dash"),
    "\u223c": ("~", "Unicode tilde"),
    "\u02dc": ("~", "Unicode tilde"),
    "\u301c": ("~", "Unicode tilde"),
    "\u2053": ("~", "Unicode tilde"),
    "\u037e": (";", "Unicode semicolon"),
    "\u2018": ("'", "Unicode quote"),
    "\u2019": ("'", "Unicode quote"),
    "\u2032": ("'", "Unicode quote"),
    "\u00d7": ("x", "multiplication sign"),
    "\u00a0": (" ", "non-breaking space"),
    "\u2009": (" ", "Unicode space"),
    "\u202f": (" ", "Unicode space"),
    "\u3000": (" ", "Unicode space"),
    "\u3001": (",", "ideographic comma"),
    "\u3002": (".", "ideographic full stop"),
    "\uff61": (".", "ideographic full stop"),
    "\uff64": (",", "ideographic comma"),
    "\u2024": (".", "one-dot leader"),
    "\u2027": (".", "hyphenation point"),
    "\u00ad": ("", "soft hyphen"),
    "\u200b": ("", "zero-width space"),
    "\u200c": ("", "zero-width space"),
    "\u200d": ("", "zero-width space"),
    "\u2060": ("", "zero-width space"),
    "\ufeff": ("", "byte order mark"),
    "\u2033": ("''", "Unicode quote"),
    "\u201a": (",", "low quotation mark used as comma"),
    "\u2215": ("/", "Unicode slash"),
    "\u2044": ("/", "Unicode slash"),
    "\u29f8": ("/", "Unicode slash"),
    "\u2329": ("<", "Unicode angle bracket"),
    "\u232a": (">", "Unicode angle bracket"),
    "\u27e8": ("<", "Unicode angle bracket"),
    "\u27e9": (">", "Unicode angle bracket"),
    "\u3008": ("<", "Unicode angle bracket"),
    "\u3009": (">", "Unicode angle bracket"),
    "\u3010": ("[", "Unicode bracket"),
    "\u3011": ("]", "Unicode bracket"),
    "\u3014": ("(", "Unicode bracket"),
    "\u3015": (")", "Unicode bracket"),
    "\t": (" ", "tab"),
    "\n": (" ", "line break"),
    "\r": (" ", "line break"),
}

_PREFIX = re.compile(r"^\s*(?:ISCN|karyotype|cytogenetics)\s*:\s*", re.IGNORECASE)
_SPACE_RUN = re.compile(r" {2,}")
#: Spaces next to punctuation carry no meaning in ISCN (ISCN 2020 ch. 3).
_SPACE_PUNCT = re.compile(r" (?=[,;()\[\]/.:+])|(?<=[,;()\[\]/.:+]) ")
_SPACE_COUNT = re.compile(r" (x\d)")
#: Legacy ranges ``45-48`` at the start of a clone (pre-2005 ISCN) become ``45~48``.
_LEGACY_RANGE = re.compile(r"(^|/)(\d{1,3})-(\d{1,3})(?=[,<])")
#: Lab convention: ``-`` for ``~`` in a band interval, ``q21-23`` / ``q21-q23`` / ``p13.1-p12``
#: (ISCN 2020 ch. 3 and 4 write ``q21~q23``); a digit after an arm letter, then the dash.
_BAND_DASH = re.compile(r"([pq])(\d[\d.]*)-([pq]?)(?=\d)")
#: Lab convention: ``-`` for ``~`` in counts, ``+1-2mar``, ``x1-2`` (ISCN 2020 ch. 8, 9).
_COUNT_DASH = re.compile(r"(?<=[+x,])(\d{1,2})-(\d{1,2})(?=mar|dmin|[,\[\]/.)c]|$)")
#: ``or`` (ISCN 2020 ch. 3, alternative interpretation) written with a space on each side.
_OR = re.compile(r"(?<=[)\dpqr?]) *\bor\b *(?=[a-z?+\-\d(])|(?<=[)\d?])or *(?=[a-z?+\-\d(])")
#: Sex chromosomes typed in lower case after the chromosome number: ``46,xy`` (ISCN 2020 ch. 8).
_LOWER_SEX = re.compile(
    r"(^|/)(\d{1,3}(?:~\d{1,3})?(?:<\dn[+\-]?>)?,)([xy]{1,4})(?=[,\[/.]|c[,\[/.]|c?$)"
)


def normalise(text: str) -> tuple[str, tuple[Normalisation, ...]]:
    """Return the normalised text and the list of changes made (empty when none)."""
    changes: list[Normalisation] = []
    if text.isascii() and "\t" not in text and "\n" not in text and "\r" not in text:
        return _normalise_ascii(text, changes)

    out: list[str] = []
    for ch in text:
        if ch in _CHAR_MAP:
            repl, kind = _CHAR_MAP[ch]
            changes.append(Normalisation(kind, ch, repl))
            out.append(repl)
            continue
        if ord(ch) > 0x7F:
            folded = unicodedata.normalize("NFKC", ch)
            if folded != ch and folded.isascii():
                changes.append(Normalisation("full-width or compatibility character", ch, folded))
                out.append(folded)
                continue
        out.append(ch)
    return _normalise_ascii("".join(out), changes)


def _normalise_ascii(
    work: str, changes: list[Normalisation]
) -> tuple[str, tuple[Normalisation, ...]]:
    stripped = work.strip(" ")
    if stripped != work:
        changes.append(Normalisation("leading or trailing space", work, stripped))
        work = stripped

    match = _PREFIX.match(work)
    if match:
        changes.append(Normalisation("label prefix", match.group(0), ""))
        work = work[match.end() :]

    end = len(work)
    while end > 0 and work[end - 1] in ". ":
        end -= 1
    if end < len(work):
        changes.append(Normalisation("trailing full stop", work[end:], ""))
        work = work[:end]

    if "  " in work:
        new = _SPACE_RUN.sub(" ", work)
        changes.append(Normalisation("repeated spaces", work, new))
        work = new

    if " " in work:
        new = _SPACE_COUNT.sub(r"\1", _SPACE_PUNCT.sub("", work))
        if new != work:
            changes.append(Normalisation("space around punctuation", work, new))
            work = new

    new = _LEGACY_RANGE.sub(r"\1\2~\3", work) if "-" in work else work
    if new != work:
        changes.append(Normalisation("legacy range dash", work, new))
        work = new

    if "-" in work:
        new = _BAND_DASH.sub(lambda m: f"{m[1]}{m[2]}~{m[3] or m[1]}", work)
        new = _COUNT_DASH.sub(r"\1~\2", new)
        if new != work:
            changes.append(Normalisation("dash for '~' in a band interval or count", work, new))
            work = new

    if "or" in work:
        new = _OR.sub(" or ", work)
        if new != work:
            changes.append(Normalisation("space around 'or'", work, new))
            work = new

    if "x" in work or "y" in work:
        new = _LOWER_SEX.sub(lambda m: m.group(1) + m.group(2) + m.group(3).upper(), work)
        if new != work:
            changes.append(Normalisation("sex chromosomes in lower case", work, new))
            work = new

    return work, tuple(changes)
