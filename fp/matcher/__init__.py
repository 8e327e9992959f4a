"""Search, voting and alignment of suspect files against the index."""

from fp.matcher.matcher import Matcher
from fp.matcher.types import Hypothesis, Match, MatchReport

__all__ = ["Hypothesis", "Match", "MatchReport", "Matcher"]
