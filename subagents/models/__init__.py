"""Model clients. Import the concrete ones by module path (e.g. `subagents.models.anthropic`)."""
