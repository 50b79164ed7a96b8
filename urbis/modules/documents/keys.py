"""Every state key the documents module writes (a batch root is stored as a document)."""

PREFIX = b"documents/"


def document(digest: bytes) -> bytes:
    return b"documents/doc/" + digest
