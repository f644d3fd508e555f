"""Readers of the files users have: volumes, point clouds, meshes and CAD parts (see ``volume_data``)."""
