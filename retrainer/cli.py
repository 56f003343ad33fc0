"""`retrainer`: the command line of the retraining orchestrator.

COMMANDS is the one registry of commands: name -> (module, one-line help). Only the chosen command's
module is imported, so `retrainer --help` loads no command module and a command against a deployed
stack never loads the local stack, moto, TensorFlow or matplotlib (docs/decisions/0500-lazy-cli.md).
Each command module has `add_arguments(command, parser)`, which adds the command's arguments and sets
`run` (args -> exit code)."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

DESCRIPTION = "the command line of the retraining orchestrator"

COMMANDS: dict[str, tuple[str, str]] = {
    "start": ("retrainer.run_commands", "start a run by hand (through the trigger queue), with parameter overrides"),
    "resume": ("retrainer.run_commands", "continue a failed run from the step that failed"),
    "runs": ("retrainer.run_commands", "recent runs from the run ledger"),
    "show": ("retrainer.run_commands", "one run: trigger, parameters, steps, metrics, models, cost"),
    "deploy": ("retrainer.deploy", "publish the training code, resolve images and sam deploy (dev|prod)"),
    "models": ("retrainer.review", "model versions: key metrics, run, trigger, data version, approval"),
    "compare": ("retrainer.review", "model versions side by side, differences marked"),
    "approve": ("retrainer.review", "set a version's approval status to Approved, with a note"),
    "reject": ("retrainer.review", "set a version's approval status to Rejected, with a note"),
    "report": ("retrainer.report", "one run as a self-contained HTML page with PNG figures"),
    "graph": ("retrainer.graph", "draw the state machine (Mermaid + PNG); with a run, coloured by outcome"),
    "scores": ("retrainer.scores", "scoring runs; with a batch, every scored player (--out FILE)"),
    "local": ("retrainer.local_commands", "the embedded local stack (moto, no AWS account, no Docker)"),
    "ui": ("retrainer.ui", "print (or --open) the MLflow UI where every run is tracked"),
    "demo": ("retrainer.demo", "land synthetic data and follow the retraining run it starts"),
    "invoke": ("retrainer.local_commands", "run one function's real handler on the local stack (as sam local invoke)"),
}


def chosen(argv: list[str]) -> str | None:
    """The command argv names (the root takes no options of its own but -h)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The root parser: every command listed with its help; only the chosen one's arguments are added
    (importing its module). Without argv, every command's arguments (imports every module)."""
    root = argparse.ArgumentParser(prog="retrainer", description=DESCRIPTION)
    commands = root.add_subparsers(dest="command", required=True)
    wanted = set(COMMANDS) if argv is None else {chosen(argv)}
    for name, (module, help_text) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        if name in wanted:
            importlib.import_module(module).add_arguments(name, command)
    return root


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # run as the program (not called in a process that has sockets of its own, e.g. tests)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `retrainer models | head` ends quietly
        argv = sys.argv[1:]
    args = parser(argv).parse_args(argv)
    try:
        return args.run(args)
    except (TimeoutError, RuntimeError) as error:  # StackNotRunning and InvalidRequest are RuntimeErrors
        print(f"retrainer: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 1)


if __name__ == "__main__":
    sys.exit(main())
