"""Start the dashboard's web server (Solara on uvicorn), offline and on this computer only
unless told otherwise.

Offline: Solara's front-end assets come from the `solara-assets` package (installed with the
`dashboard` extra), so nothing is fetched from a CDN; Solara's telemetry is switched off.
"""

from __future__ import annotations

import os
import subprocess
import sys

OFFLINE_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",  # serve /_solara/cdn from the solara-assets package
    "SOLARA_THEME_LOADER": "plain",
}


def command(lang: str = "sv", host: str = "127.0.0.1", port: int = 8765) -> tuple[list[str], dict]:
    """The command line and environment that start the dashboard."""
    env = {**os.environ, **OFFLINE_ENV, "UVTS_LANG": lang}
    cmd = [sys.executable, "-m", "solara", "run", "sim.dashboard.app", "--host", host,
           "--port", str(port), "--production", "--no-open", "--log-level", "warning",
           "--theme-loader", "plain"]
    return cmd, env


def serve(lang: str = "sv", host: str = "127.0.0.1", port: int = 8765) -> int:
    """Run the dashboard until interrupted (Ctrl+C)."""
    try:
        import solara  # noqa: F401
        import solara_assets  # noqa: F401
    except ImportError as exc:
        print(f"uvts: error: the dashboard needs Solara and solara-assets ({exc.name} missing): "
              "pip install -e '.[dashboard]'", file=sys.stderr)
        return 2
    cmd, env = command(lang, host, port)
    print(f"UVTS dashboard ({lang}) on http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0
