"""LocalSandbox: a Jupyter kernel under bubblewrap (command line, kernel, files)."""
