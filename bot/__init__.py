"""strikebot: short, cited answers about a labour strike, on Slack, Discord and the console."""

__version__ = "0.1.0"
