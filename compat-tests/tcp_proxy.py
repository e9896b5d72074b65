"""A TCP proxy in the test process that can cut a network link and heal it again.

`TcpProxy(target_port)` listens on 127.0.0.1 and forwards every connection to
127.0.0.1:target_port, bytes untouched, one thread per direction. `cut()` breaks the link
until `heal()`, in one of two ways:

- mode="close" (default): every carried connection is closed at once and each new one is closed
  as soon as it is accepted; the peers see EOF or a reset immediately, as when a route is gone;
- mode="hang": nothing more is delivered and nothing is closed, as when packets are dropped
  (iptables DROP): bytes a peer sends wait in the proxy (and, once its buffers are full, in the
  kernel's), new connections are accepted but not connected on; only the peers' own timeouts
  notice. `heal()` delivers what was held, in order, and connects the waiting connections, as
  TCP does once its retransmissions get through.

A proxy in front of a Kafka listener can cut only some clients: with parse_client_id=True,
`cut(clients={...})` applies to the connections whose first request header carries one of those
client ids (fjord's brokers send `fjord-broker-<node id>` on their inter-broker connections);
the others keep going. So one proxy per broker listener, shared by every fetcher, can still
isolate one fetcher.
"""
import socket
import struct
import threading


def _close(sock):
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Link:
    """One proxied connection: the accepted socket and the one to the target."""

    def __init__(self, proxy, client):
        self.proxy, self.client, self.upstream = proxy, client, None
        self.client_id = None      # from the first Kafka request header, when parsed
        self.closed = False

    def close(self):
        with self.proxy._cond:
            if self.closed:
                return
            self.closed = True
            self.proxy._links.discard(self)
        _close(self.client)
        _close(self.upstream)

    def run(self):
        """Connect to the target (once the link is open) and pump both directions."""
        if not self.proxy._wait_open(self):
            return self.close()
        try:
            self.upstream = socket.create_connection(self.proxy.target, timeout=2)
            self.upstream.settimeout(None)
            self.client.settimeout(None)
            for s in (self.client, self.upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            return self.close()
        if self.closed:  # cut (mode close) or stopped meanwhile
            return self.close()
        threading.Thread(target=self.pump, args=(self.upstream, self.client, False),
                         name=f"{self.proxy.name}-s2c", daemon=True).start()
        self.pump(self.client, self.upstream, self.proxy.parse_client_id)

    def pump(self, src, dst, parse_client_id):
        head = b""
        try:
            while not self.closed:
                data = src.recv(65536)
                if not data:
                    # the peer's FIN is delivered like its bytes: only once the link is open
                    self.proxy._wait_open(self)
                    break
                if parse_client_id and self.client_id is None:
                    # hold bytes back until the first request header's client id is known:
                    # size (4) api_key (2) api_version (2) correlation (4) client_id (2 + n)
                    head += data
                    if len(head) < 14:
                        continue
                    n, = struct.unpack(">h", head[12:14])
                    if n > 0 and len(head) < 14 + n:
                        continue
                    self.client_id = head[14:14 + n].decode(errors="replace") if n > 0 else ""
                    data, head = head, b""
                if not self.proxy._wait_open(self):
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self.close()


class TcpProxy:
    def __init__(self, target_port, name="proxy", target_host="127.0.0.1", port=None,
                 parse_client_id=False):
        self.name = name
        self.target = (target_host, target_port)
        self.parse_client_id = parse_client_id
        self._cond = threading.Condition()
        self._links = set()
        self._cut_all = False
        self._cut_clients = set()
        self._mode = "close"
        self._stopped = False
        self.accepted = 0   # connections accepted
        self.refused = 0    # connections closed because of a cut (mode close)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)
        self._thread.start()

    def __repr__(self):
        state = "cut" if self._cut_all else (f"cut for {sorted(self._cut_clients)}" if self._cut_clients else "open")
        return f"<TcpProxy {self.name} :{self.port} -> :{self.target[1]} {state} ({self._mode})>"

    # --- control -------------------------------------------------------------------
    def cut(self, clients=None, mode="close"):
        """Break the link (see the module doc): for every connection, or (clients given,
        parse_client_id=True) only for those whose Kafka client id is in `clients`."""
        assert mode in ("close", "hang"), mode
        with self._cond:
            assert not (self.is_cut and mode != self._mode), f"{self.name}: already cut in mode {self._mode}"
            self._mode = mode
            if clients is None:
                self._cut_all = True
            else:
                assert self.parse_client_id, f"{self.name}: cut(clients=...) needs parse_client_id=True"
                self._cut_clients |= set(clients)
            doomed = [l for l in self._links if self._blocked(l)] if mode == "close" else []
        for l in doomed:
            self.refused += 1
            l.close()

    def heal(self):
        with self._cond:
            self._cut_all = False
            self._cut_clients = set()
            self._cond.notify_all()

    @property
    def is_cut(self):
        return self._cut_all or bool(self._cut_clients)

    def links(self):
        with self._cond:
            return len(self._links)

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            links = list(self._links)
        _close(self.sock)
        for l in links:
            l.close()
        self._thread.join(2)

    # --- internals -----------------------------------------------------------------
    def _blocked(self, link):
        """Whether a cut applies to link (call with _cond held). A link whose client id is not
        known yet is blocked only by a cut of every client."""
        return self._cut_all or (link.client_id is not None and link.client_id in self._cut_clients)

    def _wait_open(self, link):
        """False if the link must close now (cut in mode close, or the proxy stopped); else
        wait while it is cut in mode hang, then True."""
        with self._cond:
            while True:
                if self._stopped or link.closed:
                    return False
                if not self._blocked(link):
                    return True
                if self._mode == "close":
                    self.refused += 1
                    return False
                self._cond.wait(0.5)

    def _accept_loop(self):
        while not self._stopped:
            try:
                client, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            with self._cond:
                if self._cut_all and self._mode == "close" or self._stopped:
                    self.refused += 1
                    _close(client)
                    continue
                link = _Link(self, client)
                self._links.add(link)
            threading.Thread(target=link.run, name=f"{self.name}-conn", daemon=True).start()
