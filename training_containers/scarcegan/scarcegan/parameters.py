"""Run parameters as the scripts see them: parameters.json (next to the entry points) is the one source.

Each script parses its family's parameters with `parse_family(family, argv, parser)`: every parameter
becomes ``--kebab-case`` (``--snake_case`` accepted too, as SageMaker users write it), typed and checked
against the schema's choices, range and pattern; a name the family does not list is refused with one
line, ``ERROR: arguments: unknown parameter --x (allowed: ...)``, and exit code 1. SageMaker's own
arguments (``sagemaker_*``, the TensorFlow image's ``--model_dir``, a bring-your-own image's ``train``)
are ignored, not refused.

Public API (kept stable; other scripts import it): `load_schema`, `family_schema`, `family_defaults`,
`validate_family`, `add_family_arguments`, `parse_family`, `SCHEMA_PATH`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from .errors import DataError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "parameters.json"
SOURCE = "arguments"
# Arguments SageMaker adds on its own: never a typo of ours, so ignored rather than refused.
IGNORED_PREFIXES = ("sagemaker_", "sagemaker-")
IGNORED_NAMES = ("model_dir", "model-dir")  # TensorFlow script mode passes --model_dir s3://...
IGNORED_POSITIONALS = ("train", "serve")  # `docker run <image> train` for bring-your-own images
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


@lru_cache(maxsize=4)
def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The whole parameters.json (``{"families": {name: {"step", "description", "parameters"}}}``)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(str(path), f"parameter schema cannot be read: {exc}") from None


def family_schema(name: str, path: str | Path = SCHEMA_PATH) -> dict:
    """``{kebab-name: {"type", "default", "choices"|"min"|"max"|"pattern", "help"}}`` of one family."""
    families = load_schema(path)["families"]
    if name not in families:
        raise DataError(SOURCE, f"unknown parameter family {name!r} (known: {', '.join(families)})")
    return families[name]["parameters"]


def family_defaults(name: str, path: str | Path = SCHEMA_PATH) -> dict:
    """``{snake_name: default}`` of one family."""
    return {_snake(k): spec.get("default") for k, spec in family_schema(name, path).items()}


def convert(name: str, spec: Mapping, raw: object) -> object:
    """One value (a string as SageMaker sends it, or already typed) -> the schema's type, checked.

    Raises DataError("arguments", "--name ...") naming what is allowed.
    """
    flag = f"--{_kebab(name)}"
    kind = spec.get("type", "str")
    text = raw.strip().strip('"') if isinstance(raw, str) else raw
    try:
        if kind == "bool":
            if isinstance(text, bool):
                value: object = text
            elif str(text).lower() in _TRUE:
                value = True
            elif str(text).lower() in _FALSE:
                value = False
            else:
                raise ValueError
        elif kind == "int":
            if isinstance(text, bool):
                raise ValueError
            number = float(text)
            if not number.is_integer():
                raise ValueError
            value = int(number)
        elif kind == "float":
            if isinstance(text, bool):
                raise ValueError
            value = float(text)
            if value != value:  # NaN
                raise ValueError
        else:
            value = str(text)
    except (TypeError, ValueError):
        raise DataError(SOURCE, f"{flag} expects {kind}, got {raw!r}") from None
    choices = spec.get("choices")
    if choices is not None and value not in choices:
        raise DataError(SOURCE, f"{flag} must be one of {', '.join(map(str, choices))}, got {value!r}")
    low, high = spec.get("min"), spec.get("max")
    if low is not None and value < low or high is not None and value > high:
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise DataError(SOURCE, f"{flag} must be in {bounds}, got {value!r}")
    pattern = spec.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, str(value)):
        raise DataError(SOURCE, f"{flag} must match {pattern}, got {value!r}")
    return value


def validate_family(name: str, values: Mapping[str, object], path: str | Path = SCHEMA_PATH,
                    ignore_unknown: bool = False) -> dict:
    """``{name: raw}`` (kebab or snake keys) -> ``{snake_name: typed}``: the defaults, then these values.

    Unknown names raise DataError unless SageMaker's own or `ignore_unknown`.
    """
    schema = family_schema(name, path)
    typed = family_defaults(name, path)
    for key, raw in values.items():
        kebab = _kebab(str(key))
        if kebab not in schema:
            if ignore_unknown or _ignored(str(key)):
                continue
            raise DataError(SOURCE, f"unknown parameter --{kebab} (allowed: "
                                    f"{', '.join('--' + k for k in schema)})")
        typed[_snake(kebab)] = convert(kebab, schema[kebab], raw)
    return typed


def add_family_arguments(parser: argparse.ArgumentParser, name: str,
                         path: str | Path = SCHEMA_PATH) -> argparse.ArgumentParser:
    """Add one ``--kebab-case`` (alias ``--snake_case``) option per parameter; values typed and checked."""
    for kebab, spec in family_schema(name, path).items():
        flags = list(dict.fromkeys((f"--{kebab}", f"--{_snake(kebab)}")))
        parser.add_argument(*flags, dest=_snake(kebab), default=spec.get("default"),
                            type=_checked(kebab, spec), metavar=spec.get("type", "str").upper(),
                            help=spec.get("help"))
    return parser


def parse_family(name: str, argv: Sequence[str] | None = None,
                 parser: argparse.ArgumentParser | None = None,
                 path: str | Path = SCHEMA_PATH) -> argparse.Namespace:
    """Parse a script's arguments: its own (already on `parser`, e.g. --base-dir) and its family's.

    Bad input prints one ``ERROR: arguments: ...`` line on stderr and exits 1 (SystemExit(1)).
    Attributes are snake_case (``args.input_format``).
    """
    parser = parser or argparse.ArgumentParser()
    parser.error = _exit_with_error  # type: ignore[method-assign]
    parser.allow_abbrev = False  # --fold is not --folds: a typo is refused, not guessed
    add_family_arguments(parser, name, path)
    args, unknown = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    refused = _refused(unknown)
    if refused:
        allowed = [o for a in parser._actions for o in a.option_strings[:1]  # noqa: SLF001
                   if o.startswith("--") and o != "--help"]
        _exit_with_error(f"unknown parameter {refused} (allowed: {', '.join(allowed)})")
    return args


def _refused(unknown: list[str]) -> str | None:
    """The first unknown token that is not one of SageMaker's own arguments (or its value)."""
    skipping_value = False
    for index, token in enumerate(unknown):
        if token.startswith("-"):
            flag = token.split("=", 1)[0]
            if not _ignored(flag.lstrip("-")):
                return flag
            skipping_value = "=" not in token
        elif skipping_value:
            skipping_value = False
        elif not (index == 0 and token in IGNORED_POSITIONALS):
            return repr(token)
    return None


def _ignored(name: str) -> bool:
    return name.startswith(IGNORED_PREFIXES) or name in IGNORED_NAMES


def _checked(name: str, spec: Mapping):
    def parse(raw: str) -> object:
        try:
            return convert(name, spec, raw)
        except DataError as exc:
            raise argparse.ArgumentTypeError(exc.problem) from None
    parse.__name__ = spec.get("type", "str")
    return parse


def _exit_with_error(message: str) -> None:
    # argparse words a type error as "argument --x/--x_y: <ours>": keep ours, it names the flag
    message = re.sub(r"^argument [^:]+: (?=--)", "", message)
    print(DataError(SOURCE, message).line(), file=sys.stderr, flush=True)
    raise SystemExit(1)


def _kebab(name: str) -> str:
    return name.lstrip("-").replace("_", "-")


def _snake(name: str) -> str:
    return name.lstrip("-").replace("-", "_")
