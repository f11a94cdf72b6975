"""portafunc: the FastAPI app mounted at the root (``app``), and the Flask app (``flask``), each an App of its own."""

from mount_web import api, flask_app

from portafunc import App

app = App("mount-bench")
app.mount("/", api)

flask = App("mount-bench-flask")
flask.mount("/", flask_app)
