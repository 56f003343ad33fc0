"""`retrainer graph [<run>]`: the state machine drawn from its real definition (Mermaid and PNG), and for
a run each state coloured by what happened to it in the run's last execution.

Pure parts (tested without AWS): `build` turns an ASL definition into nodes and edges, `outcomes`
reads an execution history, `mermaid` and `draw` render them."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from retrainer.runs import outcomes  # noqa: F401 - part of this module's interface (tests, report)

ASL = Path(__file__).resolve().parents[1] / "statemachine" / "retrain.asl.json"
START = "__start__"

# outcome -> (fill, stroke, text colour); the order is the legend's
COLOURS = {
    "succeeded": ("#c8e6c9", "#2e7d32", "#1b1b1b"),
    "failed": ("#ffcdd2", "#c62828", "#1b1b1b"),
    "cached": ("#bbdefb", "#1565c0", "#1b1b1b"),
    "retried": ("#ffe0b2", "#ef6c00", "#1b1b1b"),
    "running": ("#fff9c4", "#f9a825", "#1b1b1b"),
    "not run": ("#f5f5f5", "#9e9e9e", "#757575"),
}
@dataclass(frozen=True)
class Node:
    name: str
    type: str
    parent: str | None = None  # the Map/Parallel state this one runs inside
    retries: bool = False
    end: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # start | next | choice | default | catch | items
    label: str = ""


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


# ---------------------------------------------------------------- definition -> graph
def build(definition: dict[str, Any]) -> Graph:
    """Every state (nested ones included) and every transition: Next, Choice rules, Default, Catch,
    and Map/Parallel into their own StartAt."""
    graph = Graph(nodes=[Node(START, "Start")], edges=[Edge(START, definition["StartAt"], "start")])
    _add_states(graph, definition, None)
    return graph


def _add_states(graph: Graph, machine: dict[str, Any], parent: str | None) -> None:
    for name, state in machine["States"].items():
        graph.nodes.append(Node(name, state["Type"], parent, bool(state.get("Retry")), bool(state.get("End"))))
        for index, rule in enumerate(state.get("Choices", []), 1):
            graph.edges.append(Edge(name, rule["Next"], "choice", condition(rule) or f"rule {index}"))
        if "Default" in state:
            graph.edges.append(Edge(name, state["Default"], "default", "default"))
        for catcher in state.get("Catch", []):
            graph.edges.append(Edge(name, catcher["Next"], "catch", "catch " + ", ".join(catcher.get("ErrorEquals", []))))
        if "Next" in state:
            graph.edges.append(Edge(name, state["Next"], "next"))
        inner = state.get("ItemProcessor") or state.get("Iterator")
        branches = [inner] if inner else state.get("Branches", [])
        for branch in branches:
            graph.edges.append(Edge(name, branch["StartAt"], "items", "each item" if inner else "branch"))
            _add_states(graph, branch, name)


def drawn_inside(graph: Graph, parent: str) -> str:
    """What the states drawn inside a Map or Parallel are: each item's, or branches side by side."""
    kind = next(n.type for n in graph.nodes if n.name == parent)
    return "branches side by side" if kind == "Parallel" else "each item"


_OPERATORS = {"Equals": "==", "GreaterThan": ">", "GreaterThanEquals": ">=", "LessThan": "<",
              "LessThanEquals": "<=", "Matches": "matches"}


def condition(rule: dict[str, Any]) -> str:
    """A Choice rule as short text, e.g. `options.use_cache == true and cache.train.Item present`."""
    for joiner in ("And", "Or"):
        if joiner in rule:
            return f" {joiner.lower()} ".join(condition(r) for r in rule[joiner])
    if "Not" in rule:
        return f"not ({condition(rule['Not'])})"
    variable = str(rule.get("Variable", "")).removeprefix("$.")
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key in ("IsPresent", "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"):
            word = key.removeprefix("Is").lower()
            return f"{variable} {word}" if value else f"{variable} not {word}"
        operator = next((sym for op, sym in _OPERATORS.items() if key.endswith(op) or key.endswith(op + "Path")), key)
        shown = json.dumps(value) if not key.endswith("Path") else str(value)
        return f"{variable} {operator} {shown}"
    return ""


