"""WeChat official-account assistant for guardians enrolling children in resident medical insurance."""
__version__ = "0.1.0"
