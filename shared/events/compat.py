"""The v1 compatibility guard: what a model change would break for v1 readers and writers.

Both directions count. A v1 consumer reads what today's producers write: a removed, renamed or
retyped field, a field that became optional or nullable, or a new enum value breaks it. Today's
code reads v1 logs and replays: a new required field, a removed enum value or a tightened
constraint breaks that. Adding an optional field (with a default) breaks neither and is the
one change v1 allows (`../CONTRACT.md`). Both arguments have the shape of
`schema.contract_snapshot()`.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# Keywords whose value must stay the same: any change rejects someone's messages.
_CONSTRAINTS = (
    "const",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
)


def breaking_changes(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every change from `baseline` to `current` that breaks v1; empty when compatible."""
    problems: list[str] = []
    old_events, new_events = baseline["events"], current["events"]
    for name, old in old_events.items():
        new = new_events.get(name)
        if new is None:
            problems.append(f"{name}: event type removed")
            continue
        for what in ("topic", "key"):
            if old[what] != new[what]:
                problems.append(f"{name}: {what} changed from {old[what]!r} to {new[what]!r}")
        _Comparison(name, old["schema"], new["schema"], problems).compare(
            old["schema"], new["schema"], ""
        )
    return problems


class _Comparison:
    def __init__(self, event: str, old_root: Schema, new_root: Schema, out: list[str]) -> None:
        self.event = event
        self.old_defs = old_root.get("$defs", {})
        self.new_defs = new_root.get("$defs", {})
        self.out = out

    def report(self, path: str, what: str) -> None:
        self.out.append(f"{self.event}: {path or 'envelope'}: {what}")

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        old, new = _resolve(old, self.old_defs), _resolve(new, self.new_defs)
        old_variants, new_variants = _variants(old, self.old_defs), _variants(new, self.new_defs)
        old_kinds = [_kind(v) for v in old_variants]
        new_kinds = [_kind(v) for v in new_variants]
        if sorted(old_kinds) != sorted(new_kinds):
            self.report(path, f"type changed from {_show(old_kinds)} to {_show(new_kinds)}")
            return
        if len(old_variants) > 1:
            for a in old_variants:
                b = new_variants[new_kinds.index(_kind(a))]
                self.compare(a, b, path)
            return
        self._compare_single(old, new, path)

    def _compare_single(self, old: Schema, new: Schema, path: str) -> None:
        for keyword in _CONSTRAINTS:
            if old.get(keyword) != new.get(keyword):
                self.report(
                    path, f"{keyword} changed from {old.get(keyword)!r} to {new.get(keyword)!r}"
                )
        if "enum" in old or "enum" in new:
            self._compare_enum(old.get("enum", []), new.get("enum", []), path)
        if old.get("type") == "object":
            self._compare_object(old, new, path)
        if old.get("type") == "array":
            if "items" in old or "items" in new:
                self.compare(old.get("items", {}), new.get("items", {}), f"{path}[]")
            for i, (a, b) in enumerate(
                zip(old.get("prefixItems", []), new.get("prefixItems", []), strict=False)
            ):
                self.compare(a, b, f"{path}[{i}]")

    def _compare_enum(self, old: list[Any], new: list[Any], path: str) -> None:
        if not old or not new:
            change = f"restricted to {new}" if new else f"no longer restricted to {old}"
            self.report(path, change)
            return
        removed = [v for v in old if v not in new]
        added = [v for v in new if v not in old]
        if removed:
            self.report(path, f"enum values removed: {removed} (v1 logs hold them)")
        if added:
            self.report(path, f"enum values added: {added} (v1 consumers reject them)")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        removed = [f for f in old_props if f not in new_props]
        added = [f for f in new_props if f not in old_props]
        for field in removed:
            hint = f" (renamed to {added[0]!r}?)" if len(removed) == 1 and len(added) == 1 else ""
            self.report(_join(path, field), f"field removed{hint}")
        for field in added:
            if field in new_required:
                self.report(_join(path, field), "new required field (v1 messages lack it)")
        for field in old_props:
            if field not in new_props:
                continue
            where = _join(path, field)
            if field in old_required and field not in new_required:
                self.report(where, "no longer required (v1 consumers rely on it)")
            if field not in old_required and field in new_required:
                self.report(where, "became required (v1 messages may lack it)")
            if field not in old_required and field not in new_required:
                a, b = old_props[field].get("default"), new_props[field].get("default")
                if a != b:
                    self.report(where, f"default changed from {a!r} to {b!r}")
            self.compare(old_props[field], new_props[field], where)
        self._compare_open_object(old, new, path)

    def _compare_open_object(self, old: Schema, new: Schema, path: str) -> None:
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if new_extra is False and old_extra is not False:
            self.report(path, "unknown fields now rejected (v1 allows adding optional fields)")
        if isinstance(old_extra, dict):
            if isinstance(new_extra, dict):
                self.compare(old_extra, new_extra, f"{path}[*]")
            else:
                self.report(path, "map values changed to a fixed set of fields")
        if isinstance(old.get("propertyNames"), dict) or isinstance(new.get("propertyNames"), dict):
            self.compare(old.get("propertyNames", {}), new.get("propertyNames", {}), f"{path}{{}}")


def _resolve(node: Schema, defs: Schema) -> Schema:
    """Inline `$ref` (and single-element `allOf`) so nested models compare by structure: a
    renamed nested model class is not a change on the wire."""
    seen = set()
    while True:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen:  # a recursive model: stop here, compare by name
                return node
            seen.add(name)
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = {**defs[name], **rest}
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            node = {**node["allOf"][0], **rest}
        else:
            return node


def _variants(node: Schema, defs: Schema) -> list[Schema]:
    for keyword in ("anyOf", "oneOf"):
        if keyword in node:
            return [_resolve(v, defs) for v in node[keyword]]
    return [node]


def _kind(node: Schema) -> str:
    if "type" in node:
        return str(node["type"])
    if "const" in node:
        return f"const {node['const']!r}"
    if "enum" in node:
        return "enum"
    return "any"


def _show(kinds: list[str]) -> str:
    return " | ".join(kinds)


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field
