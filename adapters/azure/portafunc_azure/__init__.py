"""portafunc adapter for Azure Functions (Python v2 programming model).

Importing this package imports no Azure SDK: ``azure.functions`` is loaded by the runtime helpers the generated
``function_app.py`` calls, and ``azure.eventgrid`` / ``azure.storage.queue`` only when a backend is first used.
"""

__version__ = "0.1.0"
