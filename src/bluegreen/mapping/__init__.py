"""The Excel mapping workbook: how green's schema differs from blue's (N, V, T, S, L).

Load a workbook (:func:`load_mapping`), lint it against both live schemas
(:func:`check_mapping`), write a starting one (:func:`write_template`), and sync through it
with ``Syncer(blue, green, plan_builder=MappingPlanBuilder(path))``. The format is documented in
mappings/README.md.
"""

from bluegreen.mapping.builder import MappingPlanBuilder, build_mapped_plan, check_mapping
from bluegreen.mapping.model import Finding, Mapping, MappingError, MappingRow, Operation
from bluegreen.mapping.shape import CastError, LookupFailed, MappingShaper
from bluegreen.mapping.template import template_rows, write_template
from bluegreen.mapping.workbook import load_mapping, read_mapping, write_mapping

__all__ = [
    "CastError",
    "Finding",
    "LookupFailed",
    "Mapping",
    "MappingError",
    "MappingPlanBuilder",
    "MappingRow",
    "MappingShaper",
    "Operation",
    "build_mapped_plan",
    "check_mapping",
    "load_mapping",
    "read_mapping",
    "template_rows",
    "write_mapping",
    "write_template",
]
