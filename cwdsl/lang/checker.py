"""Semantic checks of a parsed schedule against its network.

Every error names the culprit's span; all errors of a file are reported together.
Warnings (unused clocks, stages that never compute) are returned, not raised.
"""
from __future__ import annotations

import networkx as nx

from cwdsl.lang import ast
from cwdsl.core.clockmodel import load_clock_model, resolve_model
from cwdsl.core.errors import MAX_SHOWN, Diagnostic, InputError, ScheduleError, did_you_mean
from cwdsl.core.units import MAX_INPUT_SIDE
from cwdsl.core.netspec import NetworkSpec, find_network, network_names
from cwdsl.lang.clockdeps import first_cycle, stage_reads
from cwdsl.lang.printer import format_duration, print_clock


def check(schedule: ast.Schedule) -> tuple[Diagnostic, ...]:
    """Raise ``ScheduleError`` with every error found; return the warnings."""
    checker = _Checker(schedule)
    checker.run()
    if checker.errors:
        raise ScheduleError(checker.errors)
    return tuple(checker.warnings)


def computable_stages(schedule: ast.Schedule) -> tuple[str, ...]:
    """Stages that have a compute rule and whose every earlier stage has one too."""
    ruled = {r.stage.name for r in schedule.rules}
    out = []
    for stage in schedule.stages:
        if stage.name.name not in ruled:
            break
        out.append(stage.name.name)
    return tuple(out)


_OPERATORS = {ast.Or, ast.And, ast.Not}


