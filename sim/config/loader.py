"""Scenario files: loading, inheritance, overlays, dotted-path overrides, validation.

A scenario file is TOML with up to three tables: ``[scenario]`` (name,
description, ``extends`` and ``overlays``), ``[world]`` and ``[policy]``
(see :mod:`sim.config.schema`). Loading goes in a fixed order::

    file --extends chain (parent first)--> overlays (in order) --> --set overrides
         --> schema validation --> consistency checks --> Scenario

Tables merge key by key; a later value replaces an earlier one and lists are
replaced whole. Every problem found becomes one line naming the file, the
dotted path, the bad value and what is allowed; all of them are raised
together as a :class:`ScenarioError`.
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.config.applicability import ALWAYS_TEXT, applies_when, is_active
from sim.config.schema import Scenario
from sim.core.fields import RATINGS, Condition, condition_of
from sim.instruments.catalogue import misfit

#: The shipped scenario library (installed with the package as ``scenarios``).
LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
OVERLAYS = LIBRARY / "overlays"

SET_SOURCE = "--set"


class ScenarioError(Exception):
    """One or more problems in a scenario; ``str()`` gives one line per problem."""

    def __init__(self, problems: list[str]):
        """Keep the problem lines.

        Args:
            problems: One human-readable line per problem.
        """
        super().__init__("\n".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- files


def resolve(name_or_path: str | Path, *, overlay: bool = False, base: Path | None = None) -> Path:
    """Find a scenario or overlay file by path or by library name.

    Args:
        name_or_path: A file path, or a name from the library such as ``alliance``.
        overlay: Look in the overlay library instead of the scenario library.
        base: Folder that relative paths are taken from (the including file's).

    Returns:
        The file's path.

    Raises:
        ScenarioError: When no such file exists.
    """
    text = str(name_or_path)
    candidates = [Path(text)]
    if base is not None:
        candidates.insert(0, base / text)
    folder = OVERLAYS if overlay else LIBRARY
    stem = text[:-5] if text.endswith(".toml") else text
    candidates.append(folder / f"{stem}.toml")
    for path in candidates:
        if path.is_file():
            return path
    known = sorted(p.stem for p in folder.glob("*.toml"))
    kind = "overlay" if overlay else "scenario"
    hint = difflib.get_close_matches(stem, known, n=1)
    also = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise ScenarioError(
        [f"{text}: no such {kind} file or library name{also}; library: {', '.join(known)}"]
    )


#: Deepest nesting of tables and lists a scenario or spec file may have.
MAX_DEPTH = 16
#: Characters no name or value may hold (control characters other than tab and newlines).
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {chr(127)}


def read_toml(path: Path) -> dict[str, Any]:
    """Read one TOML file; every problem is a one-line ScenarioError naming the file.

    Refused: a file that is not UTF-8 text (a UTF-8 byte-order mark is allowed),
    malformed TOML, an empty file (no values), nesting deeper than
    :data:`MAX_DEPTH`, non-finite numbers (``nan``, ``inf``) and control
    characters in keys or strings (:func:`check_tree`).

    Args:
        path: The file.

    Returns:
        The parsed table.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError([f"{path}: UTF-16 text; save the file as UTF-8"])
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [
                f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start}); "
                "save the file as UTF-8"
            ]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: malformed TOML: {exc}"]) from None
    except RecursionError:
        raise ScenarioError([f"{path}: nested deeper than {MAX_DEPTH} levels"]) from None
    if not data:
        raise ScenarioError([f"{path}: empty: no tables or values"])
    check_tree(data, str(path))
    return data


