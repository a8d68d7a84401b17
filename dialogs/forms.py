"""Form definitions (`policies/forms/<scheme>.yaml`) and the one `transitions` machine per form.

A form is an ordered list of steps. Each step fills one slot (dotted path into the slots dict),
may be skipped by a `when` condition, and may route elsewhere with `next` branches. The machine
has one state per step plus the event `advance` (first passing branch wins, then the next step in
order whose `when` holds) and `goto_<step>` from anywhere (上一步, 修改…, 重新开始).

The machine is built ONCE per form with `model=None`; a guardian's `FormModel` is only handed to
`machine.events[...].trigger(model)` for the duration of one message, so nothing per-user is ever
registered on the shared machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transitions import Machine, MachineError

from bot.yamlio import load_yaml

ID_DERIVED_TYPES = ("身份证", "户口簿")


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass
class Step:
    id: str
    type: str
    slot: str = ""
    label: str = ""
    prompt: str = ""
    options: list[Option] = field(default_factory=list)
    when: Any = None
    next: list[dict[str, Any]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    compute: list[str] = field(default_factory=list)
    clears: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.type == "end"

    @property
    def editable(self) -> bool:
        return bool(self.slot) and self.type not in ("end", "confirm", "consent", "ack", "derived_confirm")


@dataclass
class FormSpec:
    scheme: str
    title: str
    steps: list[Step]
    summary: list[dict[str, Any]]
    settings: dict[str, Any]
    messages: dict[str, Any]  # a text, or a list of {text, when} parts kept where their `when` holds

    def message(self, key: str, slots: dict[str, Any]) -> str:
        """The message template `key` for these slots (placeholders not yet filled)."""
        raw = self.messages.get(key, "")
        if isinstance(raw, list):
            return "\n".join(str(p["text"]).strip() for p in raw if holds(p.get("when"), slots))
        return raw

    def step(self, step_id: str) -> Step:
        return self._by_id[step_id]

    def __post_init__(self) -> None:
        self._by_id = {s.id: s for s in self.steps}

    @property
    def first(self) -> str:
        return self.steps[0].id

    def has(self, step_id: str) -> bool:
        return step_id in self._by_id


def _option(raw: Any) -> Option:
    if isinstance(raw, dict):
        value = str(raw["value"])
        return Option(value=value, label=str(raw.get("label", value)), aliases=tuple(raw.get("aliases", ())))
    return Option(value=str(raw), label=str(raw))


_STEP_KEYS = {"id", "type", "slot", "label", "prompt", "options", "when", "next", "checks", "compute", "clears",
              "aliases"}


def load_form(path: Path) -> FormSpec:
    raw = load_yaml(path)
    steps = []
    for item in raw["steps"]:
        steps.append(Step(
            id=item["id"], type=item["type"], slot=item.get("slot", ""), label=item.get("label", ""),
            prompt=str(item.get("prompt", "")).strip(), options=[_option(o) for o in item.get("options", [])],
            when=item.get("when"), next=list(item.get("next", [])), checks=list(item.get("checks", [])),
            compute=list(item.get("compute", [])), clears=list(item.get("clears", [])),
            aliases=list(item.get("aliases", [])),
            params={k: v for k, v in item.items() if k not in _STEP_KEYS},
        ))
    spec = FormSpec(scheme=raw["scheme"], title=raw.get("title", raw["scheme"]), steps=steps,
                    summary=list(raw.get("summary", [])), settings=dict(raw.get("settings", {})),
                    messages={k: v if isinstance(v, list) else str(v).strip()
                              for k, v in (raw.get("messages") or {}).items()})
    _check_references(spec)
    return spec


def _check_references(spec: FormSpec) -> None:
    ids = [s.id for s in spec.steps]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{spec.scheme}: duplicate step ids")
    for step in spec.steps:
        for branch in step.next:
            if branch["to"] not in ids:
                raise ValueError(f"{spec.scheme}: step {step.id} routes to unknown step {branch['to']}")


def load_forms(forms_dir: Path) -> dict[str, FormSpec]:
    forms: dict[str, FormSpec] = {}
    for path in sorted(Path(forms_dir).glob("*.yaml")):
        spec = load_form(path)
        forms[spec.scheme] = spec
    return forms


# ---- slots and conditions ---------------------------------------------------------------------

def copy_json(data: Any) -> Any:
    """A deep copy of JSON-like session data (dicts, lists, immutable scalars): what copy.deepcopy gives
    for it at a third of the cost — the form is copied several times per message."""
    kind = type(data)
    if kind is dict:
        return {key: copy_json(value) if type(value) in (dict, list) else value for key, value in data.items()}
    if kind is list:
        return [copy_json(item) if type(item) in (dict, list) else item for item in data]
    return data


def get_slot(slots: dict[str, Any], path: str) -> Any:
    node: Any = slots
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def set_slot(slots: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = slots
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def holds(condition: Any, slots: dict[str, Any]) -> bool:
    """Evaluate a YAML condition: {slot, equals|in|not_in|filled}, {all: [...]}, {any: [...]}, {not: c}."""
    if condition is None:
        return True
    if isinstance(condition, list):
        return all(holds(c, slots) for c in condition)
    if "all" in condition:
        return all(holds(c, slots) for c in condition["all"])
    if "any" in condition:
        return any(holds(c, slots) for c in condition["any"])
    if "not" in condition:
        return not holds(condition["not"], slots)
    value = get_slot(slots, condition["slot"])
    if "equals" in condition:
        return value == condition["equals"]
    if "in" in condition:
        return value in condition["in"]
    if "not_in" in condition:
        return value not in condition["not_in"]
    if "filled" in condition:
        return (value not in (None, "", [], {})) == bool(condition["filled"])
    raise ValueError(f"unknown condition {condition!r}")


# ---- the per-guardian model and the shared machine ----------------------------------------------

class FormModel:
    """A guardian's position in one form. Lives for one message; persisted as `to_dict()`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.state: str = data["state"]
        self.slots: dict[str, Any] = copy_json(data.get("slots") or {})


