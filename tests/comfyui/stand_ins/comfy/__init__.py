"""Stand-in for ComfyUI's `comfy` package (only the modules the Sonic nodes import; see ../README.md)."""