# ---------------------------------------------------------------- history -> outcomes
def colouring(graph: Graph, found: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every state of the graph -> its outcome ('not run' when the execution never entered it)."""
    return {n.name: found[n.name]["outcome"] if n.name in found else "not run" for n in graph.nodes if n.name != START}


# ---------------------------------------------------------------- Mermaid
_SHAPES = {"Choice": ('{"', '"}'), "Pass": ('(["', '"])'), "Map": ('[["', '"]]'), "Parallel": ('[["', '"]]'),
           "Succeed": ('(("', '"))'), "Fail": ('(("', '"))'), "Start": ('(("', '"))')}
_RESERVED = {"end", "graph", "subgraph", "flowchart", "class", "classdef", "style", "click", "default", "linkstyle"}


def mermaid_id(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return f"{ident}_" if ident.lower() in _RESERVED or ident[:1].isdigit() else ident


def _text(value: str) -> str:
    return value.replace('"', "#quot;")


def mermaid(graph: Graph, states: dict[str, str] | None = None, details: dict[str, str] | None = None) -> str:
    """A Mermaid flowchart: one node per state (shape by type), one arrow per transition (catches
    dashed); with `states`, one class per outcome."""
    details = details or {}
    lines = ["flowchart TD"]

    def node_line(node: Node, indent: str) -> str:
        left, right = _SHAPES.get(node.type, ('["', '"]'))
        label = "start" if node.name == START else node.name
        extra = [details[node.name]] if node.name in details else [states[node.name]] if states and node.name in states else []
        if node.retries and not states:
            extra.append("retry")
        text = "<br/>".join([_text(label)] + [f"<small>{_text(e)}</small>" for e in extra])
        return f"{indent}{mermaid_id(node.name)}{left}{text}{right}"

    parents = [n.name for n in graph.nodes if any(m.parent == n.name for m in graph.nodes)]
    for node in graph.nodes:
        if node.parent is None:
            lines.append(node_line(node, "  "))
    for parent in parents:
        lines.append(f'  subgraph {mermaid_id(parent)}_items ["{_text(parent)}: {drawn_inside(graph, parent)}"]')
        lines += [node_line(n, "    ") for n in graph.nodes if n.parent == parent]
        lines.append("  end")
    for edge in graph.edges:
        arrow = "-.->" if edge.kind in ("catch", "items") else "-->"
        label = f'|"{_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {mermaid_id(edge.source)} {arrow}{label} {mermaid_id(edge.target)}")
    if states:
        for outcome, (fill, stroke, colour) in COLOURS.items():
            members = [mermaid_id(n) for n, o in states.items() if o == outcome]
            lines.append(f"  classDef {outcome.replace(' ', '_')} fill:{fill},stroke:{stroke},color:{colour}")
            if members:
                lines.append(f"  class {','.join(members)} {outcome.replace(' ', '_')}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- PNG
def layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """Layered top-down positions: layer = longest path from the start (BFS depth if the graph has a
    cycle); within a layer, nodes ordered by the mean position of their predecessors."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(n.name for n in graph.nodes)
    g.add_edges_from((e.source, e.target) for e in graph.edges if e.source in g and e.target in g)
    layer: dict[str, int] = {}
    if nx.is_directed_acyclic_graph(g):
        for name in nx.topological_sort(g):
            layer[name] = max((layer[p] + 1 for p in g.predecessors(name)), default=0)
    else:
        for depth, names in enumerate(nx.bfs_layers(g, [START])):
            layer.update(dict.fromkeys(names, depth))
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    for name in g.nodes:  # states no path reaches go below everything else
        layer.setdefault(name, max(layer.values(), default=0) + 1)
    failure = failure_path(graph)
    positions: dict[str, tuple[float, float]] = {}
    for depth in sorted(set(layer.values())):
        names = [n for n in g.nodes if layer[n] == depth and n not in failure]

        def weight(name: str) -> tuple[float, int]:
            xs = [positions[p][0] for p in g.predecessors(name) if p in positions]
            return (sum(xs) / len(xs) if xs else 0.0, order[name])

        names.sort(key=weight)
        if len(names) == 1:  # a lone state sits under its predecessors, so edges around it stay clear
            positions[names[0]] = (weight(names[0])[0], -float(depth))
        for slot, name in enumerate(names if len(names) > 1 else []):
            positions[name] = (slot - (len(names) - 1) / 2, -float(depth))
    right = max((x for x, _ in positions.values()), default=0.0) + 1.25
    for name in failure:  # the failure path gets a column of its own, on the right
        positions[name] = (right, -float(layer[name]))
    return positions


def failure_path(graph: Graph) -> set[str]:
    """States from which the run can only fail: no path leads to a Succeed state or an End."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(n.name for n in graph.nodes)
    g.add_edges_from((e.source, e.target) for e in graph.edges)
    can_succeed: set[str] = set()
    for node in graph.nodes:
        if node.type == "Succeed" or node.end:
            can_succeed |= {node.name} | nx.ancestors(g, node.name)
    return {n.name for n in graph.nodes if n.name not in can_succeed and n.name != START}


def draw(graph: Graph, path: Path, states: dict[str, str] | None = None, title: str = "",
         details: dict[str, str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch, Rectangle

    details = details or {}
    positions = layout(graph)
    xs = [x for x, _ in positions.values()]
    depth = -min(y for _, y in positions.values())
    width_units = max(xs) - min(xs) + 1
    sx, sy, box_w, box_h = 2.7, 0.95, 2.35, 0.55
    fig, ax = plt.subplots(figsize=(max(7.0, width_units * sx * 0.95 + 1), (depth + 1) * sy * 0.62 + 1.2), dpi=110)

    def at(name: str) -> tuple[float, float]:
        x, y = positions[name]
        return x * sx, y * sy

    for parent in {n.parent for n in graph.nodes if n.parent}:
        inside = [at(n.name) for n in graph.nodes if n.parent == parent]
        left, right = min(p[0] for p in inside) - box_w / 2 - 0.15, max(p[0] for p in inside) + box_w / 2 + 0.15
        bottom, top = min(p[1] for p in inside) - box_h / 2 - 0.15, max(p[1] for p in inside) + box_h / 2 + 0.3
        ax.add_patch(Rectangle((left, bottom), right - left, top - bottom, fill=False, linestyle="--", edgecolor="#78909c"))
        ax.text(left + 0.05, top - 0.05, f"{parent}: {drawn_inside(graph, parent)}", fontsize=6.5, va="top", color="#546e7a")
    for edge in graph.edges:
        (x1, y1), (x2, y2) = at(edge.source), at(edge.target)
        catch = edge.kind == "catch"
        skips = x1 == x2 and y1 - y2 > sy * 1.5  # a straight line would run through the states between
        colour = "#c62828" if catch else "#455a64"
        start = (x1, y1 - box_h / 2) if y2 < y1 else (x1, y1)
        end = (x2, y2 + box_h / 2) if y2 < y1 else (x2, y2)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, linewidth=0.8 if catch else 1.0,
                                     color=colour, alpha=0.45 if catch else 0.9, linestyle="--" if catch or edge.kind == "items" else "-",
                                     connectionstyle=f"arc3,rad={0.25 if catch else -0.12 if skips else 0.0}", zorder=1))
        if edge.kind in ("choice", "default"):
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, "cache hit" if "cache" in edge.label and edge.kind == "choice" else _clip(edge.label, 22),
                    fontsize=5.5, color="#37474f", ha="center", va="center", zorder=3,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    for node in graph.nodes:
        x, y = at(node.name)
        outcome = (states or {}).get(node.name)
        fill, stroke, colour = COLOURS[outcome] if outcome else ("#eceff1", "#546e7a", "#1b1b1b")
        shape = {"Choice": "round4,pad=0.02", "Succeed": "round,pad=0.02,rounding_size=0.27",
                 "Fail": "round,pad=0.02,rounding_size=0.27", "Start": "circle,pad=0.02"}.get(node.type, "round,pad=0.02,rounding_size=0.08")
        if node.name == START:
            ax.add_patch(plt.Circle((x, y), 0.16, color="#263238", zorder=2))
            continue
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h, boxstyle=shape, facecolor=fill,
                                    edgecolor=stroke, linewidth=1.6 if outcome else 1.0, zorder=2))
        label = node.name + (f"\n{details[node.name]}" if node.name in details else f"\n{outcome}" if outcome else f"\n{node.type}")
        ax.text(x, y, label, ha="center", va="center", fontsize=6.8, color=colour, zorder=3)
    if states:
        ax.legend(handles=[Patch(facecolor=f, edgecolor=s, label=o) for o, (f, s, _) in COLOURS.items()],
                  loc="upper right", fontsize=7, frameon=False)
    ax.set_xlim(min(xs) * sx - box_w, max(xs) * sx + box_w)
    ax.set_ylim(-depth * sy - 0.6, 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def state_details(found: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Short text under each state that ran: outcome, attempts, seconds."""
    text = {}
    for name, entry in found.items():
        parts = [entry["outcome"]]
        if entry["attempts"] > entry["entered"]:
            parts.append(f"{entry['attempts']} attempts")
        if entry["entered"] > 1:
            parts.append(f"x{entry['entered']}")
        if isinstance(entry["first"], datetime) and isinstance(entry["last"], datetime) and entry["outcome"] != "cached":
            seconds = (entry["last"] - entry["first"]).total_seconds()
            if seconds >= 0.05:
                parts.append(f"{seconds:.1f}s")
        text[name] = ", ".join(parts)
    return text


# ---------------------------------------------------------------- command
def add_arguments(command: str, parser: Any) -> None:
    parser.add_argument("run_id", nargs="?", help="colour the states by what happened in this run's last execution")
    parser.add_argument("--out", type=Path, help="folder for retrain.mmd and retrain.png (default: the state dir's graphs/)")
    parser.set_defaults(run=_graph)


def _graph(args: argparse.Namespace) -> int:
    from retrainer import target

    location = target.Location.from_environment()
    out = args.out or location.state_dir / "graphs" / (args.run_id or "definition")
    if not args.run_id:
        written = render(json.loads(ASL.read_text()), out, "retrain")
        print(f"state machine {ASL.relative_to(ASL.parents[1])}: {written['states']} states, {written['edges']} transitions")
    else:
        from retrainer_core.ledger import Ledger
        from retrainer_core.names import execution_arn

        from retrainer import runs

        session, stack = target.session(location)
        run = Ledger(stack["outputs"]["RunLedgerTableName"]).run(args.run_id)
        if run is None or not run.get("attempts"):
            print(f"no run {args.run_id!r} in the run ledger", file=sys.stderr)
            return 2
        sfn = session.client("stepfunctions")
        state_machine = stack["outputs"]["StateMachineArn"]
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=state_machine)["definition"])
        execution = run["attempts"][-1]["execution"]
        arn = execution_arn(state_machine, execution)
        written = render(definition, out, "retrain", runs.history(sfn, arn), f"run {args.run_id} (execution {execution})")
        counts = ", ".join(f"{n} {o}" for o, n in written["outcomes"].items())
        print(f"run {args.run_id}, execution {execution}: {counts}")
    print(f"  mermaid: {written['mermaid']}\n  png:     {written['png']}")
    return 0


def render(definition: dict[str, Any], out: Path, stem: str, history: list[dict[str, Any]] | None = None,
           title: str = "") -> dict[str, Any]:
    """Write <stem>.mmd and <stem>.png under out; coloured when a history is given."""
    graph = build(definition)
    found = outcomes(history) if history is not None else None
    states = colouring(graph, found) if found is not None else None
    details = state_details(found) if found else None
    out.mkdir(parents=True, exist_ok=True)
    mmd = out / f"{stem}.mmd"
    mmd.write_text(mermaid(graph, states, details))
    png = draw(graph, out / f"{stem}.png", states, title or "retrain state machine", details)
    counts: dict[str, int] = {}
    for outcome in (states or {}).values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"mermaid": mmd, "png": png, "states": len(graph.nodes) - 1, "edges": len(graph.edges) - 1,
            "outcomes": {o: counts[o] for o in COLOURS if o in counts}}
