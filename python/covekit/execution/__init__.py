"""The execution plane: output contracts, repair and validation."""
