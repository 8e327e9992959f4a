"""fp: multimodal video fingerprinting and piracy matching.

Library entry points: :func:`fp.index.build.index_catalogue` registers a catalogue,
:class:`fp.matcher.Matcher` checks suspect files against it.
"""

__version__ = "0.1.0"
