"""Answers composed from the rule engine's results (never canned numbers)."""
from bot.answers.answerer import QuestionAnswerer
from bot.answers.model import Answer

__all__ = ["QuestionAnswerer", "Answer"]
