"""One exception hierarchy: the library raises these, only the CLI turns them into exit codes."""

from __future__ import annotations


class GcbenchError(Exception):
    """Base of every error gcbench raises on purpose. The message says what to do."""


class ConfigError(GcbenchError, ValueError):
    """A spec, option or command-line value is malformed."""


class UnknownNameError(GcbenchError, KeyError):
    """A name is not in a registry; the message lists the closest valid names."""

    def __init__(self, kind: str, name: str, suggestions: list[str], valid: list[str]):
        self.kind, self.name, self.suggestions, self.valid = kind, name, suggestions, valid
        if suggestions:
            hint = "Did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
        else:
            hint = "Valid names: " + ", ".join(valid) if valid else "None are registered."
        super().__init__(f"unknown {kind} {name!r}. {hint}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class UnavailableError(GcbenchError):
    """A component cannot run here (missing package, binary or file); says how to fix it."""


class PluginError(GcbenchError):
    """A third-party plugin failed to load or does not follow the protocol."""


class ImageLoadError(GcbenchError):
    """A dataset file is not a decodable image."""


class DatasetError(GcbenchError):
    """A dataset is missing, incomplete or altered."""


class CodecError(GcbenchError):
    """Encoding or decoding failed for one task."""


class MetricError(GcbenchError):
    """A metric could not be computed for one task (e.g. image too small)."""


class WeightsError(UnavailableError):
    """A pretrained file is missing or has the wrong hash."""


class StoreError(GcbenchError):
    """A results database cannot be read: corrupt, truncated, or not gcbench's."""


class FolderBusyError(GcbenchError):
    """Another process is writing the results folder."""
