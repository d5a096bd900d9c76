"""Exercises by name. Adding an exercise = one module + one line here."""

from __future__ import annotations

from functools import cache

from exercises.base import Exercise


@cache
def _registry() -> dict[str, Exercise]:
    # Imported lazily so that importing the package has no cost and no side effects.
    from exercises.finger_lifting import FingerLifting
    from exercises.finger_spread import FingerSpread
    from exercises.finger_tapping import FingerTapping
    from exercises.grip import Grip
    from exercises.pronation_supination import PronationSupination
    from exercises.thumb_flexion import ThumbFlexion
    from exercises.thumb_opposition import ThumbOpposition
    from exercises.wrist_deviation import WristDeviation
    from exercises.wrist_flexion import WristFlexion

    found: list[Exercise] = [
        FingerTapping(),
        ThumbOpposition(),
        FingerLifting(),
        WristFlexion(),
        Grip(),
        FingerSpread(),
        WristDeviation(),
        PronationSupination(),
        ThumbFlexion(),
    ]
    return {e.name: e for e in found}


def exercise_names() -> list[str]:
    return list(_registry())


def get_exercise(name: str) -> Exercise:
    try:
        return _registry()[name]
    except KeyError:
        raise KeyError(f"unknown exercise {name!r}; choose one of: {', '.join(exercise_names())}") from None
