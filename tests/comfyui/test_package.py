"""The node package as ComfyUI and its users meet it, without a server: what it imports, its
pyproject.toml for the ComfyUI registry, the nodes' names, widgets, defaults and ranges (the
ones ComfyUI_Sonic users know), and the example workflows in both of ComfyUI's formats."""
from __future__ import annotations

import ast
import json
import sys
import tomllib
import unittest

import harness
from harness import CORE_NODES, PACKAGE_DIR

STAND_IN_MODULES = {"comfy.utils", "comfy.model_management", "server", "folder_paths", "comfy_api.latest"}
SHIPPED_WITH_COMFYUI = {"torch", "numpy", "PIL"}


def imported_modules() -> set:
    """Absolute imports of every module of the package (relative ones are the package's own)."""
    names = set()
    for path in PACKAGE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module)
    return names


def options(cls, name):
    spec = cls.INPUT_TYPES()
    kind, *rest = {**spec["required"], **spec.get("optional", {})}[name]
    return kind, (rest[0] if rest else {})


class PackageTest(unittest.TestCase):
    def test_imports_only_the_standard_library_comfyui_and_what_comfyui_ships(self):
        comfyui, other = set(), set()
        for name in imported_modules():
            top = name.split(".")[0]
            if name in STAND_IN_MODULES or top in ("comfy", "comfy_api", "server", "folder_paths"):
                comfyui.add(name)
            elif top not in sys.stdlib_module_names and top not in SHIPPED_WITH_COMFYUI and top != "__future__":
                other.add(name)
        self.assertEqual(other, set(), "modules neither in the standard library nor shipped with ComfyUI")
        # The stand-ins cover exactly what the nodes import from ComfyUI.
        self.assertEqual(comfyui, STAND_IN_MODULES)

    def test_pyproject_has_the_registry_metadata_and_no_dependencies(self):
        with open(PACKAGE_DIR / "pyproject.toml", "rb") as f:
            project = tomllib.load(f)
        self.assertEqual(project["project"]["dependencies"], [])
        self.assertTrue(project["project"]["name"])
        self.assertRegex(project["project"]["version"], r"^\d+\.\d+\.\d+$")
        comfy = project["tool"]["comfy"]
        for key in ("PublisherId", "DisplayName", "Icon"):
            self.assertIn(key, comfy)
        self.assertTrue(comfy["PublisherId"])
        self.assertEqual(comfy["requires-comfyui"], ">=0.3.47")

    def test_nodes_are_registered_in_the_sonic_category(self):
        package = harness.node_package()
        self.assertEqual(package.NODE_DISPLAY_NAME_MAPPINGS,
                         {"SonicServerGenerate": "Sonic (server)", "SonicServerConnection": "Sonic server"})
        for name, cls in package.NODE_CLASS_MAPPINGS.items():
            self.assertEqual(cls.CATEGORY, "Sonic", name)
            self.assertTrue(callable(getattr(cls, cls.FUNCTION)), name)
            self.assertEqual(len(cls.RETURN_TYPES), len(cls.RETURN_NAMES), name)
            self.assertEqual(len(cls.RETURN_TYPES), len(cls.OUTPUT_TOOLTIPS), name)
            self.assertTrue(cls.DESCRIPTION, name)

    def test_generate_widgets_keep_comfyui_sonics_names_defaults_and_ranges(self):
        cls = harness.node_class("SonicServerGenerate")
        expected = {  # name: (type, default, min, max, step) — None where ComfyUI_Sonic sets none
            "min_resolution": ("INT", 512, 128, 2048, 64),
            "duration": ("FLOAT", 10.0, None, None, None),
            "expand_ratio": ("FLOAT", 0.5, 0.1, 1.0, None),
            "seed": ("INT", 0, 0, 2**31 - 1, None),
            "inference_steps": ("INT", 25, None, None, None),
            "dynamic_scale": ("FLOAT", 1.0, 0.5, 2.0, 0.1),
            "fps": ("INT", 25, None, None, None),
        }
        for name, (kind, default, low, high, step) in expected.items():
            got_kind, extra = options(cls, name)
            self.assertEqual(got_kind, kind, name)
            self.assertEqual(extra["default"], default, name)
            for key, value in (("min", low), ("max", high), ("step", step)):
                if value is not None:
                    self.assertEqual(extra[key], value, f"{name} {key}")
            self.assertTrue(extra.get("tooltip"), name)
        self.assertTrue(options(cls, "seed")[1]["control_after_generate"])
        for name, default in (("motion_scale", 1.0), ("align_mouth", True), ("smooth_motion", True),
                              ("full_frame", False), ("engine", ""), ("preset", "none"), ("aspect_ratio", "1:1")):
            self.assertEqual(options(cls, name)[1]["default"], default, name)
        self.assertEqual(options(cls, "image")[0], "IMAGE")
        self.assertIn("first image of a batch", options(cls, "image")[1]["tooltip"])
        self.assertEqual(options(cls, "audio")[0], "AUDIO")
        self.assertEqual(options(cls, "server")[0], "SONIC_SERVER")
        self.assertIn("server", cls.INPUT_TYPES()["optional"])
        self.assertEqual(cls.INPUT_TYPES()["hidden"], {"unique_id": "UNIQUE_ID"})
        self.assertEqual(cls.RETURN_TYPES, ("VIDEO", "IMAGE", "FLOAT"))

    def test_connection_defaults(self):
        cls = harness.node_class("SonicServerConnection")
        self.assertEqual(options(cls, "url")[1]["default"], "http://127.0.0.1:8080")
        self.assertEqual(options(cls, "token_env")[1]["default"], "SONIC_SERVER_TOKEN")
        self.assertEqual(cls.RETURN_TYPES, ("SONIC_SERVER",))
        settings = harness.node_package().sonic_api.ServerSettings()  # without a connection node
        self.assertEqual((settings.url, settings.token_env), ("http://127.0.0.1:8080", "SONIC_SERVER_TOKEN"))

    def test_connection_refuses_bad_urls_with_a_sentence(self):
        for url in ("127.0.0.1:8080", "ftp://host/", "http://user:secret@host:1/", "http://host:99999999/"):
            outcome = harness.run_node("SonicServerConnection",
                                       {"url": url, "token_env": "SONIC_SERVER_TOKEN", "timeout_s": 30.0,
                                        "job_timeout_s": 600, "max_retries": 2})
            self.assertEqual(outcome.status, "error", url)
            self.assertIn("URL", outcome.message, url)
            self.assertNotIn("secret", outcome.message)


