"""The REST + WebSocket API a node serves (FastAPI); OpenAPI at /docs."""
