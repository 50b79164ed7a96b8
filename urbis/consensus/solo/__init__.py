"""The embedded single-validator driver (the default: no external server)."""

from urbis.consensus.solo.driver import SoloConfig, SoloDriver

__all__ = ["SoloConfig", "SoloDriver"]
