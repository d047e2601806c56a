"""What the what-if page asks for: designs, overlays, levers -> a request, and its URL.

A :class:`Request` is the whole state of the page: the designs compared (library
names or scenario files; the first is the reference), the stress overlays, the
levers (dotted-path overrides applied to every design, as ``alliance compare
--set``) and the number of worlds, horizon and seed. It round-trips through the
query string (``?d=traditional,alliance&o=rate_shock&policy.pilot.share_of_units=0.01``),
so every state of the page has a URL, and it names its run-store folder by a hash
of what it computes (the spec and the resolved scenarios' content), so the same
request is read back from the store.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sim.config import ScenarioError, load_scenario, parse_value

#: Query keys that are not levers (a lever's key is its dotted path).
KEYS = ("d", "o", "n", "months", "seed")
#: Worlds per design the page allows.
WORLDS = (2, 200)
#: Horizon bounds (the schema's).
MONTHS = (1, 1200)

#: The levers the page shows as controls: dotted path -> (label, kind). ``kind`` is
#: ``choice`` (a dropdown of the schema's values), ``switch``, ``slider`` or ``order``.
LEVERS: dict[str, tuple[str, str]] = {
    "policy.procurement.mode": ("Procurement mode", "choice"),
    "policy.pilot.share_of_units": ("Pilot share", "slider"),
    "policy.financing.debt_cap_share": ("Debt cap (debt service / revenue)", "slider"),
    "policy.contracts.payment": ("Contract type", "choice"),
    "policy.financing.preference": ("Financing preference (in order)", "order"),
    "policy.governance.champion": ("Champion", "switch"),
    "policy.governance.pmo": ("PMO", "switch"),
    "world.rates.shift_bp": ("Interest rates: parallel shift", "slider"),
}


class RequestError(ValueError):
    """A request the page cannot run: one line per problem, each naming the lever or file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Request:
    """One state of the page (hashable; equal states compute the same)."""

    designs: tuple[str, ...] = ("traditional", "alliance")
    overlays: tuple[str, ...] = ()
    levers: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    worlds: int = 20
    months: int | None = None
    seed: int = 1

    @property
    def overrides(self) -> dict[str, Any]:
        """The levers as dotted-path overrides."""
        return {path: _thaw(value) for path, value in self.levers}

    def with_levers(self, levers: dict[str, Any]) -> Request:
        """The same request with these levers (None drops one: the design's own value).

        Args:
            levers: Dotted path -> value.

        Returns:
            A new request.
        """
        kept = {p: _freeze(v) for p, v in levers.items() if v is not None}
        return Request(
            self.designs,
            self.overlays,
            tuple(sorted(kept.items())),
            self.worlds,
            self.months,
            self.seed,
        )

    def to_query(self) -> str:
        """The query string of this state (without the ``?``).

        Returns:
            ``d=...&o=...&n=...`` then one ``path=value`` per lever.
        """
        items: list[tuple[str, str]] = [("d", ",".join(self.designs))]
        if self.overlays:
            items.append(("o", ",".join(self.overlays)))
        items.append(("n", str(self.worlds)))
        if self.months is not None:
            items.append(("months", str(self.months)))
        if self.seed != 1:
            items.append(("seed", str(self.seed)))
        items += [(path, _text(value)) for path, value in self.levers]
        return urlencode(items, safe=",/")

    @classmethod
    def from_query(cls, query: str, default: Request | None = None) -> Request:
        """Read a state from a query string (with or without the ``?``).

        Args:
            query: The query string.
            default: Designs, overlays, worlds, months and seed when absent (no levers).

        Returns:
            The request (the default's values for what is absent).

        Raises:
            RequestError: One line per bad item, naming it.
        """
        problems: list[str] = []
        base = default or cls()
        designs, overlays = base.designs, base.overlays
        worlds, months, seed = base.worlds, base.months, base.seed
        levers: dict[str, Any] = {}
        for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
            if key == "d":
                designs = tuple(x.strip() for x in value.split(",") if x.strip())
            elif key == "o":
                overlays = tuple(x.strip() for x in value.split(",") if x.strip())
            elif key == "n":
                worlds = _whole(value, "worlds (n)", WORLDS, problems, worlds)
            elif key == "months":
                months = _whole(value, "months", MONTHS, problems, months)
            elif key == "seed":
                seed = _whole(value, "seed", (0, 2**63 - 1), problems, seed)
            elif "." in key:
                levers[key] = parse_lever(key, value)
            else:
                problems.append(
                    f"{key}: unknown setting in the address; expected d, o, n, "
                    "months, seed or a parameter's dotted path"
                )
        if problems:
            raise RequestError(problems)
        return cls(designs, overlays, (), worlds, months, seed).with_levers(levers)

    def check(self) -> list[str]:
        """Load every design with every overlay and the levers, without running.

        Returns:
            One line per problem (empty when the request can run).
        """
        if len(self.designs) < 2:
            return ["designs: choose at least two designs to compare"]
        labels = [Path(d).stem for d in self.designs]
        if len(set(labels)) != len(labels):
            return ["designs: two designs share a name; rename one of the files"]
        problems: list[str] = []
        for design in self.designs:
            for overlay in (None, *self.overlays):
                try:
                    load_scenario(
                        design, overlays=[overlay] if overlay else [], overrides=self.overrides
                    )
                except ScenarioError as exc:
                    problems += [p for p in exc.problems if p not in problems]
                except Exception as exc:  # a file that is not even TOML, unreadable, ...
                    problems.append(f"{design}: cannot be loaded ({type(exc).__name__}: {exc})")
            if problems:
                break
        if not problems:  # what the experiment refuses (a lever that applies to no run, ...)
            try:
                self.spec()
            except ScenarioError as exc:
                problems += [p.removeprefix("<spec>: design.parameters.") for p in exc.problems]
        return problems

    def spec(self) -> Any:
        """The experiment spec of this request (what ``alliance compare`` would run).

        Returns:
            The validated spec.

        Raises:
            ScenarioError: What the experiment refuses (a lever that applies to no run, ...).
        """
        from experiments.workshop.studies import compare_spec

        return compare_spec(
            list(self.designs),
            replications=self.worlds,
            overlays=list(self.overlays),
            seed=self.seed,
            months=self.months,
            overrides=self.overrides or None,
        )

    def key(self) -> str:
        """16 hex digits naming what this request computes (its run-store folder).

        Returns:
            A hash of the request and the resolved scenarios' content, so an edited
            file gets a new folder and an identical request the same one.
        """
        from experiments.engine.batch import STORE_FORMAT
        from experiments.workshop.studies import SERIES

        what = {
            "designs": self.designs,
            "overlays": self.overlays,
            "levers": self.levers,
            "worlds": self.worlds,
            "months": self.months,
            "seed": self.seed,
            "series": SERIES,
            "store": STORE_FORMAT,
        }
        content = [json.dumps(what, default=str)]
        for design in self.designs:
            for overlay in (None, *self.overlays):
                scn = load_scenario(design, overlays=[overlay] if overlay else [])
                content.append(scn.model_dump_json())
        return hashlib.sha256("\n".join(content).encode()).hexdigest()[:16]

    def command(self, out: str | Path) -> str:
        """The ``alliance compare`` command line that writes the same study.

        Args:
            out: The study folder.

        Returns:
            The command line (shell-quoted).
        """
        words = ["alliance", "compare", *self.designs, "--replications", str(self.worlds)]
        if self.overlays:
            words += ["--overlays", ",".join(self.overlays)]
        words += ["--seed", str(self.seed)]
        if self.months is not None:
            words += ["--months", str(self.months)]
        for path, value in self.levers:
            words += ["--set", f"{path}={_toml(_thaw(value))}"]
        words += ["--out", str(out)]
        return shlex.join(words)


