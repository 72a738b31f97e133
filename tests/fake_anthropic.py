"""A fake Messages API on 127.0.0.1 for tests: a real HTTP server that the real `anthropic` client
talks to through base_url (or ANTHROPIC_BASE_URL), with a request counter and scripted faults.

    with FakeAnthropic(key="sk-ant-test-...") as api:
        api.faults += [{"status": 429, "retry_after": 0.3}, {"drop": True}]   # the next two requests
        client = anthropic.Anthropic(api_key=..., base_url=api.url)
        ...
        api.count        # POSTs received, retries included
        api.answered     # 200 replies sent

Faults, each used by one request in order (then the requests are answered normally):
    {"status": 500, "retry_after": 0.01}   an API error (type from ERROR_TYPES), with a retry-after header
    {"drop": True}                         close the connection without answering
    {"delay": 2.0}                         answer after a delay (a client timeout shorter than it fires)
    {"html": True}                         HTTP 200 whose body is an HTML page, not JSON
    {"text": "..."}                        HTTP 200, a message whose text is this
`answer_limit = n`: after n answers every request gets HTTP 500 (an API that went down mid-run).
`delay`: seconds before every answer. A request whose key differs from `key` gets HTTP 401; its error
message echoes the key it got (the real API does not, but the key guard must hold if one did).

Answers: a generate-mode prompt (it carries "The rows as JSON: [...]") gets a valid row per slot; any
other prompt gets a valid triage of the report (label mode); `reply` (a function of the request body
to the reply text) replaces both.
"""
import collections
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}


def generated_row(s: dict, tag: str) -> dict:
    service = f"svc{s['n']}-api"
    report = (f"Since 14:05 UTC {service} has a {s['category']} problem ({tag}); written as a {s['style']} "
              f"for a {s['severity']} case.")
    triage = {"severity": s["severity"], "category": s["category"], "affected_services": [service],
              "summary": f"{service} has a {s['category']} problem since 14:05 UTC.",
              "next_action": f"Page the {service} owners."}
    return {"n": s["n"], "report": report, "triage": triage}


def default_reply(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    found = re.search(r"The rows as JSON: (\[.*\])", prompt)
    if found:
        tag = re.search(r"Batch (\S+)\.", prompt).group(1)
        return json.dumps({"rows": [generated_row(s, tag) for s in json.loads(found.group(1))]})
    service = (re.findall(r"[a-z]+-[a-z]+", prompt) or prompt.split()[:1])[0]
    return json.dumps({"severity": "SEV2", "category": "degradation", "affected_services": [service],
                       "summary": f"{service} is degraded.", "next_action": f"Check {service} dashboards."})


class FakeAnthropic:
    def __init__(self, key: str, reply=default_reply):
        self.key, self.reply = key, reply
        self.faults = collections.deque()
        self.bodies = []  # every request body, retries included
        self.answered = 0
        self.answer_limit = None
        self.delay = 0.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def count(self) -> int:
        return len(self.bodies)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def send(self, status, payload, headers=(), content_type="application/json"):
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_fake_{api.count}")
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def error(self, status, message, retry_after=None):
                headers = [("retry-after", str(retry_after))] if retry_after is not None else []
                self.send(status, {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"),
                                                              "message": message}}, headers)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with api.lock:
                    api.bodies.append(body)
                    fault = api.faults.popleft() if api.faults else {}
                    down = api.answer_limit is not None and api.answered >= api.answer_limit
                got = self.headers.get("x-api-key") or (self.headers.get("authorization") or "").removeprefix("Bearer ")
                if self.path != "/v1/messages":
                    return self.error(404, f"no route {self.path}")
                if got != api.key:
                    return self.error(401, f"invalid x-api-key: {got}")
                if fault.get("drop"):
                    self.close_connection = True
                    return
                if "status" in fault:
                    return self.error(fault["status"], "scripted fault", fault.get("retry_after"))
                if down:
                    return self.error(500, "the fake API is down", 0.01)
                time.sleep(fault.get("delay", api.delay))
                if fault.get("html"):
                    return self.send(200, "<html><body>502 Bad Gateway</body></html>", content_type="text/html")
                text = fault["text"] if "text" in fault else api.reply(body)
                message = {"id": f"msg_fake_{api.count}", "type": "message", "role": "assistant",
                           "model": body["model"], "content": [{"type": "text", "text": text}],
                           "stop_reason": "end_turn", "stop_sequence": None,
                           "usage": {"input_tokens": 100 + len(json.dumps(body)) // 4,
                                     "output_tokens": 10 + len(text) // 4,
                                     "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
                with api.lock:
                    api.answered += 1
                self.send(200, message)

        return Handler
