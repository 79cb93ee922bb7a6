"""Python bindings for mlrcopilot (ctypes over the C ABI, libmlrcopilot.so.0)."""

from . import _capi  # loads the library and checks its version (ImportError on mismatch)
from .errors import (AuthError, BudgetExceeded, Cancelled, ConfigError, Done, HandleClosedError,
                     HTTPError, InternalError, InvalidArgument, MlrcError, MlrcIOError,
                     NetworkError, NotFound, ParseError, ProtocolError, ProviderError,
                     RateLimitError, ServerError, Timeout, TLSError, Unsupported, UserError)
from .session import (GATE_AFTER_STEP, GATE_APPROVE_EXECUTION, GATE_CHOOSE_IDEA, GATE_HELP, LATER,
                      Event, Run, Runtime, Session, parse_model_spec, version, version_number)
from .components import Model, Planner, Retriever, Task, default_runtime, ideas_table
from .plugins import ExecutorPlugin, ModelPlugin, RetrieverPlugin, Tool

__version__ = "%d.%d.%d" % (_capi.MLRC_VERSION_MAJOR, _capi.MLRC_VERSION_MINOR,
                            _capi.MLRC_VERSION_PATCH)

__all__ = [
    "Runtime", "Session", "Run", "Event", "version", "version_number", "parse_model_spec",
    "GATE_CHOOSE_IDEA", "GATE_APPROVE_EXECUTION", "GATE_AFTER_STEP", "GATE_HELP", "LATER",
    "Model", "Planner", "Retriever", "Task", "default_runtime", "ideas_table",
    "Tool", "ModelPlugin", "RetrieverPlugin", "ExecutorPlugin",
    "MlrcError", "InvalidArgument", "HandleClosedError", "ConfigError", "MlrcIOError",
    "NetworkError", "TLSError", "Timeout", "Cancelled", "HTTPError", "AuthError",
    "RateLimitError", "ServerError", "ProtocolError", "ProviderError", "BudgetExceeded",
    "NotFound", "Unsupported", "ParseError", "InternalError", "Done", "UserError",
]
