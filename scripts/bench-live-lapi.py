#!/usr/bin/env python3
"""bench-live-lapi.py - a stand-in Local API that timestamps every alert it receives.

usage: bench-live-lapi.py PORT OUT_JSONL [READY_FILE]

Answers what a CrowdSec agent needs in live mode, for the Go 1.4.6 agent and ours alike:
  POST /v1/watchers/login -> 200 with a token   GET /v1/heartbeat -> 200
  POST /v1/alerts         -> 201 ["<id>", ...]  GET /health       -> 200
  anything else           -> 404 (logged to stderr)
Each alert of each POST /v1/alerts is appended to OUT_JSONL as one JSON object, flushed at once:
  {"t": <wall-clock time the request body was read, Unix seconds>, "scenario": "...",
   "ip": "<source value>", "batch": <n>}
Nothing is stored and no decision is made: the agent is measured alone, with an alert sink that
answers at once. READY_FILE, when given, is created once the socket listens.
"""
import http.server
import json
import socketserver
import sys
import threading
import time

PORT, OUT = int(sys.argv[1]), sys.argv[2]
READY = sys.argv[3] if len(sys.argv) > 3 else None
lock = threading.Lock()
state = {"batches": 0, "next_id": 1}
out = open(OUT, "a", buffering=1)
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6ImJlbmNoLWxpdmUifQ.YmVuY2g"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path.startswith("/health") or self.path.startswith("/v1/heartbeat"):
            return self.reply(200, {"status": "up"})
        sys.stderr.write(f"bench-live-lapi: GET {self.path}: not implemented\n")
        self.reply(404, {"message": "not implemented"})

    def do_POST(self):
        raw = self.body()
        now = time.time()
        if self.path.startswith("/v1/watchers/login"):
            return self.reply(200, {"code": 200, "expire": "2099-01-01T00:00:00Z", "token": TOKEN})
        if self.path.startswith("/v1/alerts"):
            try:
                alerts = json.loads(raw or b"[]") or []
            except ValueError as e:
                sys.stderr.write(f"bench-live-lapi: bad alerts body: {e}\n")
                return self.reply(400, {"message": "bad json"})
            with lock:
                state["batches"] += 1
                ids = list(range(state["next_id"], state["next_id"] + len(alerts)))
                state["next_id"] += len(alerts)
                for a in alerts:
                    src = a.get("source") or {}
                    out.write(json.dumps({"t": now, "scenario": a.get("scenario", "?"),
                                          "ip": src.get("value") or src.get("ip") or "",
                                          "batch": state["batches"]}) + "\n")
            return self.reply(201, [str(i) for i in ids])
        sys.stderr.write(f"bench-live-lapi: POST {self.path}: not implemented\n")
        self.reply(404, {"message": "not implemented"})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", PORT), Handler)
    if READY:
        open(READY, "w").close()
    server.serve_forever()
