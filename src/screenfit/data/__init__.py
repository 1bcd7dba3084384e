"""The validated Screen object, its schema, gene identity and preprocessing."""
