"""Errors of the retrieval package.

RetrievalError          root: anything this package raises on purpose
├── UserInputError      bad input a person can fix (path, file content, settings);
│                       the message names the file (and line) and says how to fix it
├── ModelIntegrityError the bundled embedding model is missing or its checksum differs
└── IndexStateError     the on-disk index is unreadable or from an incompatible version
"""

from __future__ import annotations


class RetrievalError(Exception):
    """Root of every error raised on purpose by `retrieval`."""


class UserInputError(RetrievalError):
    """Bad input that the user can fix; the message says what was wrong and how to fix it."""


class ModelIntegrityError(RetrievalError):
    """The embedding model's weights are missing or do not match the pinned checksum."""


class IndexStateError(RetrievalError):
    """The index directory cannot be used (corrupt manifest, other embedder, other version)."""
