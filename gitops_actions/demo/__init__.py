"""Stand-ins the demo (and the handoff benchmark) run instead of real services."""
