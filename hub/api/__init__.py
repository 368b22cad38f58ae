"""The HTTP API (FastAPI): open data under /api/v1, and the ops endpoints."""
