"""HTML views of the experiments app, one module per topic."""
