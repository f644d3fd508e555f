"""Test files made by the formats' own libraries: the examples' synthetic CT series and seismic survey."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
for folder in ("medical", "seismic"):
    if str(EXAMPLES / folder) not in sys.path:
        sys.path.insert(0, str(EXAMPLES / folder))

from synthetic_ct import phantom, write_series  # noqa: E402
from synthetic_survey import reflectors, write_survey  # noqa: E402

__all__ = ["phantom", "reflectors", "write_series", "write_step_assembly", "write_survey"]


def write_step_assembly(path: str | Path) -> Path:
    """A STEP AP214 assembly written by OpenCASCADE's XCAF writer (cadquery-ocp): "Bracket" holds a
    red 40 x 20 x 5 mm "Plate" at the origin and two blue "Pin" cylinders (radius 3, height 15)
    standing on it at (10, 10, 5) and (30, 10, 5); a name ending in .igs or .iges writes IGES."""
    from OCP.BRepPrimAPI import BRepPrimAPI_MakeBox, BRepPrimAPI_MakeCylinder
    from OCP.gp import gp_Trsf, gp_Vec
    from OCP.IGESCAFControl import IGESCAFControl_Writer
    from OCP.Quantity import Quantity_Color, Quantity_TypeOfColor
    from OCP.STEPCAFControl import STEPCAFControl_Writer
    from OCP.STEPControl import STEPControl_StepModelType
    from OCP.TCollection import TCollection_ExtendedString
    from OCP.TDataStd import TDataStd_Name
    from OCP.TDocStd import TDocStd_Document
    from OCP.TopLoc import TopLoc_Location
    from OCP.XCAFApp import XCAFApp_Application
    from OCP.XCAFDoc import XCAFDoc_ColorType, XCAFDoc_DocumentTool

    document = TDocStd_Document(TCollection_ExtendedString("MDTV-XCAF"))
    XCAFApp_Application.GetApplication_s().InitDocument(document)
    shapes = XCAFDoc_DocumentTool.ShapeTool_s(document.Main())
    colors = XCAFDoc_DocumentTool.ColorTool_s(document.Main())
    assembly = shapes.NewShape()
    TDataStd_Name.Set_s(assembly, TCollection_ExtendedString("Bracket"))

    def part(shape, name, rgb):
        label = shapes.AddShape(shape, False)
        TDataStd_Name.Set_s(label, TCollection_ExtendedString(name))
        colors.SetColor(label, Quantity_Color(*rgb, Quantity_TypeOfColor.Quantity_TOC_RGB),
                        XCAFDoc_ColorType.XCAFDoc_ColorSurf)
        return label

    def place(label, x, y, z):
        move = gp_Trsf()
        move.SetTranslation(gp_Vec(x, y, z))
        shapes.AddComponent(assembly, label, TopLoc_Location(move))

    plate = part(BRepPrimAPI_MakeBox(40.0, 20.0, 5.0).Shape(), "Plate", (1.0, 0.0, 0.0))
    pin = part(BRepPrimAPI_MakeCylinder(3.0, 15.0).Shape(), "Pin", (0.0, 0.0, 1.0))
    place(plate, 0, 0, 0)
    place(pin, 10, 10, 5)
    place(pin, 30, 10, 5)
    shapes.UpdateAssemblies()
    if str(path).lower().endswith((".igs", ".iges")):
        iges = IGESCAFControl_Writer()
        iges.SetColorMode(True)
        iges.SetNameMode(True)
        iges.Transfer(document)
        iges.Write(str(path))
        return Path(path)
    writer = STEPCAFControl_Writer()
    writer.SetColorMode(True)
    writer.SetNameMode(True)
    writer.Transfer(document, STEPControl_StepModelType.STEPControl_AsIs)
    writer.Write(str(path))
    return Path(path)
