"""The two web apps every mount benchmark contender serves: one FastAPI (ASGI) and one Flask (WSGI) app, each with
``GET /hello/{name}`` answering ``{"message": "hello NAME"}``."""

from fastapi import FastAPI
from flask import Flask

api = FastAPI()


@api.get("/hello/{name}")
async def hello(name: str):
    return {"message": "hello " + name}


flask_app = Flask(__name__)


@flask_app.get("/hello/<name>")
def flask_hello(name):
    return {"message": "hello " + name}