def check_tree(data: Mapping[str, Any], name: str) -> None:
    """Refuse what no scenario or spec value may be, wherever it is in the tree.

    Args:
        data: Parsed tables (from a file or given as a mapping).
        name: The file (or ``<spec>``) for the message.

    Raises:
        ScenarioError: One line naming the dotted path: nesting deeper than
            :data:`MAX_DEPTH`, a non-finite number, a control character in a key or string.
    """

    def walk(value: Any, path: tuple[str, ...]) -> None:
        where = ".".join(path) or "(top)"
        if len(path) > MAX_DEPTH:
            raise ScenarioError([f"{name}: {where}: nested deeper than {MAX_DEPTH} levels"])
        if isinstance(value, float) and not math.isfinite(value):
            raise ScenarioError([f"{name}: {where} = {value}: not a finite number"])
        if isinstance(value, str) and _CONTROL.intersection(value):
            bad = min(_CONTROL.intersection(value))
            raise ScenarioError(
                [f"{name}: {where}: contains a control character (U+{ord(bad):04X})"]
            )
        if isinstance(value, Mapping):
            for key, sub in value.items():
                walk(key, (*path, "[key]"))
                walk(sub, (*path, str(key)))
        elif isinstance(value, list | tuple):
            for i, sub in enumerate(value):
                walk(sub, (*path, str(i)))

    walk(data, ())


def merge(
    base: dict[str, Any],
    top: Mapping[str, Any],
    origins: dict[tuple, str] | None = None,
    source: str = "",
    prefix: tuple = (),
) -> dict[str, Any]:
    """Deep-merge ``top`` into ``base`` in place: tables merge, other values replace.

    Args:
        base: The table merged into (modified and returned).
        top: The table whose values win.
        origins: Optional map of leaf path to the file that set it, updated.
        source: Name of the file ``top`` came from, for ``origins``.
        prefix: Path of ``base`` inside the whole document (used in recursion).

    Returns:
        ``base``.
    """
    for key, value in top.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value, origins, source, path)
        else:
            base[key] = copy.deepcopy(value)
            if origins is not None:
                _mark(origins, path, value, source)
    return base


def _mark(origins: dict[tuple, str], path: tuple, value: Any, source: str) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _mark(origins, (*path, key), sub, source)
    else:
        origins[path] = source


def _read_chain(path: Path, origins: dict[tuple, str], seen: tuple[Path, ...] = ()) -> dict:
    """Read a scenario file and everything it extends, parents first."""
    real = path.resolve()
    if real in seen:
        chain = " -> ".join(str(p) for p in (*seen, real))
        raise ScenarioError([f"{path}: scenario.extends: circular inheritance: {chain}"])
    data = read_toml(path)
    meta = data.get("scenario", {})
    parent = meta.get("extends") if isinstance(meta, dict) else None
    if parent is None:
        merged: dict[str, Any] = {}
    elif not isinstance(parent, str):
        raise ScenarioError([f"{path}: scenario.extends = {parent!r}: expected a file name"])
    else:
        try:
            found = resolve(parent, base=path.parent)
        except ScenarioError as exc:
            raise ScenarioError([f"{path}: scenario.extends: {p}" for p in exc.problems]) from None
        merged = _read_chain(found, origins, (*seen, real))
        merged.get("scenario", {}).pop("overlays", None)  # a parent's overlays are its own
    return merge(merged, data, origins, str(path))


def _read_overlay(name: str, base: Path) -> tuple[Path, dict[str, Any]]:
    path = resolve(name, overlay=True, base=base)
    data = read_toml(path)
    extra = sorted(set(data) - {"overlay", "world", "policy"})
    if extra:
        raise ScenarioError(
            [f"{path}: {extra[0]}: unknown table in an overlay; allowed: overlay, world, policy"]
        )
    return path, {k: v for k, v in data.items() if k != "overlay"}


# --------------------------------------------------------------------------- overrides


def parse_value(text: str) -> Any:
    """Parse a command-line value as a TOML value, or keep it as a bare string.

    Args:
        text: ``"0.05"``, ``"true"``, ``'["go_bond", "ppp"]'`` or ``framework``.

    Returns:
        The typed value.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``PATH=VALUE`` strings into an override mapping.

    Args:
        items: Strings such as ``policy.procurement.mode=framework``.

    Returns:
        ``{path: typed value}``.

    Raises:
        ScenarioError: For an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        path, sep, value = item.partition("=")
        if not sep or not path.strip():
            raise ScenarioError(
                [
                    f"{SET_SOURCE} {item!r}: expected PATH=VALUE, "
                    "e.g. policy.procurement.mode=framework"
                ]
            )
        out[path.strip()] = parse_value(value.strip())
    return out


def _plain(value: Any) -> Any:
    """Turn numpy scalars and tuples into the plain types TOML would give."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _open_mapping(path: tuple[str, ...]) -> bool:
    """Whether ``path`` names a free-key table (cities, technology, by_domain...)."""
    model, _ = _walk(Scenario, path)
    return typing.get_origin(model) is dict


