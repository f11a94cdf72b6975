"""azure-functions' own ASGI adapter: the same FastAPI app as an ``AsgiFunctionApp`` (one function, route
``/{*route}``), as Azure's Python guide shows."""

import azure.functions as func
from mount_web import api

app = func.AsgiFunctionApp(app=api, http_auth_level=func.AuthLevel.ANONYMOUS)
