"""Codec adapters, one module per family. Import what you need; nothing here is eager."""
