"""Everything that speaks SQL: migrations, the batch writer and the queries."""
