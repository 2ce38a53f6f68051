"""The decision plane: what goes into a request (context, budgets) and where it goes (routing)."""
