"""Page blueprints."""