def parse_lever(path: str, text: str) -> Any:
    """A lever's value from its text in the address or the page.

    ``policy.financing.preference`` takes a comma-separated list; everything else is
    read as a TOML value (``0.05``, ``true``) or kept as a bare word (``framework``).

    Args:
        path: The dotted path.
        text: The text.

    Returns:
        The typed value.
    """
    if LEVERS.get(path, ("", ""))[1] == "order" and not text.strip().startswith("["):
        return [x.strip() for x in text.split(",") if x.strip()]
    return parse_value(text.strip())


def parse_other(text: str) -> dict[str, Any]:
    """The page's "any parameter" box: one ``path=value`` per line (or ``;``-separated).

    Args:
        text: The box's text.

    Returns:
        Dotted path -> value.

    Raises:
        RequestError: For an item without ``=``, naming it.
    """
    out: dict[str, Any] = {}
    for item in text.replace(";", "\n").splitlines():
        if not item.strip():
            continue
        path, sep, value = item.partition("=")
        if not sep or not path.strip() or "." not in path:
            raise RequestError(
                [
                    f"{item.strip()!r}: expected PATH=VALUE, e.g. "
                    "world.macro.discount_rate_annual=0.04"
                ]
            )
        out[path.strip()] = parse_lever(path.strip(), value)
    return out


def _whole(text: str, name: str, bounds: tuple[int, int], problems: list[str], default: Any) -> Any:
    try:
        value = int(text)
    except ValueError:
        problems.append(f"{name}: {text!r} is not a whole number")
        return default
    if not bounds[0] <= value <= bounds[1]:
        problems.append(f"{name}: {value} is out of range; allowed {bounds[0]} .. {bounds[1]}")
        return default
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return value  # 1.0 stays a float: the schema decides
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _text(value: Any) -> str:
    """A lever's value as the address shows it (lists comma-separated)."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _toml(value: Any) -> str:
    """A value as ``--set`` reads it back (TOML; bare words stay bare)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)
