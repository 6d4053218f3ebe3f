"""The workshop dashboard: `uvts dashboard [--lang sv|en] [--host] [--port]`."""
