"""`python -m shop`: serve until killed."""

from __future__ import annotations

import os
import sys


def main() -> int:
    from . import release

    try:
        from .app import make_server
    except Exception as exc:  # a broken release dies at start-up, as a real one would
        print(f"shop: cannot start release {os.environ.get('SHOP_RELEASE', 'good')}: {exc!r}", file=sys.stderr)
        return 1
    host = os.environ.get("HOST") or os.environ.get("POD_IP") or "127.0.0.1"
    server = make_server(host, int(os.environ.get("PORT", "8080")), release())
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
