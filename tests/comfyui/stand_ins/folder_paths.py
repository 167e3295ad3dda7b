"""Stand-in for ComfyUI's folder_paths.py: the temp folder (ComfyUI empties it at start)."""
import os
import tempfile

temp_directory = os.path.join(tempfile.gettempdir(), "comfyui-stand-in-temp")


def set_temp_directory(path):
    global temp_directory
    temp_directory = path


def get_temp_directory():
    return temp_directory
