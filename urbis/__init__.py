"""Urbis: a permissioned, publicly readable blockchain for a city."""

__version__ = "0.1.0"
