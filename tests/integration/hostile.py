"""A hostile EC2 endpoint for tests: a proxy on 127.0.0.1 (port chosen by
the OS) in front of the simulator that answers chosen actions with what a
broken proxy, a captive portal or a lying endpoint would send. Everything
else goes to the simulator unchanged (the Host header too, so SigV4 still
verifies there). Standard library only.

    with Hostile(sim.url) as h:
        h.answer("DescribeInstances", h.fixed(200, ERROR_DOC))
        env["AWS_ENDPOINT_URL_EC2"] = h.url
"""
import http.client
import http.server
import threading
import urllib.parse

# EC2's error document, as EC2 sends it with a 4xx or 5xx status.
ERROR_DOC = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
             "<Code>InternalError</Code><Message>An internal error has occurred</Message>"
             "</Error></Errors><RequestID>11111111-2222-3333-4444-555555555555</RequestID>"
             "</Response>")
# A proxy's page that happens to be well-formed XML (XHTML, no DOCTYPE).
HTML_PAGE = ("<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>Proxy login</title>"
             "</head><body><h1>Please log in to continue</h1><p>This network requires "
             "authentication.</p></body></html>")


def describe_page(items_xml="", next_token=None):
    """A DescribeInstances answer with one reservation holding items_xml."""
    tok = "<nextToken>%s</nextToken>" % next_token if next_token else ""
    res = ("<item><reservationId>r-0123456789abcdef0</reservationId><ownerId>123456789012"
           "</ownerId><instancesSet>%s</instancesSet></item>" % items_xml) if items_xml else ""
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse "
            "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId>"
            "<reservationSet>%s</reservationSet>%s</DescribeInstancesResponse>" % (res, tok))


class Hostile:
    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.upstream = (u.hostname, u.port)
        self.overrides = {}
        self.seen = []          # (action, params) of every request, in order
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.url = None

    # What to answer -------------------------------------------------------
    def answer(self, action, fn):
        """fn(params, forward) -> (status, content_type, body); forward()
        returns the simulator's (status, content_type, body)."""
        with self.lock:
            self.overrides[action] = fn

    def clear(self):
        with self.lock:
            self.overrides.clear()
            self.seen.clear()

    @staticmethod
    def fixed(status, body, content_type="text/xml;charset=UTF-8"):
        return lambda params, forward: (status, content_type, body)

    @staticmethod
    def rewrite(fn):
        """The simulator's answer, its body passed through fn(str) -> str."""
        def answer(params, forward):
            status, ctype, body = forward()
            return status, ctype, fn(body.decode("utf-8"))
        return answer

    def actions(self, dry_run=None):
        """Actions received in order; dry_run=False: only real calls."""
        with self.lock:
            return [a for a, p in self.seen
                    if dry_run is None or (p.get("DryRun") == "true") == dry_run]

    # Server ---------------------------------------------------------------
    def __enter__(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                action = params.get("Action", "")
                with owner.lock:
                    owner.seen.append((action, params))
                    fn = owner.overrides.get(action)

                def forward():
                    return owner._forward(self.command, self.path, self.headers, body)

                status, ctype, out = fn(params, forward) if fn else forward()
                if isinstance(out, str):
                    out = out.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)

    def _forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                if k.lower() not in ("connection", "keep-alive", "accept-encoding"):
                    conn.putheader(k, v)
            conn.endheaders(body)
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type", "text/xml"), r.read()
        finally:
            conn.close()
