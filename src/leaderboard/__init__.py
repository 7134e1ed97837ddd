"""compression-leaderboard: what model compression does to the knowledge stored in language models."""

__version__ = "0.1.0"