class WorkflowTest(unittest.TestCase):
    """LoadImage + LoadAudio → Sonic (server) (+ Sonic server) → SaveVideo, in both formats."""

    @classmethod
    def setUpClass(cls):
        with open(PACKAGE_DIR / "workflows" / "sonic_server_api.json") as f:
            cls.api = json.load(f)
        with open(PACKAGE_DIR / "workflows" / "sonic_server.json") as f:
            cls.ui = json.load(f)

    def output_types(self, class_type):
        if class_type in CORE_NODES:
            return CORE_NODES[class_type]["outputs"]
        return harness.node_class(class_type).RETURN_TYPES

    def test_api_format_validates_as_comfyui_would(self):
        types = {node["class_type"] for node in self.api.values()}
        self.assertEqual(types, {"LoadImage", "LoadAudio", "SonicServerGenerate", "SonicServerConnection",
                                 "SaveVideo"})
        for node_id, node in self.api.items():
            links = {name: value for name, value in node["inputs"].items() if isinstance(value, list)}
            linked_types = {}
            for name, (source, slot) in links.items():
                self.assertIn(source, self.api, f"{node_id}.{name}")
                linked_types[name] = self.output_types(self.api[source]["class_type"])[slot]
            if node["class_type"] in CORE_NODES:
                for name, kind in CORE_NODES[node["class_type"]].get("inputs", {}).items():
                    self.assertEqual(linked_types[name], kind, f"{node_id}.{name}")
                continue
            cls = harness.node_class(node["class_type"])
            widgets = {name: value for name, value in node["inputs"].items() if name not in links}
            self.assertEqual(harness.validate(cls, widgets, linked_types), [], node_id)
            self.assertEqual(set(widgets), set(harness.widget_names(cls)), node_id)
        self.assertEqual(self.api["3"]["inputs"]["image"], ["1", 0])
        self.assertEqual(self.api["5"]["inputs"]["video"], ["3", 0])

    def test_ui_format_is_the_same_graph_with_widgets_in_the_frontends_order(self):
        nodes = {node["id"]: node for node in self.ui["nodes"]}
        # Every link joins an output and an input of the type it says.
        for link_id, source, source_slot, target, target_slot, kind in self.ui["links"]:
            self.assertEqual(nodes[source]["outputs"][source_slot]["type"], kind)
            self.assertIn(link_id, nodes[source]["outputs"][source_slot]["links"])
            self.assertEqual(nodes[target]["inputs"][target_slot]["type"], kind)
            self.assertEqual(nodes[target]["inputs"][target_slot]["link"], link_id)
        self.assertEqual(self.ui["last_link_id"], max(link[0] for link in self.ui["links"]))
        self.assertEqual(self.ui["last_node_id"], max(nodes))
        # The UI graph turned into the API format is the API example.
        converted = {}
        for node in self.ui["nodes"]:
            if node["type"] == "Note":  # UI only: the frontend leaves it out of the API format
                continue
            if node["type"] in CORE_NODES:
                names = CORE_NODES[node["type"]]["widgets"]
                values = dict(zip(names, node["widgets_values"]))
                values = {k: v for k, v in values.items() if k in self.api[str(node["id"])]["inputs"]}
            else:
                cls = harness.node_class(node["type"])
                values = {}
                flat = list(node["widgets_values"])
                for name in harness.widget_names(cls):
                    values[name] = flat.pop(0)
                    if options(cls, name)[1].get("control_after_generate"):  # followed by its mode
                        self.assertEqual(flat.pop(0), "randomize")
                self.assertEqual(flat, [], node["type"])
            for socket in node["inputs"]:
                link = next(l for l in self.ui["links"] if l[0] == socket["link"])
                values[socket["name"]] = [str(link[1]), link[2]]
            converted[str(node["id"])] = {"class_type": node["type"], "inputs": values}
        self.assertEqual(converted, {k: {"class_type": v["class_type"], "inputs": v["inputs"]}
                                     for k, v in self.api.items()})

    def test_neither_format_carries_a_token(self):
        for name, workflow in (("api", self.api), ("ui", self.ui)):
            text = json.dumps(workflow)
            self.assertNotIn("sk_sonic_", text, name)
            self.assertNotIn("Bearer", text, name)
            self.assertNotRegex(text, r"eyJ[A-Za-z0-9_-]+\.", name)
        self.assertEqual(self.api["4"]["inputs"]["token_env"], "SONIC_SERVER_TOKEN")

    def test_the_readme_explains_how_to_load_both(self):
        readme = (PACKAGE_DIR / "README.md").read_text()
        for needle in ("custom_nodes", "sonic_server.json", "sonic_server_api.json", "/prompt", "SONIC_SERVER_TOKEN"):
            self.assertIn(needle, readme)


if __name__ == "__main__":
    unittest.main()
