"""`chalice local` with a listen backlog that fits concurrent clients (the CLI's arguments pass through).

Chalice's dev server keeps socketserver's default backlog of 5 pending connections: with 20 concurrent clients the
kernel resets or delays (by a 1 s SYN retry) the connections beyond it. API Gateway has no such limit."""
import sys

from chalice.cli import main
from chalice.local import ThreadedHTTPServer

ThreadedHTTPServer.request_queue_size = 128

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
