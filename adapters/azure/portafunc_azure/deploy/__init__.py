"""Where a deployment is described: the generated function_app.py, the ARM template and its structural check."""
