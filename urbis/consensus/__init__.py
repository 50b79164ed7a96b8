"""Consensus drivers: they order transactions into blocks and feed the application."""
