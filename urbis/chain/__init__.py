"""Transactions, blocks, the mempool and the application that executes them."""
