"""The runtime interface of the emulator's Python Lambda environments (one process each).

Started by ``constructs_lib.testing.lambda_runtime`` as ``python python_runtime.py RESULT_FD
PATH...``, with the function's environment. Like Lambda's runtime it imports the handler
once (the init phase), then runs one invocation per request, keeping module state between
invocations of the same environment (warm starts). Requests arrive as JSON lines on stdin;
each answer is a JSON line on the file descriptor RESULT_FD; everything the handler prints
(stdout and stderr) is the function's log. After each invocation a record separator line
marks the end of its log.

Standard library only: the handler's own imports come from its code package, its layers
and the packages Lambda's runtime provides (boto3), which are the only entries of PATH.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

END_OF_LOG = "\x1e"


class Context:
    """Lambda's context object: the attributes and method handlers read."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = request["function_arn"]
        self.aws_request_id = request["id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(request["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }


def _load() -> tuple[Any, dict[str, Any] | None]:
    handler = os.environ["_HANDLER"]
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:
        print(
            f"[ERROR] Runtime.ImportModuleError: Unable to import module '{module_name}': {error}",
            file=sys.stderr,
        )
        return None, _error(
            Exception(f"Unable to import module '{module_name}': {error}"),
            "Runtime.ImportModuleError",
        )
    function = getattr(module, function_name, None)
    if not callable(function):
        return None, _error(
            Exception(f"Handler '{function_name}' missing on module '{module_name}'"),
            "Runtime.HandlerNotFound",
        )
    return function, None


def main() -> None:
    results = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    sys.path[:0] = sys.argv[2:]
    function, init_error = _load()
    _flush()
    results.write(json.dumps({"init_error": init_error}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        answer: dict[str, Any]
        if init_error is not None:
            answer = {"error": init_error}
        else:
            try:
                payload = function(request["event"], Context(request))
                answer = {"payload": json.dumps(payload)}
            except Exception as error:
                answer = {"error": _error(error)}
                print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
                traceback.print_exc()
        _flush()
        print(END_OF_LOG + request["id"], flush=True)
        results.write(json.dumps(answer) + "\n")


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
