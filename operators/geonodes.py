"""The point cloud's Geometry Nodes modifier and material, built from Python.

Node tree: the vertices whose ``confidence`` is at or above *Confidence Threshold* become points of radius
*Point Radius* (Mesh to Points with a selection), with the points material, which shows the colours. Both values are modifier
inputs, so the user filters the cloud live without rebuilding it; the mesh itself keeps every point.
"""

from __future__ import annotations

import bpy

from .build_options import BuildOptions
from .points import COLOR_ATTRIBUTE, CONFIDENCE_ATTRIBUTE

NODE_GROUP_NAME = "DUSt3R Points"
MODIFIER_NAME = "DUSt3R Points"
MATERIAL_NAME = "DUSt3R Points"
THRESHOLD_INPUT = "Confidence Threshold"
RADIUS_INPUT = "Point Radius"
TREE_VERSION = 2  # bump when the node tree or material changes, so old files get fresh ones
# Cycles does not read a point-cloud attribute named "color" in shaders (Blender 4.2: it renders black), so
# the tree passes a copy under this name to the material; the mesh keeps the documented "color".
RENDER_COLOR_ATTRIBUTE = "dust3r_render_color"


def _new_input(tree: bpy.types.NodeTree, name: str, socket_type: str, default, min_value=None):
    socket = tree.interface.new_socket(name=name, in_out="INPUT", socket_type=socket_type)
    socket.default_value = default
    if min_value is not None:
        socket.min_value = min_value
    return socket


def _build_points_tree(material: bpy.types.Material) -> bpy.types.NodeTree:
    tree = bpy.data.node_groups.new(NODE_GROUP_NAME, "GeometryNodeTree")
    tree["dust3r_version"] = TREE_VERSION
    tree.interface.new_socket(name="Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    defaults = BuildOptions()
    _new_input(tree, THRESHOLD_INPUT, "NodeSocketFloat", defaults.conf_threshold, 0.0)
    _new_input(tree, RADIUS_INPUT, "NodeSocketFloat", defaults.point_radius, 0.0)
    tree.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")

    nodes, links = tree.nodes, tree.links
    group_in = nodes.new("NodeGroupInput")
    group_in.location = (-600, 0)
    conf = nodes.new("GeometryNodeInputNamedAttribute")
    conf.data_type = "FLOAT"
    conf.inputs["Name"].default_value = CONFIDENCE_ATTRIBUTE
    conf.location = (-600, -200)
    keep = nodes.new("FunctionNodeCompare")
    keep.data_type = "FLOAT"
    keep.operation = "GREATER_EQUAL"
    keep.location = (-380, -150)
    to_points = nodes.new("GeometryNodeMeshToPoints")
    to_points.mode = "VERTICES"
    to_points.location = (-150, 0)
    color = nodes.new("GeometryNodeInputNamedAttribute")
    color.data_type = "FLOAT_COLOR"
    color.inputs["Name"].default_value = COLOR_ATTRIBUTE
    color.location = (-150, -250)
    store = nodes.new("GeometryNodeStoreNamedAttribute")
    store.data_type = "FLOAT_COLOR"
    store.domain = "POINT"
    store.inputs["Name"].default_value = RENDER_COLOR_ATTRIBUTE
    store.location = (80, 0)
    set_material = nodes.new("GeometryNodeSetMaterial")
    set_material.inputs["Material"].default_value = material
    set_material.location = (300, 0)
    group_out = nodes.new("NodeGroupOutput")
    group_out.location = (520, 0)

    links.new(conf.outputs["Attribute"], keep.inputs[0])
    links.new(group_in.outputs[THRESHOLD_INPUT], keep.inputs[1])
    links.new(group_in.outputs["Geometry"], to_points.inputs["Mesh"])
    links.new(keep.outputs["Result"], to_points.inputs["Selection"])
    links.new(group_in.outputs[RADIUS_INPUT], to_points.inputs["Radius"])
    links.new(to_points.outputs["Points"], store.inputs["Geometry"])
    links.new(color.outputs["Attribute"], store.inputs["Value"])
    links.new(store.outputs["Geometry"], set_material.inputs["Geometry"])
    links.new(set_material.outputs["Geometry"], group_out.inputs["Geometry"])
    return tree


def unlit_material(name: str) -> tuple[bpy.types.Material, bpy.types.Node]:
    """A new material whose surface is an Emission shader of strength 1; returns it and that Emission node
    (link a colour into its ``Color`` input)."""
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):  # Blender 5.0 materials always use nodes and deprecate the switch
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    emission = nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = 1.0
    emission.location = (0, 0)
    out = nodes.new("ShaderNodeOutputMaterial")
    out.location = (200, 0)
    links.new(emission.outputs["Emission"], out.inputs["Surface"])
    return mat, emission


def points_material() -> bpy.types.Material:
    """An unlit material showing the point colours (shared by all reconstructions of the file)."""
    mat = bpy.data.materials.get(MATERIAL_NAME)
    if mat is not None and mat.get("dust3r_version") == TREE_VERSION:
        return mat
    mat, emission = unlit_material(MATERIAL_NAME)
    mat["dust3r_version"] = TREE_VERSION
    attr = mat.node_tree.nodes.new("ShaderNodeAttribute")
    attr.attribute_type = "GEOMETRY"
    attr.attribute_name = RENDER_COLOR_ATTRIBUTE
    attr.location = (-250, 0)
    mat.node_tree.links.new(attr.outputs["Color"], emission.inputs["Color"])
    return mat


def points_node_group() -> bpy.types.NodeTree:
    """The shared node group (reused when a file already has the current version)."""
    tree = bpy.data.node_groups.get(NODE_GROUP_NAME)
    if tree is not None and tree.get("dust3r_version") == TREE_VERSION:
        return tree
    return _build_points_tree(points_material())


def input_identifier(tree: bpy.types.NodeTree, name: str) -> str:
    """The modifier key (``"Socket_N"``) of the group input called ``name``."""
    for item in tree.interface.items_tree:
        if item.item_type == "SOCKET" and item.in_out == "INPUT" and item.name == name:
            return item.identifier
    raise KeyError(f"node group {tree.name!r} has no input {name!r}")


def add_points_modifier(obj: bpy.types.Object, threshold: float, radius: float) -> bpy.types.NodesModifier:
    """Add the filtering modifier to ``obj`` with its two inputs set."""
    tree = points_node_group()
    mod = obj.modifiers.new(MODIFIER_NAME, "NODES")
    mod.node_group = tree
    set_points_filter(obj, threshold=threshold, radius=radius)
    return mod


def set_points_filter(
    obj: bpy.types.Object, threshold: float | None = None, radius: float | None = None
) -> None:
    """Change the live confidence threshold and/or point radius of a DUSt3R point cloud."""
    mod = obj.modifiers[MODIFIER_NAME]
    if threshold is not None:
        mod[input_identifier(mod.node_group, THRESHOLD_INPUT)] = float(threshold)
    if radius is not None:
        mod[input_identifier(mod.node_group, RADIUS_INPUT)] = float(radius)
    obj.update_tag()
