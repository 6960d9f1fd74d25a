"""modelport: compile trained models into dependency-free C++ and Java, with proof of parity."""
__version__ = "0.1.0"

from .api import check, compile, convert  # noqa: E402
from .modeldiff import diff  # noqa: E402

__all__ = ["compile", "convert", "check", "diff", "__version__"]
