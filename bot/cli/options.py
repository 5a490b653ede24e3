"""Argument types and parser touches shared by the `sabai` subcommands."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def name_choices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Show the subcommands ("{send,list}"), not the `dest` name, when none is given.

    Call after the last add_parser: argparse names a missing required positional by its
    metavar, falling back to its dest ("alerts_command"), which means nothing to people.
    """
    sub.metavar = "{" + ",".join(sub.choices or ()) + "}"
