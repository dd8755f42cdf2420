# The server the port proxy tests run inside a sandbox (python3 stdlib only): echoes requests,
# streams large bodies, speaks WebSocket (echo), and misbehaves on demand (never answers,
# endless headers). Usage: port_test_server.py ADDRESS PORT
import base64, hashlib, http.server, json, socketserver, struct, sys, time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, content_type="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_GET(self):
        path = self.path
        if path.startswith("/ws"):
            return self.websocket()
        if path.startswith("/big"):
            size = int(path.split("n=")[1])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b"x" * 65536
            while size > 0:
                n = min(size, len(block))
                self.wfile.write(block[:n])
                size -= n
            return
        if path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                data = ("part%d;" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
            return
        if path.startswith("/never"):
            time.sleep(3600)
            return
        if path.startswith("/endless"):
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            while True:
                self.wfile.write(b"X-Flood: " + b"a" * 100 + b"\r\n")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.reply(200, json.dumps({"method": self.command, "path": path,
                                    "headers": headers}).encode())

    do_DELETE = do_GET

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/size"):
            return self.reply(200, json.dumps({"size": len(body)}).encode())
        self.reply(200, body, self.headers.get("Content-Type", "application/octet-stream"))

    do_PUT = do_POST
    do_PATCH = do_POST

    def websocket(self):
        self.close_connection = True
        key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        read = self.rfile.read
        while True:
            head = read(2)
            if len(head) < 2:
                return
            opcode, size = head[0] & 15, head[1] & 127
            if size == 126:
                size = struct.unpack(">H", read(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", read(8))[0]
            mask = read(4) if head[1] & 128 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(read(size)))
            if opcode == 8:
                self.wfile.write(b"\x88\x00")
                return
            if opcode in (1, 2):
                if size < 126:
                    length = bytes([size])
                elif size < 65536:
                    length = b"\x7e" + struct.pack(">H", size)
                else:
                    length = b"\x7f" + struct.pack(">Q", size)
                self.wfile.write(bytes([0x80 | opcode]) + length + data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
