"""Every state key the documents module writes."""

PREFIX = b"documents/"


def document(digest: bytes) -> bytes:
    return b"documents/doc/" + digest


def batch(root: bytes) -> bytes:
    return b"documents/batch/" + root
