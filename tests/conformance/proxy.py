"""A recording HTTP proxy for the conformance tests (standard library only).

nestplan's endpoint is the proxy; the proxy keeps each request exactly as it
came (method, path, headers, body) and forwards it, headers unchanged, to the
upstream server. The Host header is forwarded as nestplan sent it, so a
SigV4-verifying upstream that takes the Host header it receives (ec2sim does)
still verifies the signature.

    with RecordingProxy("http://127.0.0.1:41235") as proxy:
        env["AWS_ENDPOINT_URL_EC2"] = proxy.url
        ...
        for req in proxy.requests(): req.params()
"""
import http.client
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection, not to the
# request; Expect is answered by the proxy itself.
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
       "transfer-encoding", "upgrade", "expect"}


class Recorded:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers          # [(name, value)] as received
        self.body = body                # bytes as received (chunked transfer decoded)
        self.status = None              # the upstream's status, 0 when it gave none
        self.response = b""

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def params(self):
        """The Query parameters, in order, as (name, value) pairs."""
        split = urllib.parse.urlsplit(self.path)
        form = self.body.decode("utf-8") if self.method == "POST" else split.query
        return urllib.parse.parse_qsl(form, keep_blank_values=True)

    def action(self):
        return dict(self.params()).get("Action", "?")

    def __repr__(self):
        return "<%s %s %s -> %s>" % (self.method, self.path, self.action(), self.status)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self):
        proxy = self.server.proxy
        body = self._body()
        rec = Recorded(self.command, self.path, list(self.headers.items()), body)
        with proxy.lock:
            proxy.log.append(rec)
        conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            rec.status, rec.response = resp.status, data
            self.send_response_only(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (OSError, http.client.HTTPException):
            # The upstream dropped the connection: so does the proxy.
            rec.status = 0
            self.close_connection = True
        finally:
            conn.close()

    do_POST = _forward
    do_GET = _forward


class RecordingProxy:
    def __init__(self, upstream_url):
        u = urllib.parse.urlsplit(upstream_url)
        self.upstream_host, self.upstream_port = u.hostname, u.port or 80
        self.log = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.url = None

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.proxy = self
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None

    def requests(self):
        with self.lock:
            return list(self.log)

    def clear(self):
        with self.lock:
            self.log.clear()
