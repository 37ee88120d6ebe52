#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the S3 tests (Python standard library only, 127.0.0.1).

Forwards every request to UPSTREAM (host:port), except the first N, which it spoils:
  --fail N       answer 500 with an S3 InternalError document
  --drop N       close the connection without answering
  --truncate N   forward, then send the headers and only the first half of the body, and close
  --fail-matching TEXT   also answer 500 to every request whose "METHOD PATH" contains TEXT
  --wrong-region REGION  answer every request 301 PermanentRedirect with x-amz-bucket-region: REGION
Prints its port on the first line of stdout, then serves until killed. With --log FILE, appends
one line per request: "<method> <path> range=<Range header or ->".
"""
import argparse
import http.client
import http.server
import socketserver
import sys
import threading

args = None
lock = threading.Lock()
seen = 0

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # quiet: the test reads --log instead
        pass

    def handle_any(self):
        global seen
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            seen += 1
            index = seen
            if args.log:
                with open(args.log, "a") as log:
                    log.write(f"{self.command} {self.path} range={self.headers.get('Range') or '-'}\n")
        if args.wrong_region:
            doc = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code>'
                   b"<Message>The bucket you are attempting to access must be addressed using the specified endpoint."
                   b"</Message></Error>")
            self.send_response(301)
            self.send_header("x-amz-bucket-region", args.wrong_region)
            self.send_header("Content-Length", str(len(doc)) if self.command != "HEAD" else "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(doc)
            return
        if index <= args.fail or (args.fail_matching and args.fail_matching in f"{self.command} {self.path}"):
            doc = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
                   b"<Message>injected by fault_proxy.py</Message></Error>")
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(doc)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(doc)
            return
        if index <= args.fail + args.drop:
            self.close_connection = True
            return
        host, port = args.upstream.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn.request(self.command, self.path, body=body if (body or self.command in ("PUT", "POST")) else None,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        truncate = index <= args.fail + args.drop + args.truncate and len(data) > 1
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global args
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", help="host:port of the real server")
    parser.add_argument("--fail", type=int, default=0)
    parser.add_argument("--drop", type=int, default=0)
    parser.add_argument("--truncate", type=int, default=0)
    parser.add_argument("--fail-matching")
    parser.add_argument("--wrong-region")
    parser.add_argument("--log")
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
