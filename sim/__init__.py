"""uvts-sim: youth recruitment into criminal networks in Umeå, and the UVTS prevention programme."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("uvts-sim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
