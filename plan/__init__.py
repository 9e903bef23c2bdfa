"""The planner: graph + board + target fps + implementation -> plan.json (per-layer folding).

`make_plan` (see `planner`) is the one planner `hls/` and `rtl/` build from;
`search` is the folding search behind it.
"""
from .planner import (PlanError, evaluate, line_width, make_plan, node_env, plan_items, read_plan,
                      refresh, write_plan)

__all__ = ["make_plan", "evaluate", "plan_items", "node_env", "read_plan", "write_plan", "PlanError",
           "line_width", "refresh"]
