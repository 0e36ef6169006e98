"""Domain errors. They are raised by the core and translated to LSP answers in one place: ``server/``."""

from __future__ import annotations


class SmallcoderError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SmallcoderError):
    """A setting is unknown or has the wrong type; the message lists every problem."""


class ModelLoadError(SmallcoderError):
    """The model file is missing, unreadable or not a model; the message says what to do."""


class BackendUnavailable(SmallcoderError):
    """A backend was asked for whose runtime is not installed; the message names the extra."""


class DocumentError(SmallcoderError):
    """A request names a document that is not open, or one we refuse (binary, too large)."""


class PositionError(SmallcoderError):
    """A position lies outside the document."""


class Cancelled(SmallcoderError):
    """The request was superseded by a newer one or cancelled by the client."""


class DeviceMemoryError(SmallcoderError):
    """The accelerator (or the host) ran out of memory loading or running the model."""


class BackendFailure(SmallcoderError):
    """The runtime failed in the middle of a job; its cache was reset (or the model reloaded)."""


class RemoteError(SmallcoderError):
    """A remote completion server is down, too slow, or answered something that is not a completion."""


class DocstringError(SmallcoderError):
    """A docstring cannot be generated here (no definition at the cursor, a lambda, a syntax error); the
    message says why, for the user."""
