"""jieba behind a small interface: one dedicated instance, its files in an app-owned directory.

jieba's full dictionary (349k words) takes ~1.5 s to load even from its cache; the bot only needs
common words plus the domain vocabulary (cut with HMM=False, unknown words fall apart into
characters, which the matcher's character bigrams still use). So on first start we write a trimmed
dictionary (words with frequency ≥ MIN_FREQ) into `cache_dir`, and jieba builds its marshal cache
next to it once; later starts only read that cache. jieba is unmaintained (SyntaxWarnings,
pkg_resources), so nothing else imports it.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Protocol

MIN_FREQ = 10
_DICT_NAME = "jieba.trimmed.dict.txt"
_CACHE_NAME = "jieba.trimmed.cache"


class Tokenizer(Protocol):
    def cut(self, text: str) -> list[str]: ...


def _trimmed_dictionary(cache_dir: Path, source: Path) -> Path:
    target = cache_dir / _DICT_NAME
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    kept = []
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) >= MIN_FREQ:
                kept.append(line if line.endswith("\n") else line + "\n")
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.writelines(kept)
    os.replace(tmp, target)
    stale_cache = cache_dir / _CACHE_NAME
    if stale_cache.exists():
        stale_cache.unlink()
    return target


def _writable(cache_dir: Path) -> Path:
    """The app's cache dir, or a private temp dir when it cannot be written (read-only deploys)."""
    for candidate in (cache_dir, Path(tempfile.gettempdir()) / f"bot-jieba-cache-{os.getuid()}"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise OSError(f"no writable directory for the jieba cache (tried {cache_dir})")


class JiebaTokenizer:
    """Cuts with HMM=False so domain words stay whole and results are stable."""

    def __init__(self, cache_dir: Path, words: Iterable[str] = ()) -> None:
        import jieba  # imported here: the only place the package is used

        jieba.setLogLevel(logging.WARNING)
        cache_dir = _writable(Path(cache_dir))
        source = Path(jieba.__file__).with_name("dict.txt")
        self._jieba = jieba.Tokenizer(str(_trimmed_dictionary(cache_dir, source)))
        self._jieba.tmp_dir = str(cache_dir)
        self._jieba.cache_file = _CACHE_NAME
        self._jieba.initialize()
        for word in words:
            if word:
                self._jieba.add_word(word)

    def cut(self, text: str) -> list[str]:
        return [t for t in self._jieba.lcut(text, HMM=False) if t.strip()]

    def is_word(self, text: str) -> bool:
        """A word of the dictionary (common words and the domain vocabulary added at start-up)."""
        return bool(self._jieba.FREQ.get(text))
