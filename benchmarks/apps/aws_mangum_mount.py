"""Mangum: the same FastAPI app behind the Lambda adapter (lifespan off)."""

from mangum import Mangum
from mount_web import api

handler = Mangum(api, lifespan="off")
