"""The optimiser: pymoo's NSGA-II (or NSGA-III) over mixed levers, asked and told.

A lever is a real range, an integer range or a list of choices. pymoo's mixed-variable
genetic algorithm keeps each kind as what it is (``Real``, ``Integer``, ``Choice``):
real and integer levers are recombined by simulated binary crossover and polynomial
mutation (integers rounded), a choice is inherited whole from one parent (uniform
crossover) and mutated to another choice at random, so no false order is put on
procurement modes or financing lists. Survival is NSGA-II's non-dominated rank and
crowding distance (``nsga2``), or NSGA-III's reference directions for many objectives
(``nsga3``); parents are picked by binary tournament. Constraint: a design whose runs
fail in some world is infeasible (its share of failed runs), and feasible designs
always win.

The search runs ask and tell (:meth:`Optimiser.ask`, :meth:`Optimiser.tell`), so each
generation is evaluated as one batch by whoever asks. The optimiser draws only from
its own generator (pymoo's ``random_state``), so it pickles with its state: a
checkpoint after each generation resumes the search exactly, and the same seed gives
the same sequence of designs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import RankAndCrowdingSurvival, binary_tournament
from pymoo.core.mixed import (
    MixedVariableDuplicateElimination,
    MixedVariableGA,
    MixedVariableMating,
)
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination
from pymoo.core.variable import Choice, Integer, Real
from pymoo.operators.selection.tournament import TournamentSelection
from pymoo.util.display.multi import MultiObjectiveOutput

from experiments.search.spec import Lever


class LeverProblem(Problem):
    """The levers as pymoo variables; evaluation happens outside (ask and tell)."""

    def __init__(self, levers: Mapping[str, Lever], n_obj: int) -> None:
        """Declare the variables.

        Args:
            levers: Path -> lever.
            n_obj: Number of objectives.
        """
        variables: dict[str, Any] = {}
        for path, lever in levers.items():
            if lever.values:
                variables[path] = Choice(options=list(range(len(lever.values))))
            elif lever.integer:
                variables[path] = Integer(bounds=(int(lever.range[0]), int(lever.range[1])))
            else:
                variables[path] = Real(bounds=(float(lever.range[0]), float(lever.range[1])))
        super().__init__(vars=variables, n_obj=n_obj, n_ieq_constr=1)


def decode(x: Mapping[str, Any], levers: Mapping[str, Lever]) -> dict[str, Any]:
    """Pymoo's values of a design -> lever values (a choice's index -> the choice).

    Args:
        x: Path -> the variable's value.
        levers: Path -> lever.

    Returns:
        Path -> value, ready as scenario overrides.
    """
    out: dict[str, Any] = {}
    for path, lever in levers.items():
        v = x[path]
        if lever.values:
            out[path] = lever.values[int(v)]
        elif lever.integer:
            out[path] = int(round(float(v)))
        else:
            out[path] = float(v)
    return out


def _reference_directions(n_obj: int, population: int, seed: int) -> np.ndarray:
    from pymoo.util.ref_dirs import get_reference_directions

    return get_reference_directions("energy", n_obj, population, seed=seed % 2**32)


def make_algorithm(
    levers: Mapping[str, Lever], n_obj: int, population: int, algorithm: str = "nsga2"
) -> MixedVariableGA:
    """The genetic algorithm: mixed-variable operators, NSGA-II or NSGA-III survival.

    Args:
        levers: Path -> lever.
        n_obj: Number of objectives.
        population: Designs per generation (and offspring per generation).
        algorithm: ``nsga2`` or ``nsga3``.

    Returns:
        The (not yet set up) algorithm.
    """
    if algorithm == "nsga3":
        from pymoo.algorithms.moo.nsga3 import ReferenceDirectionSurvival, comp_by_cv_then_random

        survival = ReferenceDirectionSurvival(_reference_directions(n_obj, population, 1))
        selection = TournamentSelection(func_comp=comp_by_cv_then_random)
    else:
        survival = RankAndCrowdingSurvival()
        selection = TournamentSelection(func_comp=binary_tournament)
    ga = MixedVariableGA(
        pop_size=population,
        n_offsprings=population,
        output=MultiObjectiveOutput(),
        mating=MixedVariableMating(
            selection=selection, eliminate_duplicates=MixedVariableDuplicateElimination()
        ),
        eliminate_duplicates=MixedVariableDuplicateElimination(),
        survival=survival,
        advance_after_initial_infill=True,  # rank the first population before mating
    )
    ga.tournament_type = "comp_by_dom_and_crowding"  # what NSGA-II's tournament reads
    return ga


class Optimiser:
    """Ask for a generation of designs, tell their objectives (minimised), repeat."""

    def __init__(
        self,
        levers: Mapping[str, Lever],
        n_obj: int,
        *,
        population: int,
        seed: int,
        algorithm: str = "nsga2",
    ) -> None:
        """Set up the algorithm.

        Args:
            levers: Path -> lever.
            n_obj: Number of objectives.
            population: Designs per generation.
            seed: Seeds the optimiser's own generator.
            algorithm: ``nsga2`` or ``nsga3``.
        """
        self.levers = dict(levers)
        self.algorithm = make_algorithm(levers, n_obj, population, algorithm)
        self.algorithm.setup(
            LeverProblem(levers, n_obj), termination=NoTermination(), seed=seed % 2**32
        )
        self.generation = -1  # the last generation told
        self._asked: Population | None = None

    def ask(self) -> list[dict[str, Any]]:
        """The next generation's designs, as lever values (path -> value).

        Returns:
            One dict per design.
        """
        self._asked = self.algorithm.ask()
        return [decode(x, self.levers) for x in self._asked.get("X")]

    def tell(self, objectives: np.ndarray, violation: Sequence[float] | None = None) -> None:
        """Give the asked designs their objective values (to minimise) and violations.

        Args:
            objectives: Shape (designs, objectives), finite.
            violation: Per design, > 0 when infeasible (None: all feasible).
        """
        if self._asked is None:
            raise RuntimeError("tell() without ask()")
        pop = self._asked
        f = np.asarray(objectives, dtype=float)
        g = np.zeros((len(pop), 1)) if violation is None else np.asarray(violation, float)[:, None]
        pop.set("F", f, "G", g)
        self.algorithm.tell(infills=pop)
        self._asked = None
        self.generation += 1

    def __getstate__(self) -> dict[str, Any]:
        """Picklable between generations only (nothing asked and not told)."""
        if self._asked is not None:
            raise RuntimeError("cannot checkpoint between ask() and tell()")
        return dict(self.__dict__)


def nondominated(f: np.ndarray) -> np.ndarray:
    """Which rows of a minimisation matrix no other row dominates.

    Args:
        f: Shape (n, m).

    Returns:
        Boolean mask of length n (equal rows are all kept).
    """
    f = np.asarray(f, dtype=float)
    keep = np.ones(len(f), dtype=bool)
    for i in range(len(f)):
        if not keep[i]:
            continue
        dominated = np.all(f[i] <= f, axis=1) & np.any(f[i] < f, axis=1)
        keep &= ~dominated
    return keep


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` is no worse than ``b`` everywhere and better somewhere (minimising)."""
    return bool(np.all(a <= b) and np.any(a < b))