def _expand(data: Any, parts: list[str], done: tuple[str, ...] = ()) -> Iterator[tuple]:
    """Yield (container, key, full path) for a dotted path; ``*`` matches every key."""
    key, rest = parts[0], parts[1:]
    if isinstance(data, dict):
        keys = list(data) if key == "*" else [key]
        for k in keys:
            if k not in data and not (not rest and _open_mapping(done)):
                yield None, k, (*done, k)
                continue
            if rest:
                yield from _expand(data[k], rest, (*done, k))
            else:
                yield data, k, (*done, k)
    elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
        if rest:
            yield from _expand(data[int(key)], rest, (*done, key))
        else:
            yield data, int(key), (*done, key)
    else:
        yield None, key, (*done, key)


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> list[str]:
    """Set values by dotted path in a full scenario table (in place).

    Args:
        data: A complete scenario as plain data (``Scenario.model_dump()``).
        overrides: ``{"world.rates.shift_bp": 200, "world.cities.*.rating": "A"}``.

    Returns:
        One problem line per unknown path (empty when all applied).
    """
    problems = []
    for dotted, value in overrides.items():
        try:
            check_tree({dotted: value}, SET_SOURCE)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        for container, key, path in _expand(data, dotted.split(".")):
            if container is None:
                problems.append(_unknown_path(data, path, dotted))
            else:
                container[key] = _plain(value)
    return problems


def _unknown_path(data: dict, path: tuple, dotted: str) -> str:
    node: Any = data
    for depth, key in enumerate(path):
        if isinstance(node, dict) and key in node:
            node = node[key]
            continue
        known = list(node) if isinstance(node, dict) else []
        where = ".".join(path[:depth]) or "the top level"
        near = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '{'.'.join((*path[:depth], near[0]))}'? " if near else ""
        return (
            f"{SET_SOURCE} {dotted}: unknown parameter path; {hint}"
            f"keys under {where}: {', '.join(map(str, known)) or '(none)'}"
        )
    return f"{SET_SOURCE} {dotted}: not a parameter (a table, not a value)"


# --------------------------------------------------------------------------- validation


def _walk(root: type[BaseModel], path: tuple) -> tuple[Any, Any]:
    """Follow a dotted path through a schema: (annotation reached, its FieldInfo or None).

    Keys of free tables (``dict[str, Model]``) and list indices are stepped over.
    """
    model: Any = root
    info = None
    for key in path:
        if isinstance(model, type) and issubclass(model, BaseModel):
            info = model.model_fields.get(str(key))
            if info is None:
                return None, None
            model = info.annotation
        elif typing.get_origin(model) in (dict, list):
            model, info = typing.get_args(model)[-1], None
            if typing.get_origin(model) is typing.Annotated:  # a bounded value (a yield)
                model, *meta = typing.get_args(model)
                info = next((m for m in meta if hasattr(m, "metadata")), None)
        else:
            return None, None
    return model, info


def _field_info(root: type[BaseModel], path: tuple) -> tuple[str, str]:
    """Return (unit, allowed range) of the schema field at a validation ``loc``."""
    _, info = _walk(root, path)
    return _span(info)


