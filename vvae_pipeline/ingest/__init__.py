"""Stage 1, ingest: landed files -> validated sessions (+ quarantine), the session JSON Schema,
adapters from public corpora to the landing format, and the seeded demo generator."""