def hypervolume(f: np.ndarray, reference: Sequence[float]) -> float:
    """Hypervolume of a set (minimising) up to a reference point (pymoo's HV).

    Args:
        f: Shape (n, m).
        reference: The reference point (points beyond it add nothing).

    Returns:
        The dominated volume.
    """
    from pymoo.indicators.hv import HV

    f = np.asarray(f, dtype=float)
    if not len(f):
        return 0.0
    return float(HV(ref_point=np.asarray(reference, dtype=float))(f))


class EpsilonArchive:
    """An epsilon-box archive: counts epsilon progress, as Borg and epsilon-NSGA-II do.

    Objective space is cut into boxes of size ``epsilons``; the archive keeps one
    design per non-dominated box. Epsilon progress counts the designs that entered a
    box not held before (a real improvement by at least epsilon somewhere), so a
    search still finding new boxes is still improving.
    """

    def __init__(self, epsilons: Sequence[float]) -> None:
        """An empty archive.

        Args:
            epsilons: Box size per objective (> 0), in the minimised objectives' units.
        """
        self.epsilons = np.asarray(epsilons, dtype=float)
        self.boxes: dict[tuple[int, ...], tuple[np.ndarray, str]] = {}
        self.progress = 0

    def add(self, f: np.ndarray, key: str) -> bool:
        """Offer a design; True when it counted as epsilon progress.

        Args:
            f: Its minimised objectives.
            key: Its id.

        Returns:
            Whether it entered a box no design held.
        """
        f = np.asarray(f, dtype=float)
        box = tuple(int(math.floor(v / e)) for v, e in zip(f, self.epsilons, strict=True))
        b = np.array(box)
        for other in self.boxes:
            o = np.array(other)
            if np.all(o <= b) and np.any(o < b):
                return False  # its box is dominated
        if box in self.boxes:  # same box: keep the one nearer the box's corner
            old, _ = self.boxes[box]
            corner = b * self.epsilons
            if dominates(f, old) or (
                not dominates(old, f) and np.linalg.norm(f - corner) < np.linalg.norm(old - corner)
            ):
                self.boxes[box] = (f, key)
            return False
        for other in [o for o in self.boxes if np.all(b <= o) and np.any(b < np.array(o))]:
            del self.boxes[other]
        self.boxes[box] = (f, key)
        self.progress += 1
        return True

    @property
    def keys(self) -> list[str]:
        """The ids of the designs kept."""
        return [k for _, k in self.boxes.values()]