def _num(x: Any) -> str:
    return "" if x is None else f"{x:g}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(root: type[BaseModel], err: dict) -> str:
    loc = tuple(err["loc"])
    unit, span = _field_info(root, loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        model, _ = _walk(root, loc[:-1])
        parent = (
            list(model.model_fields)
            if isinstance(model, type) and issubclass(model, BaseModel)
            else []
        )
        near = difflib.get_close_matches(str(loc[-1]), parent, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        return f"unknown key; {hint}allowed: {', '.join(parent)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{_short(err['input'])} is out of range; allowed {span} {unit}".rstrip()
    if kind == "missing":
        return "required value is missing"
    expected = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    if kind == "value_error" and isinstance(err.get("input"), Mapping):
        return expected  # a table's own check says what is wrong; the table is not repeated
    where = f" in {span}" if span else ""
    units = f" ({unit})" if unit else ""
    return f"{_short(err['input'])} is not valid: expected {expected}{where}{units}"


M = typing.TypeVar("M", bound=BaseModel)


def validate(
    root: type[M], data: Mapping[str, Any], origins: dict[tuple, str], default_source: str
) -> M:
    """Validate plain data against a schema, one line per problem naming file and path.

    Args:
        root: The schema class (``Scenario``, an experiment spec, ...).
        data: Parsed TOML (merged).
        origins: Leaf path -> the file that set it (for the message's file name).
        default_source: File named when a path has no recorded origin.

    Returns:
        The validated model.

    Raises:
        ScenarioError: With every problem found.
    """
    try:
        return root.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            source = _origin(origins, loc, default_source)
            if not loc and err["type"] == "value_error":  # a whole-file check: its own words
                lines.append(f"{source}: {err['msg'].removeprefix('Value error, ')}")
                continue
            lines.append(f"{source}: {'.'.join(map(str, loc))}: {_describe(root, err)}")
        raise ScenarioError(lines) from None


def _origin(origins: dict[tuple, str], loc: tuple, default: str) -> str:
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in origins:
            return origins[loc[:depth]]
    return default


def check_consistency(scn: Scenario) -> list[tuple[str, str]]:
    """Find combinations of valid values that make no sense together.

    Args:
        scn: A scenario that passed schema validation.

    Returns:
        ``(dotted path, problem)`` pairs; empty when consistent.
    """
    return _domains(scn) + _financing(scn) + _world(scn)


def _unknown_domain(domain: str, tech: Mapping[str, Any]) -> str:
    return f"{domain!r} is not in world.technology ({', '.join(tech)})"


def _domains(scn: Scenario) -> list[tuple[str, str]]:
    """Domains the policy and the framework name must be in the catalogue, once each."""
    w, p = scn.world, scn.policy
    tech = w.technology
    out = [
        (f"policy.domains.{i}", _unknown_domain(d, tech))
        for i, d in enumerate(p.domains)
        if d not in tech
    ]
    out += [
        (f"world.procurement.framework_domains.{i}", _unknown_domain(d, tech))
        for i, d in enumerate(w.procurement.framework_domains)
        if d not in tech
    ]
    if len(set(p.domains)) != len(p.domains):
        out.append(("policy.domains", "a domain is listed twice"))
    if p.pilot.stop_probability >= p.pilot.scale_probability:
        out.append(
            (
                "policy.pilot.stop_probability",
                f"{p.pilot.stop_probability:g} must be below scale_probability "
                f"{p.pilot.scale_probability:g}",
            )
        )
    if p.procurement.mode == "framework" and not any(
        c.consortium_member for c in w.cities.values()
    ):
        out.append(
            (
                "policy.procurement.mode",
                "framework call-off needs a consortium: no city has consortium_member",
            )
        )
    return out


def _financing(scn: Scenario) -> list[tuple[str, str]]:
    """Preference lists, instruments that fit their domains, and instruments' terms."""
    w, fin = scn.world, scn.policy.financing
    out: list[tuple[str, str]] = []
    lists = {"policy.financing.preference": fin.preference}
    lists.update({f"policy.financing.by_domain.{d}": v for d, v in fin.by_domain.items()})
    for path, instruments in lists.items():
        if len(set(instruments)) != len(instruments):
            out.append((path, "an instrument is listed twice"))
        if not instruments:
            out.append((path, "empty: name at least one instrument"))
    for domain, instruments in fin.by_domain.items():
        path = f"policy.financing.by_domain.{domain}"
        if domain not in w.technology:
            out.append((path, _unknown_domain(domain, w.technology)))
            continue
        out += [
            (path, why)
            for inst in instruments
            if (why := misfit(inst, domain, w.technology[domain], fin.ppp.payment)) is not None
        ]
    used = set(fin.preference).union(*fin.by_domain.values())
    mb = fin.mini_bonds
    if mb.maturity_value_usd <= mb.price_usd:
        out.append(
            (
                "policy.financing.mini_bonds.maturity_value_usd",
                f"{mb.maturity_value_usd:g} is not above price_usd {mb.price_usd:g}: "
                "a zero-coupon bond must mature above its price",
            )
        )
    if "revolving_fund" in used and fin.revolving_fund.initial_usd <= 0:
        out.append(
            (
                "policy.financing.revolving_fund.initial_usd",
                "revolving_fund is used but the fund starts empty: set it above 0",
            )
        )
    if "tif" in used and fin.tif.districts > w.region.districts_per_city:
        out.append(
            (
                "policy.financing.tif.districts",
                f"{fin.tif.districts} exceeds world.region.districts_per_city "
                f"{w.region.districts_per_city}",
            )
        )
    return out


def _world(scn: Scenario) -> list[tuple[str, str]]:
    """Cities, simulated residents and the yield curve."""
    w = scn.world
    out: list[tuple[str, str]] = []
    if not w.cities:
        out.append(("world.cities", "no city: define at least one [world.cities.NAME]"))
    population = sum(c.population for c in w.cities.values())
    if w.residents.simulated_agents > population:
        out.append(
            (
                "world.residents.simulated_agents",
                f"{w.residents.simulated_agents} exceeds the population {population}",
            )
        )
    for curve in ("yields_10y", "yields_20y"):
        missing = [r for r in RATINGS if r not in getattr(w.rates, curve)]
        if missing:
            out.append((f"world.rates.{curve}", f"no yield for rating(s) {', '.join(missing)}"))
    return out


# --------------------------------------------------------------------------- entry points


def load_scenario(
    source: str | Path | Mapping[str, Any],
    *,
    overlays: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> Scenario:
    """Load, merge, override and validate a scenario.

    Args:
        source: A file path, a library name (``"alliance"``), or a plain mapping.
        overlays: Overlay names or files applied after the file's own overlays.
        overrides: Dotted-path values applied last (``{"world.rates.shift_bp": 200}``).

    Returns:
        The validated :class:`~sim.config.schema.Scenario`.

    Raises:
        ScenarioError: With one line per problem found.
    """
    origins: dict[tuple, str] = {}
    if isinstance(source, Mapping):
        name, base = "<mapping>", Path.cwd()
        data = merge({}, source, origins, name)
    else:
        path = resolve(source)
        name, base = str(path), path.parent
        data = _read_chain(path, origins)
    meta = data.setdefault("scenario", {})
    listed = meta.get("overlays", []) if isinstance(meta, dict) else []
    if not isinstance(listed, list):
        raise ScenarioError(
            [f"{name}: scenario.overlays = {listed!r}: expected a list of overlay names"]
        )
    names = list(listed)
    in_file = len(names)
    names += list(overlays)
    for i, overlay in enumerate(names):
        where = f"{name}: scenario.overlays" if i < in_file else "--overlay"
        if not isinstance(overlay, str):
            raise ScenarioError([f"{where}: {overlay!r}: expected an overlay name or file"])
        try:
            opath, odata = _read_overlay(overlay, base)
        except ScenarioError as exc:
            if i >= in_file or all(p.startswith(f"{name}:") for p in exc.problems):
                raise
            raise ScenarioError([f"{where}: {p}" for p in exc.problems]) from None
        merge(data, odata, origins, str(opath))
    if isinstance(meta, dict):
        meta["overlays"] = [Path(str(o)).stem for o in names]
    scn = validate(Scenario, data, origins, name)
    if overrides:
        full = scn.model_dump()
        problems = apply_overrides(full, overrides)
        if problems:
            raise ScenarioError(problems)
        origins.update({tuple(k.split(".")): SET_SOURCE for k in overrides})
        scn = validate(Scenario, full, origins, name)
    problems = check_consistency(scn)
    if problems:
        raise ScenarioError(
            [
                f"{_origin(origins, tuple(path.split('.')), name)}: {path}: {msg}"
                for path, msg in problems
            ]
        )
    return scn


def as_scenario(
    scenario: Scenario | str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    overlays: Iterable[str] = (),
) -> Scenario:
    """Turn a scenario object, file, library name or mapping into a validated Scenario.

    Args:
        scenario: What to run.
        overrides: Dotted-path overrides.
        overlays: Overlays to apply.

    Returns:
        The validated scenario (the same object when nothing is to change).
    """
    overlays = list(overlays)
    if isinstance(scenario, Scenario):
        if not overrides and not overlays:
            return scenario
        scenario = scenario.model_dump()
    return load_scenario(scenario, overlays=overlays, overrides=overrides)


@dataclass(frozen=True)
class Parameter:
    """One leaf parameter of a scenario, for listings and parameter spaces."""

    path: str
    value: Any
    unit: str
    allowed: str
    doc: str
    active: bool = True
    """Whether the parameter applies in this scenario (its conditions hold)."""
    applies_when: str = ALWAYS_TEXT
    """When it applies, one line ("always" when unconditional)."""

    def as_dict(self) -> dict[str, Any]:
        """The parameter as plain JSON-ready data (``range`` is None without one).

        Returns:
            ``{path, value, unit, range, active, applies_when, doc}``.
        """
        return {
            "path": self.path,
            "value": self.value,
            "unit": self.unit,
            "range": self.allowed or None,
            "active": self.active,
            "applies_when": self.applies_when,
            "doc": self.doc,
        }


def parameters(scn: Scenario) -> list[Parameter]:
    """List every leaf parameter of a scenario with its value, unit, range and applicability.

    A table of numbers (the yield curves by rating) is listed key by key, so each
    rating's yield is a parameter of its own. Each parameter is ``active`` when every
    condition declared on its path holds (:mod:`sim.config.applicability`; a block's
    condition holds for every field in it).

    Args:
        scn: A validated scenario.

    Returns:
        Parameters in schema order, addressed by dotted path.
    """
    out: list[Parameter] = []

    def leaf(path: tuple, value: Any, info: Any, conditions: list[Condition]) -> None:
        unit, span = _span(info)
        out.append(
            Parameter(
                ".".join(map(str, path)),
                value,
                unit,
                span,
                (info.description or "") if info is not None else "",
                is_active(conditions, scn, tuple(map(str, path))),
                applies_when(conditions),
            )
        )

    def walk(node: Any, path: tuple, info: Any, conditions: list[Condition]) -> None:
        if isinstance(node, BaseModel):
            for key, sub_info in type(node).model_fields.items():
                cond = condition_of(sub_info)
                walk(
                    getattr(node, key),
                    (*path, key),
                    sub_info,
                    conditions + ([cond] if cond is not None else []),
                )
        elif (
            isinstance(node, dict) and node and all(isinstance(v, BaseModel) for v in node.values())
        ):
            for key, sub in node.items():
                walk(sub, (*path, key), info, conditions)
        elif isinstance(node, dict) and node and all(_is_number(v) for v in node.values()):
            for key, sub in node.items():  # a table of numbers: one parameter per key
                leaf((*path, key), sub, info, conditions)
        else:
            leaf(path, node, info, conditions)

    walk(scn, (), None, [])
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _span(info: Any) -> tuple[str, str]:
    """(unit, allowed range) of a field."""
    if info is None:
        return "", ""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    lo = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    hi = next((m.le for m in info.metadata if hasattr(m, "le")), None)
    span = "" if lo is None and hi is None else f"{_num(lo)} .. {_num(hi)}"
    return str(extra.get("unit", "")), span


def library(overlay: bool = False) -> list[tuple[str, str, Path]]:
    """List the shipped scenarios (or overlays) as (name, description, path).

    Args:
        overlay: List overlays instead of scenarios.

    Returns:
        One tuple per file, sorted by name; unreadable files show their error.
    """
    folder = OVERLAYS if overlay else LIBRARY
    table = "overlay" if overlay else "scenario"
    out = []
    for path in sorted(folder.glob("*.toml")):
        try:
            meta = read_toml(path).get(table, {})
            text = str(meta.get("description", "")).strip().splitlines()
            desc = text[0] if text else ""
        except ScenarioError as exc:
            desc = f"(unreadable: {exc})"
        out.append((path.stem, desc, path))
    return out
