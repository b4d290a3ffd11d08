"""cwdsl: clockwork convnets as a language (Shelhamer et al., "Clockwork Convnets for
Video Semantic Segmentation"). Text → AST → checked AST → graph → frame plans."""
from cwdsl.core.errors import CwdslError, InputError, ScheduleError
from cwdsl.core.netspec import Head, Layer, NetworkSpec, get_network, register_network
from cwdsl.ir.graph import Program, compile_schedule, compile_text, load
from cwdsl.ir.plan import Cache, Compute, FramePlan, Fuse, Measure, Planner, Wave
from cwdsl.lang.parser import parse, parse_file
from cwdsl.lang.printer import print_schedule

__version__ = "0.1.0"
__all__ = [
    "Cache", "Compute", "CwdslError", "FramePlan", "Fuse", "Head", "InputError", "Layer",
    "Measure", "NetworkSpec", "Planner", "Program", "ScheduleError", "compile_schedule",
    "compile_text", "get_network", "load", "parse", "parse_file", "print_schedule",
    "register_network", "Wave",
]