class FormMachine:
    """One `transitions.Machine` per form, built at start-up and shared by every guardian."""

    def __init__(self, spec: FormSpec) -> None:
        self.spec = spec
        states = [s.id for s in spec.steps]
        self.machine = Machine(model=None, states=states, initial=spec.first, auto_transitions=False,
                               send_event=True, ignore_invalid_triggers=False)
        for index, step in enumerate(spec.steps):
            if step.terminal:
                continue
            for branch in step.next:
                self.machine.add_transition("advance", step.id, branch["to"],
                                            conditions=[_condition(branch.get("when"))])
            for later in spec.steps[index + 1:]:
                if later.terminal:
                    continue
                self.machine.add_transition("advance", step.id, later.id, conditions=[_step_condition(later)])
        for step in spec.steps:
            self.machine.add_transition(f"goto_{step.id}", "*", step.id)

    def advance(self, model: FormModel) -> bool:
        """Move to the next step; False when no step follows (the form is complete)."""
        try:
            return bool(self.machine.events["advance"].trigger(model))
        except MachineError:
            return False

    def goto(self, model: FormModel, step_id: str) -> None:
        self.machine.events[f"goto_{step_id}"].trigger(model)


def _step_condition(step: Step):
    """A step is asked when its `when` holds — and, with `skip_when_filled`, only while its slot is empty
    (a value derived earlier, e.g. the 证件类型 from the number, is not asked again; 修改… still reaches it)."""
    def check(event_data: Any) -> bool:
        slots = event_data.model.slots
        if step.params.get("skip_when_filled") and get_slot(slots, step.slot) not in (None, ""):
            return False
        return holds(step.when, slots)

    return check


def _condition(spec: Any):
    def check(event_data: Any) -> bool:
        return holds(spec, event_data.model.slots)

    return check
