"""Stand-in for ComfyUI's server.py: PromptServer.instance.send_progress_text.

In ComfyUI the one PromptServer is made at start and sits in PromptServer.instance;
send_progress_text(text, node_id) sends the text to the browser, which shows it under the
node. This one records (node_id, text) pairs for the tests to read.
"""


class PromptServer:
    instance = None

    def __init__(self):
        self.progress_texts = []
        PromptServer.instance = self

    def send_progress_text(self, text, node_id, sid=None):
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        self.progress_texts.append((str(node_id), text))