class _Checker:
    def __init__(self, schedule: ast.Schedule):
        self.s = schedule
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.spec: NetworkSpec | None = None
        self.stages: dict[str, ast.StageDecl] = {}
        self.clocks: dict[str, ast.ClockDecl] = {}
        self.rules: dict[str, ast.ComputeRule] = {}
        # id(expr) → (the declared clocks it names, its labeldiff/predicted atoms)
        self.found: dict[int, tuple[list[str], list]] = {}
        self.label_heads: dict[str, object] = {}  # stage → the head its labels come from
        self.models: dict[tuple, object] = {}  # (model, is_path) → ClockModel or InputError

    def suggest(self, name: str, candidates) -> str:
        """``did_you_mean`` while the errors fit on screen (MAX_SHOWN): the rest are only
        counted, and a search over thousands of names for each of thousands of errors
        would take minutes."""
        return did_you_mean(name, candidates) if len(self.errors) < MAX_SHOWN else ""

    def error(self, message: str, node) -> None:
        self.errors.append(Diagnostic(message, node.span, source=self.s.source))

    def declare(self, table: dict, name: str, node, ident, clash: str) -> bool:
        """Enter ``node`` as ``table[name]`` and return True; when ``name`` is already
        there, report ``clash`` (e.g. "stage 's1' is already declared") with the line of the
        first declaration at ``ident`` and return False."""
        if name in table:
            self.error(f"{clash} on line {table[name].span.line}", ident)
            return False
        table[name] = node
        return True

    def warn(self, message: str, node) -> None:
        self.warnings.append(Diagnostic(message, node.span, "warning", source=self.s.source))

    def run(self) -> None:
        self.check_network()
        self.check_stages()
        self.check_clock_decls()
        self.check_rules()
        self.check_output()
        if not self.errors:
            self.check_cycles()

    # -- network and stages ---------------------------------------------------------
    def check_network(self) -> None:
        net = self.s.network
        self.spec = find_network(net.name.name)
        if self.spec is None:
            self.error(f"unknown network '{net.name.name}' (known: {', '.join(network_names())})"
                       f"{did_you_mean(net.name.name, network_names())}", net.name)
        if net.input is not None and (net.input.height < 1 or net.input.width < 1):
            self.error("input size must be at least 1x1", net.input)
        elif net.input is not None and max(net.input.hw) > MAX_INPUT_SIDE:
            self.error(f"input size {net.input.height}x{net.input.width} is larger than "
                       f"{MAX_INPUT_SIDE} pixels a side", net.input)
        if net.deadline is not None:
            self.check_duration(net.deadline, "the deadline")

    def check_duration(self, duration: ast.Duration, what: str) -> None:
        """A deadline is above 0 and at most :data:`ast.MAX_DEADLINE_MS`."""
        if not duration.ms > 0:
            self.error(f"{what} must be longer than 0ms, got {format_duration(duration)}", duration)
        elif duration.ms > ast.MAX_DEADLINE_MS:
            self.error(f"{what} {format_duration(duration)} is longer than an hour "
                       f"({ast.MAX_DEADLINE_MS:g}ms); give the deadline of one frame",
                       duration)

    def layer(self, ident: ast.Ident) -> int | None:
        names = self.spec.layer_names
        if ident.name in names:
            return names.index(ident.name)
        self.error(f"unknown layer '{ident.name}' in network {self.spec.name}"
                   f"{did_you_mean(ident.name, names)}", ident)
        return None

    def check_stages(self) -> None:
        if not self.s.stages:
            self.error("no stages declared; add e.g. 'stage s1 = conv1_1 .. fc7 head score_fr'",
                       self.s.network)
        owner_of_head: dict[str, str] = {}
        previous: tuple[ast.StageDecl, int, int] | None = None
        for stage in self.s.stages:
            name = stage.name.name
            if not self.declare(self.stages, name, stage, stage.name,
                                f"stage '{name}' is already declared"):
                continue
            if self.spec is None:
                continue
            first, last = self.layer(stage.first), self.layer(stage.last)
            if first is None or last is None:
                previous = None
                continue
            if first > last:
                self.error(f"stage '{name}' runs backwards: '{stage.last.name}' comes before "
                           f"'{stage.first.name}' in {self.spec.name}", stage.last)
                previous = None
                continue
            self.check_heads(stage, first, last, owner_of_head)
            self.check_tiling(stage, first, previous)
            previous = (stage, first, last)

    def check_heads(self, stage, first, last, owner_of_head) -> None:
        names = self.spec.layer_names
        for head in stage.heads:
            spec_head = self.spec.head(head.name)
            if spec_head is None:
                known = [h.name for h in self.spec.heads]
                self.error(f"unknown score head '{head.name}' in network {self.spec.name} "
                           f"(heads: {', '.join(known)}){did_you_mean(head.name, known)}", head)
                continue
            if head.name in owner_of_head:
                self.error(f"head '{head.name}' already belongs to stage "
                           f"'{owner_of_head[head.name]}'", head)
                continue
            owner_of_head[head.name] = stage.name.name
            if not first <= names.index(spec_head.reads) <= last:
                self.error(f"head '{head.name}' reads '{spec_head.reads}', which is not in "
                           f"stage '{stage.name.name}' ({stage.first.name} .. {stage.last.name})",
                           head)

    def check_tiling(self, stage, first, previous) -> None:
        names = self.spec.layer_names
        if previous is None:
            if stage is self.s.stages[0] and first != 0:
                self.error(f"the first stage must start at the network's first layer "
                           f"'{names[0]}'", stage.first)
            return
        prev, prev_first, prev_last = previous
        if first == prev_last + 1:
            return
        if first > prev_last + 1:
            self.error(f"gap between stages '{prev.name.name}' and '{stage.name.name}': layers "
                       f"{names[prev_last + 1]} .. {names[first - 1]} belong to no stage",
                       stage.first)
        elif first <= prev_first:
            self.error(f"stages out of order: '{stage.name.name}' starts at '{names[first]}', "
                       f"before '{prev.name.name}' (declared above it) starts", stage.first)
        else:
            self.error(f"stage '{stage.name.name}' overlaps '{prev.name.name}': layers "
                       f"{names[first]} .. {names[prev_last]} are in both", stage.first)

    # -- clocks -----------------------------------------------------------------------
    def check_clock_decls(self) -> None:
        for decl in self.s.clocks:
            name = decl.name.name
            self.declare(self.clocks, name, decl, decl.name, f"clock '{name}' is already declared")
        used: set[str] = set()
        graph: dict[str, list[str]] = {}  # clock → the declared clocks it reads
        for name, decl in self.clocks.items():
            graph[name] = self.check_expr(decl.expr, used, name)
        for rule in self.s.rules:
            self.check_expr(rule.clock, used)
        for name, decl in self.clocks.items():
            if name not in used:
                self.warn(f"clock '{name}' is declared but never used", decl.name)
        cycle = first_cycle(graph)
        if cycle:
            first = min(cycle, key=lambda n: (self.clocks[n].span.line, self.clocks[n].span.column))
            i = cycle.index(first)
            path = " → ".join(cycle[i:] + cycle[:i] + [first])
            self.error(f"clock '{first}' is defined in terms of itself ({path})",
                       self.clocks[first].name)

    def check_expr(self, expr: ast.ClockExpr, used: set[str], named: str | None = None):
        """Check every node of ``expr`` (of clock ``named``, or a rule's); return the declared
        clocks it reads (into ``used`` too); keep its labeldiff/predicted atoms for rules."""
        reads: list[str] = []
        atoms: list = []
        self.found.setdefault(id(expr), (reads, atoms))  # an AST made in code may share one
        for node in ast.walk_clock(expr):
            if type(node) in _OPERATORS:
                continue  # nothing to check but their operands
            match node:
                case ast.Const(value) if value not in (0, 1):
                    self.error(f"a constant clock is 0 or 1, got {value}", node)
                case ast.Every(period, phase):
                    if period < 1:
                        self.error(f"period must be at least 1, got {period}", node)
                    elif not 0 <= phase < period:
                        self.error(f"phase must be in 0 .. {period - 1} for period {period}, "
                                   f"got {phase}", node)
                case ast.LabelDiff() | ast.PixelDiff() | ast.Predicted():
                    if not 0.0 <= node.theta <= 1.0:
                        self.error(f"threshold θ must be in [0, 1], got {node.theta:g}", node)
                    if isinstance(node, ast.STAGE_ATOMS):
                        atoms.append(node)
                        self.check_labeldiff(node)
                    if isinstance(node, ast.Predicted):
                        self.check_model(node)
                case ast.Fits(deadline):
                    if named is not None:
                        self.error(f"'{print_clock(node)}' is decided for the stage it gates: "
                                   f"write it in the clock of that stage's compute rule "
                                   f"(compute STAGE when {named} and {print_clock(node)}), "
                                   f"not in clock '{named}'", node)
                    if deadline is not None:
                        self.check_duration(deadline, "the deadline of fits")
                case ast.ClockRef(name):
                    if name.name in self.clocks:
                        used.add(name.name)
                        reads.append(name.name)
                    else:
                        self.error(f"undefined clock '{name.name}'"
                                   f"{self.suggest(name.name, self.clocks)}", name)
        return reads

    def check_labeldiff(self, node: ast.LabelDiff | ast.Predicted) -> None:
        """The stage exists, the region is one of ``ast.REGIONS``, and the head it compares
        (the stage's deepest) gives class scores: argmax labels of features mean nothing.
        A ``predicted`` atom reads the same labels."""
        name = node.stage.name
        word = "labeldiff" if isinstance(node, ast.LabelDiff) else "predicted"
        if isinstance(node, ast.LabelDiff) and node.region not in ast.REGIONS:  # the parser admits no other; an AST made in code
            self.error(f"labeldiff region must be {' or '.join(ast.REGIONS)}, got "
                       f"'{node.region}'{did_you_mean(node.region, ast.REGIONS)}", node)
        if name not in self.stages:
            self.error(f"{word} reads unknown stage '{name}'"
                       f"{self.suggest(name, self.stages)}", node.stage)
            return
        if self.spec is None:
            return
        if name not in self.label_heads:  # once per stage, however many atoms read it
            heads = [h.name for h in self.stages[name].heads
                     if self.spec.head(h.name) is not None]
            self.label_heads[name] = self.spec.head(self.spec.deepest_head(heads)) \
                if heads else None
        head = self.label_heads[name]
        if head is None:
            return
        if head.kind != "scores":
            self.error(f"{word} compares class labels (the argmax of a stage's deepest "
                       f"head), but the deepest head of stage '{name}', '{head.name}', gives "
                       f"{head.kind}, not class scores", node.stage)

    def check_model(self, node: ast.Predicted) -> None:
        """The clock model file loads, and was trained for this network and the head the
        atom reads (its signals are that head's label changes)."""
        source = self.s.source.path if self.s.source else None
        key = (node.model.name, node.model.is_path)
        if key not in self.models:  # once per model, however many atoms apply it
            try:
                self.models[key] = load_clock_model(resolve_model(*key, source))
            except InputError as e:
                self.models[key] = e
        model = self.models[key]
        if isinstance(model, InputError):
            d = model.diagnostics[0]
            self.error(f"clock model {d.source.path}: {d.message}" if d.source is not None
                       else d.message, node.model)
            return
        if self.spec is None or node.stage.name not in self.stages:
            return
        if model.network != self.spec.name:
            self.error(f"clock model {node.model.name} was trained for network "
                       f"{model.network}, not {self.spec.name}; fit one with cwdsl train-clock "
                       f"--net {self.spec.name}", node.model)
            return
        heads = [h.name for h in self.stages[node.stage.name].heads
                 if self.spec.head(h.name) is not None]
        if heads and self.spec.deepest_head(heads) != model.head:
            self.error(f"clock model {node.model.name} reads head {model.head}'s label "
                       f"changes, but stage '{node.stage.name}' ends in head "
                       f"{self.spec.deepest_head(heads)}", node.stage)

    # -- rules and output ---------------------------------------------------------------
    def check_rules(self) -> None:
        for rule in self.s.rules:
            name = rule.stage.name
            if name not in self.stages:
                self.error(f"compute rule for unknown stage '{name}'"
                           f"{self.suggest(name, self.stages)}", rule.stage)
                continue
            if not self.declare(self.rules, name, rule, rule.stage,
                                f"stage '{name}' already has a compute rule"):
                continue
            if rule.otherwise is not None and rule.otherwise not in ast.COUNTERS:
                self.error(f"a stage's counter-clock action is {' or '.join(ast.COUNTERS)}, "
                           f"got '{rule.otherwise}'", rule)  # an AST made in code
            if rule.flow is not None and rule.flow.name not in ast.FLOW_METHODS:
                self.error(f"unknown flow method '{rule.flow.name}' (known: "
                           f"{', '.join(ast.FLOW_METHODS)})"
                           f"{did_you_mean(rule.flow.name, ast.FLOW_METHODS)}", rule.flow)
            if rule.delay < 0:
                self.error(f"delay must be 0 or more, got {rule.delay}", rule)
            elif rule.delay and self.s.stages and self.s.stages[0].name.name == name:
                self.error(f"the first stage '{name}' reads the input frame and cannot be "
                           f"delayed", rule)
        self.check_idle_counters()
        order = [s.name.name for s in self.s.stages]
        computable = set(computable_stages(self.s))
        blocker = None  # the first stage without a rule: no later stage is computed
        for i, name in enumerate(order):
            if blocker is None and name not in self.rules:
                blocker = name
            if name in self.rules and name not in computable:
                self.error(f"stage '{name}' reads the features of '{blocker}', which has no "
                           f"compute rule and is never computed", self.rules[name].stage)
            elif name not in self.rules and self.stages[name] is self.s.stages[i]:
                self.warn(f"stage '{name}' has no compute rule and is never computed",
                          self.stages[name].name)
        for expr in [d.expr for d in self.clocks.values()] + [r.clock for r in self.rules.values()]:
            for node in self.found[id(expr)][1]:
                if node.stage.name in self.stages and node.stage.name not in computable:
                    self.error(f"{'labeldiff' if isinstance(node, ast.LabelDiff) else 'predicted'} reads stage '{node.stage.name}', which is never "
                               f"computed", node.stage)

    def check_idle_counters(self) -> None:
        """Warn of ``else cache``/``else warp`` on a stage whose clock always fires."""
        exprs = {name: decl.expr for name, decl in self.clocks.items()}
        known: dict = {}  # named clocks' constant values, found once for every rule
        for rule in self.rules.values():
            if rule.otherwise is not None and ast.always_fires(rule.clock, exprs, known):
                self.warnings.append(Diagnostic(
                    f"stage '{rule.stage.name}' computes on every frame (its clock always fires), "
                    f"so 'else {rule.otherwise}' never acts", rule.counter_span or rule.span,
                    "warning", source=self.s.source))

    def check_output(self) -> None:
        computable = set(computable_stages(self.s))
        seen: set[str] = set()
        for ident in self.s.output.stages:
            if ident.name in seen:
                self.error(f"output names stage '{ident.name}' twice", ident)
            elif ident.name not in self.stages:
                self.error(f"output names unknown stage '{ident.name}'"
                           f"{self.suggest(ident.name, self.stages)}", ident)
            elif ident.name not in computable:
                self.error(f"output fuses stage '{ident.name}', which is never computed "
                           f"(it or an earlier stage has no compute rule)", ident)
            seen.add(ident.name)

    def check_cycles(self) -> None:
        """A clock may not read, within the same frame, the stage it gates."""
        graph = nx.DiGraph()
        order = [s.name.name for s in self.s.stages]
        for prev, stage in zip(order, order[1:]):
            rule = self.rules.get(stage)
            if rule is not None and rule.delay == 0:
                graph.add_edge(prev, stage)
        reads = {stage: stage_reads(rule.clock, self.found, self.clocks)
                 for stage, rule in self.rules.items()}
        for stage, read_stages in reads.items():
            for read in read_stages:
                graph.add_edge(read, stage)
        for stage in order:
            rule = self.rules.get(stage)
            if rule is None:
                continue
            for read in sorted(reads[stage]):
                if not nx.has_path(graph, stage, read):
                    continue
                path = " → ".join(nx.shortest_path(graph, stage, read) + [stage]) \
                    if read != stage else f"{stage} → {stage}"
                self.error(f"the clock of '{stage}' reads a stage that needs '{stage}' on the "
                           f"same frame ({path}): a clock cannot depend on the stage it gates "
                           f"(a delay on the path would break the cycle)", rule.clock)
                return
