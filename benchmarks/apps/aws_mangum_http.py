"""Mangum + FastAPI: an ASGI app behind the Lambda adapter (async endpoint, lifespan off)."""

from fastapi import FastAPI
from mangum import Mangum

api = FastAPI()


@api.get("/hello/{name}")
async def hello(name: str):
    return {"message": "hello " + name}


handler = Mangum(api, lifespan="off")
