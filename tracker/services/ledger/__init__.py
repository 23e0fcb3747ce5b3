"""Follow-through: rectification items, surveys, ratings, follow-up visits."""
