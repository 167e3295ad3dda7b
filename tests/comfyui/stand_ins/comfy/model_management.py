"""Stand-in for the interrupt part of ComfyUI's comfy/model_management.py.

ComfyUI's Cancel button (POST /interrupt) sets one process-wide flag; nodes look at it.
processing_interrupted() reads it; throw_exception_if_processing_interrupted() clears it
and raises InterruptProcessingException, which ComfyUI's executor reports as
"execution_interrupted" instead of an error.
"""
import threading


class InterruptProcessingException(Exception):
    pass


_lock = threading.RLock()
_interrupted = False


def interrupt_current_processing(value=True):
    global _interrupted
    with _lock:
        _interrupted = value


def processing_interrupted():
    with _lock:
        return _interrupted


def throw_exception_if_processing_interrupted():
    global _interrupted
    with _lock:
        if _interrupted:
            _interrupted = False
            raise InterruptProcessingException()
