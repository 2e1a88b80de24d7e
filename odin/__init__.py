"""odin: fine-tune small language models to extract medical entities and relations from clinical text."""

__version__ = "0.1.0"
