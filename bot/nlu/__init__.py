"""Natural-language understanding: jieba tokens → intent + slots (see understanding.Nlu)."""
from bot.nlu.understanding import UNCLEAR, Nlu, Understanding

__all__ = ["Nlu", "Understanding", "UNCLEAR"]
