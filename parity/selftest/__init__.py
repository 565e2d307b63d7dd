"""The suite's own test: a catalogue of realistic defects the judge must catch, and where."""

from parity.selftest.catalogue import BY_NAME, CATALOGUE, N_TEST, N_TRAIN, Mutant
from parity.selftest.runner import Outcome, console, run_catalogue, run_mutant

__all__ = [
    "BY_NAME",
    "CATALOGUE",
    "N_TEST",
    "N_TRAIN",
    "Mutant",
    "Outcome",
    "console",
    "run_catalogue",
    "run_mutant",
]
