"""The argument parser's manners: one-line errors, and tuning switches shown only by ``--help-all``.

A new user's ``--help`` should fit a screen and speak of what the command does; the engine's
off-switches (``--no-fast-norm``, CUDA tuning, ...) are marked with :func:`mark_advanced` and listed
only by ``rtstyle COMMAND --help-all``. They are accepted either way.

argparse has no public way to list a parser's options or look one up by its flag, so this module is
the one place that reads its internals (``_actions``, ``_option_string_actions``); elsewhere an option
is marked where it is added (``mark_advanced(group.add_argument(...))``).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

HELP_ALL = "--help-all"
_ADVANCED = "rtstyle_advanced"
#: A parser with more options than this shows ``prog IN OUT [options]`` as its usage, not every option.
SHORT_USAGE_OPTIONS = 6
_NUMBER = re.compile(r"-\d+\.?\d*|-\.\d+")


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming ``--help`` instead of the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """Refuse unknown arguments here, so that the subcommand that saw them names its own ``--help``.

        (argparse would hand them up to ``rtstyle``, whose error then points at ``rtstyle --help``.)
        A mistyped option is named before argparse looks for missing required ones.
        """
        self._refuse_unknown_options(sys.argv[1:] if args is None else args)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def _refuse_unknown_options(self, args: Sequence[str]) -> None:
        """Name the first unknown option (with the known one it looks like) before argparse reads ``args``.

        argparse reports missing required options first: ``--stlye mosaic`` would read as a missing
        ``--style`` and leave the typo unnamed.
        """
        known = list(self._option_string_actions)
        for token in args:
            if token == "--":
                return
            if not token.startswith("-") or token == "-" or _NUMBER.fullmatch(token):
                if self._subparsers:
                    return  # the subcommand's own parser reads the rest
                continue
            flag = token.split("=", 1)[0]
            if flag in known or (self.allow_abbrev and flag.startswith("--") and any(k.startswith(flag) for k in known)):
                continue
            if not flag.startswith("--") and flag[:2] in known:
                continue  # a short option with its value attached: -j4
            close = difflib.get_close_matches(flag, [k for k in known if k.startswith("--")], n=1, cutoff=0.7)
            hint = f"; did you mean {close[0]}?" if close else ""
            self.error(f"unrecognized option {flag}{hint}")


def mark_advanced(action: argparse.Action) -> argparse.Action:
    """Mark an option as a tuning switch: hidden from ``--help``, listed by ``--help-all``."""
    setattr(action, _ADVANCED, True)
    return action


def mark_advanced_flags(parser: argparse.ArgumentParser, flags: tuple[str, ...]) -> None:
    """:func:`mark_advanced` for the options of ``parser`` named by ``flags``."""
    for flag in flags:
        mark_advanced(parser._option_string_actions[flag])


def settle_help(parser: argparse.ArgumentParser, show_advanced: bool) -> None:
    """Hide the advanced options of ``parser`` and its subcommands (unless ``show_advanced``);
    a parser that has some gets a ``--help-all`` entry saying how to list them."""
    advanced = [action for action in parser._actions if getattr(action, _ADVANCED, False)]
    if advanced and HELP_ALL not in parser._option_string_actions:
        parser.add_argument(HELP_ALL, action="help", help="also list the tuning options")
    for action in advanced:
        if not show_advanced:
            action.help = argparse.SUPPRESS
    if parser.usage is None and len(parser._actions) > SHORT_USAGE_OPTIONS:
        parser.usage = " ".join(["%(prog)s", *_positional_names(parser), "[options]"])
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                settle_help(child, show_advanced)


def _positional_names(parser: argparse.ArgumentParser) -> list[str]:
    return [str(a.metavar or a.dest.upper()) for a in parser._actions if not a.option_strings]
