"""A stand-alone server for one exported model: the serving bundle's server (no Django, no
platform). It answers as the platform's prediction endpoint does, by the same input preparation
(prepare.py, shipped beside it unchanged):

    GET  /          → {"version": …, "input_schema": {…}}
    POST /predict   {"inputs": [...]} → {"version": …, "predictions": [{"label", "score", "scores"}]}
    GET  /health    → {"status": "ok"}

Run it with `python server.py --port 8080` next to model.onnx and input_schema.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import onnxruntime

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from prepare import InputError, answers, prepare  # noqa: E402 - beside this file in the bundle

MAX_BODY = int(os.environ.get("MAX_BODY_BYTES", 2 * 1024 * 1024))
MAX_INPUTS = int(os.environ.get("MAX_INPUTS", 256))


class Model:
    def __init__(self, folder: Path) -> None:
        self.schema = json.loads((folder / "input_schema.json").read_text())
        self.version = json.loads((folder / "bundle.json").read_text())["version"]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def predict(self, inputs) -> dict:
        prepared = prepare(self.schema, inputs, max_items=MAX_INPUTS)
        probabilities = self.session.run([self.schema.get("onnx_output", "probabilities")], prepared.feeds)[0]
        return {"version": self.version, "predictions": answers(self.schema, probabilities)}


def handler_for(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/health":
                self._send(HTTPStatus.OK, {"status": "ok"})
            elif self.path == "/":
                self._send(HTTPStatus.OK, {"version": model.version, "input_schema": model.schema})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"detail": "Not found."})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/predict":
                self._send(HTTPStatus.NOT_FOUND, {"detail": "Not found."})
                return
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                self._send(HTTPStatus.LENGTH_REQUIRED, {"detail": "Send a Content-Length."})
                return
            if int(length) > MAX_BODY:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": f"Request body exceeds {MAX_BODY} bytes."})
                self.close_connection = True
                return
            try:
                body = json.loads(self.rfile.read(int(length)))
            except (ValueError, RecursionError):
                self._send(HTTPStatus.BAD_REQUEST, {"detail": "The body is not JSON."})
                return
            if not isinstance(body, dict) or "inputs" not in body:
                self._send(HTTPStatus.BAD_REQUEST, {"detail": 'Send {"inputs": [...]}.'})
                return
            try:
                self._send(HTTPStatus.OK, model.predict(body["inputs"]))
            except InputError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"detail": str(exc), "input_schema": model.schema})

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
            if os.environ.get("ACCESS_LOG"):
                super().log_message(format, *args)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve one exported model over HTTP.")
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    parser.add_argument("--folder", type=Path, default=HERE)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Model(args.folder)))
    print(f"Serving {args.folder / 'model.onnx'} on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
