"""Steps that decide and reshape the flow: conditions, filters, splitting, grouping and expressions."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field

from .. import expressions, paths, placeholders
from ..chain import RunState, run_steps
from ..errors import SkipEntity, StepFailure
from ..limits import json_size
from ..registry import Step, StepParams, register_step
from ._helpers import check_expression, check_path, check_template, delete_concrete

__all__ = ["ConditionalStep", "ExpressionStep", "FilterStep", "MergeStep", "SplitStep"]


class ConditionalParams(StepParams):
    condition: str = Field(description="A JMESPath expression, e.g. Status == `12` or length(Lines) > `0`.")
    then: list[dict[str, Any]] = Field(default_factory=list, description="Steps to run when it holds.")
    else_: list[dict[str, Any]] = Field(
        default_factory=list, alias="else", description="Steps to run otherwise."
    )


@register_step
class ConditionalStep(Step):
    type = "conditional"
    label = "Conditional"
    help = "If an expression holds, run the nested Then steps, else the Else steps."
    category = "Flow"
    Params = ConditionalParams
    widgets: ClassVar[dict[str, str]] = {"condition": "expression", "then": "steps", "else": "steps"}
    nested = ("then", "else_")
    params: ConditionalParams

    @classmethod
    def check(cls, params: ConditionalParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_expression(problems, "condition", params.condition)
        return problems

    def prepare(self) -> None:
        self.condition = expressions.compile_expression(self.params.condition)

    def run_list(self, entities: list[Any], run: RunState) -> list[Any]:
        out: list[Any] = []
        held = 0
        run.depth += 1
        try:
            for entity in entities:
                holds = expressions.truthy(expressions.evaluate(self.condition, entity))
                branch = self.children.get("then" if holds else "else_", [])
                made = run_steps(branch, [entity], run) if branch else [entity]
                size = json_size(made) if branch else 0
                run.hold(self, len(made), size)  # the next entity's branch is checked with these
                held += size
                out.extend(made)
        finally:
            run.depth -= 1
        run.release(len(out), held)
        return out

    def summary(self) -> str:
        return f"if {self.params.condition}"


class FilterParams(StepParams):
    condition: str = Field(description="A JMESPath expression evaluated on the entity.")
    action: Literal["keep", "skip"] = Field(
        default="keep", description="keep: only entities where it holds go on; skip: those where it holds stop."
    )
    reason: str = Field(default="", description="Shown on the skipped task; placeholders allowed.")


@register_step
class FilterStep(Step):
    type = "filter"
    grows = False
    label = "Filter / skip entity"
    help = "Let an entity through or skip it, with a reason that shows on the task."
    category = "Flow"
    Params = FilterParams
    widgets: ClassVar[dict[str, str]] = {"condition": "expression", "reason": "template"}
    params: FilterParams

    @classmethod
    def check(cls, params: FilterParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_expression(problems, "condition", params.condition)
        check_template(problems, "reason", params.reason)
        return problems

    def prepare(self) -> None:
        self.condition = expressions.compile_expression(self.params.condition)
        self.keep_when = self.params.action == "keep"

    def apply(self, entity: Any, run: RunState) -> Any:
        holds = expressions.truthy(expressions.evaluate(self.condition, entity))
        if holds == self.keep_when:
            return entity
        if self.params.reason:
            reason = placeholders.render(self.params.reason, entity)
            raise SkipEntity(reason if isinstance(reason, str) else placeholders.as_text(reason))
        verb = "did not hold" if self.keep_when else "held"
        raise SkipEntity(f"step {self.location} (filter): {self.params.condition} {verb}")

    def summary(self) -> str:
        return f"{self.params.action} if {self.params.condition}"


class SplitParams(StepParams):
    path: str = Field(description="The list to split on, e.g. SalesOrderLines.results.")
    parent_fields: dict[str, str] = Field(
        default_factory=dict, description='Copy parent values into each branch: {"key in branch": "parent path"}.'
    )
    parent_key: str = Field(default="", description="Put the whole parent (without the list) under this key.")
    when_empty: Literal["skip", "keep"] = Field(
        default="skip", description="With no items: skip the entity, or pass it on unchanged."
    )


@register_step
class SplitStep(Step):
    type = "split"
    advanced = ("parent_key", "when_empty")
    label = "Get branches"
    help = "Split one entity into many, one per item of a list (e.g. one per order line)."
    category = "Flow"
    Params = SplitParams
    widgets: ClassVar[dict[str, str]] = {"path": "path"}
    params: SplitParams

    @classmethod
    def check(cls, params: SplitParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_path(problems, "path", params.path, allow_root=False)
        for key, source in params.parent_fields.items():
            if not key:
                problems.append(("parent_fields", "a branch key is empty"))
            check_path(problems, "parent_fields", source, allow_root=False)
        return problems

    def prepare(self) -> None:
        self.path = paths.parse(self.params.path)
        self.parent_paths = {key: paths.parse(source) for key, source in self.params.parent_fields.items()}

    def run_list(self, entities: list[Any], run: RunState) -> list[Any]:
        out: list[Any] = []
        held = 0
        for entity in entities:
            items: list[Any] = []
            for _concrete, found in paths.find(entity, self.path):
                if isinstance(found, list):
                    items.extend(found)
                elif paths.has_wildcard(self.path):
                    items.append(found)
                elif found is not None:
                    raise StepFailure(self.params.path, f"expected a list, found a {paths.type_name(found)}")
            if not items:
                if self.params.when_empty == "keep":
                    run.hold(self, 1, 0)
                    out.append(entity)
                else:
                    run.skipped.append(f"step {self.location} (split): no items at {self.params.path}")
                continue
            parent: Any = None
            if self.params.parent_key:
                parent = paths.clone(entity)
                if not paths.has_wildcard(self.path):
                    delete_concrete(parent, self.path)
            parent_size = json_size(parent) if parent is not None else 0
            for number, item in enumerate(items):
                if self.parent_paths or parent is not None:
                    if not isinstance(item, dict):
                        where = f"{self.params.path}.{number}"
                        raise StepFailure(where, f"cannot add parent fields to a {paths.type_name(item)}")
                    values = {key: paths.get(entity, path) for key, path in self.parent_paths.items()}
                    # Each branch gets copies: charge them before copying, so a huge parent stops early.
                    size = parent_size + sum(json_size(v) for v in values.values() if v is not paths.MISSING)
                    run.hold(self, 1, size)
                    held += size
                    branch = dict(item)
                    for key, value in values.items():
                        branch[key] = None if value is paths.MISSING else paths.clone(value)
                    if parent is not None:
                        branch[self.params.parent_key] = paths.clone(parent)
                    out.append(branch)
                else:
                    run.hold(self, 1, 0)  # the items themselves are not copied
                    out.append(item)
        run.release(len(out), held)
        return out

    def summary(self) -> str:
        return f"one per {self.params.path}"


class MergeParams(StepParams):
    path: str = Field(
        default="", description="A list inside each entity to group; empty groups the entities of this run."
    )
    group_by: str = Field(default="", description="Path inside each item to group on; empty makes one group.")
    mode: Literal["collect", "merge"] = Field(
        default="merge", description="merge: combine each group's objects (later wins); collect: list them."
    )
    into: str = Field(default="items", description="collect: the key that holds the group's items.")
    sum: list[str] = Field(default_factory=list, description="merge: keys to add up across the group, one per line.")


@register_step
class MergeStep(Step):
    type = "merge"
    grows = False
    advanced = ("into",)
    label = "Merge / group"
    help = "Group entities (or the items of a list) by a key, merging or collecting each group."
    category = "Flow"
    Params = MergeParams
    widgets: ClassVar[dict[str, str]] = {"path": "path", "group_by": "path"}
    params: MergeParams

    @classmethod
    def check(cls, params: MergeParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_path(problems, "path", params.path, allow_wildcard=False)
        check_path(problems, "group_by", params.group_by, allow_wildcard=False)
        if params.mode == "collect" and not params.into:
            problems.append(("into", "collect needs a key to put the items under"))
        return problems

    def prepare(self) -> None:
        self.path = paths.parse(self.params.path)
        self.group_by = paths.parse(self.params.group_by)

    def _group(self, items: list[Any], where: str) -> list[Any]:
        groups: dict[str, list[Any]] = {}
        keys: dict[str, Any] = {}
        for number, item in enumerate(items):
            if not isinstance(item, dict):
                raise StepFailure(f"{where}{number}", f"can only group objects, found a {paths.type_name(item)}")
            value = paths.get(item, self.group_by) if self.group_by else None
            value = None if value is paths.MISSING else value
            key = expressions_key(value)
            groups.setdefault(key, []).append(item)
            keys.setdefault(key, value)
        out: list[Any] = []
        for key, members in groups.items():
            if self.params.mode == "collect":
                group: dict[str, Any] = {}
                if self.group_by:
                    group[self.params.group_by.rsplit(".", 1)[-1]] = keys[key]
                group[self.params.into] = members
                out.append(group)
                continue
            merged: dict[str, Any] = {}
            for member in members:
                merged.update(member)
            for name in self.params.sum:
                total: int | float = 0
                for number, member in enumerate(members):
                    value = member.get(name)
                    if value is None:
                        continue
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise StepFailure(f"{where}{number}.{name}", f"cannot add up a {paths.type_name(value)}")
                    total += value
                merged[name] = total
            out.append(merged)
        return out

    def run_list(self, entities: list[Any], run: RunState) -> list[Any]:
        if not self.path:
            return self._group(entities, "")
        for entity in entities:
            items = paths.get(entity, self.path)
            if items is paths.MISSING or items is None:
                continue
            if not isinstance(items, list):
                raise StepFailure(self.params.path, f"expected a list, found a {paths.type_name(items)}")
            paths.assign(entity, self.path, self._group(items, f"{self.params.path}."))
        return entities

    def summary(self) -> str:
        by = f" by {self.params.group_by}" if self.params.group_by else ""
        return f"{self.params.mode} {self.params.path or 'entities'}{by}"


def expressions_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class ExpressionParams(StepParams):
    expression: str = Field(description="JMESPath, e.g. {code: Code, lines: Lines[].{item: Item, qty: Quantity}}.")
    target: str = Field(default="", description="Where to put the result; empty replaces the entity.")


@register_step
class ExpressionStep(Step):
    type = "expression"
    label = "Expression"
    help = "Reshape with a JMESPath expression (sandboxed; no code is run)."
    category = "Flow"
    Params = ExpressionParams
    widgets: ClassVar[dict[str, str]] = {"expression": "expression", "target": "path"}
    params: ExpressionParams

    @classmethod
    def check(cls, params: ExpressionParams) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        check_expression(problems, "expression", params.expression)
        check_path(problems, "target", params.target)
        return problems

    def prepare(self) -> None:
        self.expression = expressions.compile_expression(self.params.expression)
        self.target = paths.parse(self.params.target)

    def apply(self, entity: Any, run: RunState) -> Any:
        result = expressions.evaluate(self.expression, entity)
        if result is entity:
            return entity
        return paths.assign(entity, self.target, paths.clone(result))

    def summary(self) -> str:
        return self.params.expression[:60]
