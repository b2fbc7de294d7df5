"""The usage service: validates, deduplicates and stores producers' usage events."""
