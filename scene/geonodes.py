"""The point cloud's Geometry Nodes modifier and material, built from Python.

The points mesh holds each point three times, joined into a triangle of no area (:mod:`.points`). The
node tree deletes the points whose ``confidence`` is below *Confidence Threshold* (with their triangles)
and moves every corner by its unit ``dust3r_corner`` offset times *Point Radius*: each point becomes an
equilateral triangle of that circumradius facing its camera, coloured by the active colour attribute
``color`` (which Solid view's Attribute colour draws). Both values are modifier inputs, so the artist
filters and resizes the cloud live without rebuilding it; the mesh itself keeps every point. Nothing is
instanced: instanced and realized geometry loses the active colour (TESTING.md), and a copy plus one offset
per vertex is what keeps 5 million points interactive.

The material is unlit (an Emission of the colour attribute): Material Preview and Rendered (EEVEE, Cycles)
show the photo's colours whatever the lighting.
"""

from __future__ import annotations

import bpy

from ..properties.build_options import BuildOptions
from .points import CONFIDENCE_ATTRIBUTE, CORNER_ATTRIBUTE

NODE_GROUP_NAME = "DUSt3R Points"
MODIFIER_NAME = "DUSt3R Points"
MATERIAL_NAME = "DUSt3R Points"
THRESHOLD_INPUT = "Confidence Threshold"
RADIUS_INPUT = "Point Radius"
TREE_VERSION = 4  # bump when the node tree or material changes, so old files get fresh ones
# Radius of the tree's own default (a modifier always sets its value: see add_points_modifier).
_DEFAULT_RADIUS = 0.01


def _new_input(tree, name: str, default, min_value=None, subtype: str | None = None):
    socket = tree.interface.new_socket(name=name, in_out="INPUT", socket_type="NodeSocketFloat")
    socket.default_value = default
    if min_value is not None:
        socket.min_value = min_value
    if subtype is not None:
        socket.subtype = subtype
    return socket


def _math(tree, node_type: str, operation: str, *inputs, output: int = 0):
    """A math node (``ShaderNodeMath``/``ShaderNodeVectorMath``/``FunctionNodeBooleanMath``) fed ``inputs``."""
    node = tree.nodes.new(node_type)
    node.operation = operation
    for k, socket in enumerate(inputs):
        tree.links.new(socket, node.inputs[k])
    return node.outputs[output]


def _named_attribute(tree, name: str, data_type: str):
    node = tree.nodes.new("GeometryNodeInputNamedAttribute")
    node.data_type = data_type
    node.inputs["Name"].default_value = name
    return node.outputs["Attribute"]


def _build_points_tree(new) -> bpy.types.NodeTree:
    tree = new("node_groups", NODE_GROUP_NAME, "GeometryNodeTree")
    tree["dust3r_version"] = TREE_VERSION
    tree.interface.new_socket(name="Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    _new_input(tree, THRESHOLD_INPUT, BuildOptions().conf_threshold, 0.0)
    _new_input(tree, RADIUS_INPUT, _DEFAULT_RADIUS, 0.0, subtype="DISTANCE")
    tree.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes, links = tree.nodes, tree.links
    group_in = nodes.new("NodeGroupInput")
    group_out = nodes.new("NodeGroupOutput")

    # Keep the points at or above the threshold (a NaN confidence is dropped, as ">=" says); deleting a
    # point's three vertices deletes its triangle.
    keep = nodes.new("FunctionNodeCompare")
    keep.data_type = "FLOAT"
    keep.operation = "GREATER_EQUAL"
    links.new(_named_attribute(tree, CONFIDENCE_ATTRIBUTE, "FLOAT"), keep.inputs[0])
    links.new(group_in.outputs[THRESHOLD_INPUT], keep.inputs[1])
    delete = nodes.new("GeometryNodeDeleteGeometry")
    delete.domain = "POINT"
    delete.mode = "ALL"
    links.new(group_in.outputs["Geometry"], delete.inputs["Geometry"])
    links.new(
        _math(tree, "FunctionNodeBooleanMath", "NOT", keep.outputs["Result"]), delete.inputs["Selection"]
    )

    # Each corner out from its point by the radius, along its unit corner offset.
    offset = nodes.new("ShaderNodeVectorMath")
    offset.operation = "SCALE"
    links.new(_named_attribute(tree, CORNER_ATTRIBUTE, "FLOAT_VECTOR"), offset.inputs[0])
    links.new(group_in.outputs[RADIUS_INPUT], offset.inputs["Scale"])
    set_position = nodes.new("GeometryNodeSetPosition")
    links.new(delete.outputs["Geometry"], set_position.inputs["Geometry"])
    links.new(offset.outputs["Vector"], set_position.inputs["Offset"])
    links.new(set_position.outputs["Geometry"], group_out.inputs["Geometry"])
    _arrange(tree)
    return tree


def _arrange(tree: bpy.types.NodeTree) -> None:
    """Left-to-right node positions in creation order (readable when the artist opens the tree)."""
    for k, node in enumerate(tree.nodes):
        node.location = (200.0 * k, -120.0 * (k % 3))


def unlit_material(new, name: str) -> tuple[bpy.types.Material, bpy.types.Node]:
    """A new material whose surface is an Emission shader of strength 1; returns it and that Emission node
    (link a colour into its ``Color`` input). ``new`` is ``BuildRecord.new``."""
    mat = new("materials", name)
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


def points_material(new) -> bpy.types.Material:
    """An unlit material showing the point colours (shared by all reconstructions of the file)."""
    mat = bpy.data.materials.get(MATERIAL_NAME)
    if mat is not None and mat.get("dust3r_version") == TREE_VERSION:
        return mat
    mat, emission = unlit_material(new, MATERIAL_NAME)
    mat["dust3r_version"] = TREE_VERSION
    # The mesh's default colour attribute (an empty name): Cycles finds no attribute called "color" by
    # name (it renders black, Blender 4.2), EEVEE and Cycles both read the default one.
    attr = mat.node_tree.nodes.new("ShaderNodeVertexColor")
    attr.layer_name = ""
    attr.location = (-250, 0)
    mat.node_tree.links.new(attr.outputs["Color"], emission.inputs["Color"])
    return mat


def points_node_group(new) -> bpy.types.NodeTree:
    """The shared node group (reused when a file already has the current version)."""
    tree = bpy.data.node_groups.get(NODE_GROUP_NAME)
    if tree is not None and tree.get("dust3r_version") == TREE_VERSION:
        return tree
    return _build_points_tree(new)


def input_identifier(tree: bpy.types.NodeTree, name: str) -> str:
    """The modifier key (``"Socket_N"``) of the group input called ``name``."""
    for item in tree.interface.items_tree:
        if item.item_type == "SOCKET" and item.in_out == "INPUT" and item.name == name:
            return item.identifier
    raise KeyError(f"node group {tree.name!r} has no input {name!r}")


def add_points_modifier(
    new, obj: bpy.types.Object, threshold: float, radius: float
) -> bpy.types.NodesModifier:
    """Add the filtering modifier to ``obj`` with its two inputs set (``new`` is ``BuildRecord.new``)."""
    tree = points_node_group(new)
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


def points_filter(obj: bpy.types.Object) -> tuple[float, float]:
    """The live ``(confidence threshold, point radius)`` of a DUSt3R point cloud."""
    mod = obj.modifiers[MODIFIER_NAME]
    return (
        float(mod[input_identifier(mod.node_group, THRESHOLD_INPUT)]),
        float(mod[input_identifier(mod.node_group, RADIUS_INPUT)]),
    )
