"""sonic-server nodes for ComfyUI: a lip-synced talking-head video from a portrait and a voice,
made on a sonic-server (on this machine or a GPU box elsewhere) instead of inside ComfyUI.

Install by copying or linking this folder into ComfyUI/custom_nodes/ and restarting ComfyUI;
see README.md. Nothing is installed at run time: the nodes use the Python standard library
and what ComfyUI itself ships (torch, numpy, PIL, PyAV through ComfyUI's VIDEO type).
"""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
