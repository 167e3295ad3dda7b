"""Stand-in for ComfyUI's comfy/utils.py: ProgressBar and the global hook it reports to.

Like ComfyUI: a bar takes the hook that is installed when the bar is made, clamps the
value to the total, and calls hook(value, total, preview, node_id=...). ComfyUI's main.py
installs the hook; its first step is
comfy.model_management.throw_exception_if_processing_interrupted(), so a progress update
is where a node learns that the user pressed Cancel. tests/comfyui/harness.py installs a
hook that does the same and records the values.
"""

PROGRESS_BAR_HOOK = None


def set_progress_bar_global_hook(function):
    global PROGRESS_BAR_HOOK
    PROGRESS_BAR_HOOK = function


class ProgressBar:
    def __init__(self, total, node_id=None):
        self.total = total
        self.current = 0
        self.node_id = node_id
        self.hook = PROGRESS_BAR_HOOK

    def update_absolute(self, value, total=None, preview=None):
        if total is not None:
            self.total = total
        self.current = min(value, self.total)
        if self.hook is not None:
            self.hook(self.current, self.total, preview, node_id=self.node_id)

    def update(self, value):
        self.update_absolute(self.current + value)
