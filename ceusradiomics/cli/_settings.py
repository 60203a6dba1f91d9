"""The settings of ``python -m ceusradiomics extract``, derived from the estimators.

A setting is a parameter of :class:`~ceusradiomics.TextureExtractor` or
:class:`~ceusradiomics.ResNetFeaturizer` (one setting when both take it, as
``phases``), plus the command's own ``deep``. Everything the command knows
about one comes from the estimator:

- its name, order and default: ``inspect.signature(Estimator.__init__)``;
- its flag (type, list or not, choices, ``none``): the estimator's
  ``_parameter_constraints`` (see :func:`_flag_kind`);
- its help: the first sentence of its description in the estimator's
  numpydoc docstring (see :func:`parameter_docs`);
- its validation: the estimator itself, once, by ``_validate_params()`` on an
  estimator holding that setting, then the estimator's own resolution of its
  settings (``TextureExtractor._settings()``: families, bits and the
  families' parameters spelled out in full, as ``fit`` validates them). sklearn's
  :class:`~sklearn.utils._param_validation.InvalidParameterError` becomes a
  one-line :class:`SettingsError` naming the flag or the parameter file.

So a new estimator parameter is a flag and a parameter-file key without a
second copy. The same holds for the parameters of texture families
registered with :func:`ceusradiomics.texture._registry.register_family`:
they are the entries of ``TextureExtractor(family_params=...)``, and each is
a setting of its own (name, default, help and constraint from its
:class:`~ceusradiomics.texture._registry.FamilyParameter`).

What the command does differently is written down here, and only here:
:data:`NOT_EXPOSED` (parameters it does not offer) and :data:`OVERRIDES` (a
default that differs on purpose, a value that needs its own parser, a help
text where the docstring's first sentence does not fit, a mapping whose
entries are settings). Any other parameter whose values have no command-line
spelling (a dict without a parser or entries of its own, a callable) is a
parameter-file key only; ``--help`` lists those.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import enum
import inspect
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from ceusradiomics import ResNetFeaturizer, TextureExtractor
from ceusradiomics.deep._weights import NAMED_WEIGHTS, resolve_weights
from ceusradiomics.texture import FAMILIES
from ceusradiomics.texture._registry import family_parameters

__all__ = [
    "DEFAULT_SETTINGS",
    "NOT_EXPOSED",
    "OVERRIDES",
    "RUN_OPTIONS",
    "Setting",
    "SettingsError",
    "add_flags",
    "flag_settings",
    "is_named_weights",
    "make_estimator",
    "parameter_docs",
    "read_params",
    "resolve_settings",
    "setting_specs",
    "values_settings",
]


class SettingsError(ValueError):
    """A setting, a parameter file or an option of the command is invalid.

    The message names the source (the file or the flag), the setting, what is
    expected and what was given; the command prints it and exits with 2.
    """


# --------------------------------------------------------------------------
# What the command does differently from the estimators
# --------------------------------------------------------------------------

#: Estimators whose parameters are settings, by the group of flags they fill.
ESTIMATORS: dict[str, type] = {
    "texture": TextureExtractor,
    "deep": ResNetFeaturizer,
}

#: Parameters the command does not expose, and why. The estimators' own
#: defaults apply.
NOT_EXPOSED: dict[str, str] = {
    "cache": "the in-process feature cache stays on (a chunk that fails is "
    "retried lesion by lesion from it)",
    "verbose": "the command has its own progress bar (--quiet)",
    # A head trained on the labels belongs inside cross-validation, not in a
    # one-off extraction (docs/batch.md): the command extracts the frozen
    # backbone's features only.
    "head": "head training",
    "epochs": "head training",
    "lr": "head training",
    "head_batch_size": "head training",
    "augment": "head training",
}

#: Settings that change the speed, not the values: a resumed run may change
#: them (the others must be those of the stored run).
SPEED_ONLY: tuple[str, ...] = ("n_jobs", "device", "batch_size")

#: The command's options that are not settings: a parameter file naming one
#: gets a hint to pass the flag instead.
RUN_OPTIONS: tuple[str, ...] = (
    "manifest",
    "out",
    "params",
    "id_column",
    "label_column",
    "chunk_size",
    "quiet",
    "fail_fast",
)

_UNSET: Any = object()


@dataclass(frozen=True)
class Override:
    """How the command departs from the estimator for one parameter.

    default
        The command's default, when it differs on purpose.
    parse
        Parser of the flag's text (instead of the one derived from the
        constraints); raises :class:`argparse.ArgumentTypeError`.
    help
        Help text (instead of the docstring's first sentence).
    constraints
        Extra constraints of the command, checked besides the estimator's.
    prepare
        ``prepare(value, base_dir) -> value`` before validation, e.g. a path
        made absolute against the parameter file's folder.
    one_is_scalar
        A list flag given one value passes that value alone (``k``, not
        ``[k]``).
    entries
        ``entries(cls, group) -> settings`` for a mapping parameter whose
        entries are settings of their own (``family_params``); the mapping
        itself is then not a setting.
    """

    default: Any = _UNSET
    parse: Callable[[str], Any] | None = None
    help: str | Callable[[], str] | None = None
    constraints: list | None = None
    prepare: Callable[[Any, Path | None], Any] | None = None
    one_is_scalar: bool = False
    entries: Callable[[type, str], list[Setting]] | None = None


def _parse_bits(text: str) -> int | dict[str, int]:
    """``--bits 6`` (every family) or ``--bits glcm=6,rlm=5`` (those families)."""
    try:
        if "=" not in text:
            return int(text)
        pairs = (item.split("=") for item in text.split(","))
        return {family.strip(): int(value) for family, value in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int (e.g. 6) or family=int pairs (e.g. glcm=6,rlm=6); "
            f"got {text!r}"
        ) from None


def _parse_margin(text: str) -> int | float:
    """An int is pixels, anything else a fraction (as ResNetFeaturizer reads it)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number (0.1 = 10% of the ROI box, 8 = 8 pixels); "
                f"got {text!r}"
            ) from None


def is_named_weights(value: Any) -> bool:
    """Whether ``weights`` names torchvision's weights (not a file, not None)."""
    return isinstance(value, str) and (
        value.removeprefix("ResNet50_Weights.") in NAMED_WEIGHTS
    )


def _prepare_weights(value: Any, base_dir: Path | None) -> Any:
    """``none`` -> None; a file made absolute (a parameter file's paths are
    relative to the file, as a manifest's are) so the sidecar names it.

    A missing file is reported by the weights module's own check.
    """
    if isinstance(value, str) and value.lower() == "none":
        return None
    if not isinstance(value, str | os.PathLike) or is_named_weights(value):
        return value  # None, a name, or a wrong type for the estimator to refuse
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return str(resolve_weights(str(path))[1])


#: Per-parameter departures from the estimators (see :class:`Override`).
OVERRIDES: dict[str, Override] = {
    # the registry at the time of the call: a family registered later counts
    "families": Override(help=lambda: f"Subset of {' '.join(FAMILIES)} (default: all)"),
    "bits": Override(
        parse=_parse_bits,
        help=lambda: (
            "Bits of the working image: 6 (every family) or glcm=6,rlm=5 "
            "(those families; the others keep their default: "
            + ", ".join(f"{key}={f.default_bits}" for key, f in FAMILIES.items())
            + ")"
        ),
    ),
    # One value k means the scales 1..k (the estimator's int), several the
    # scales listed.
    "wavelet_scales": Override(one_is_scalar=True),
    # The registered texture families' own parameters, one setting each.
    "family_params": Override(entries=lambda cls, group: _family_entries(cls, group)),
    "weights": Override(
        prepare=_prepare_weights,
        help=f"{', '.join(NAMED_WEIGHTS)}, a state-dict file or none (a random "
        "network seeded by --random-state)",
    ),
    "crop_margin": Override(
        parse=_parse_margin,
        help="Context around the ROI box: 0.1 = 10%% of its size, 8 = 8 pixels",
    ),
    # A fixed seed, not None: every chunk and every resumed run must build the
    # same random network.
    "random_state": Override(
        default=0,
        constraints=[Interval(Integral, 0, 2**32 - 1, closed="both")],
        help="Seed of the random network of --weights none",
    ),
}


# --------------------------------------------------------------------------
# The docstrings
# --------------------------------------------------------------------------


def parameter_docs(cls: type) -> dict[str, tuple[str, str]]:
    """``name -> (type, description)`` of the numpydoc Parameters section.

    Examples
    --------
    >>> from ceusradiomics import TextureExtractor
    >>> from ceusradiomics.cli._settings import parameter_docs
    >>> parameter_docs(TextureExtractor)["distances"]
    ('sequence of int, default=(1, 2, 3, 4, 5)', 'Co-occurrence distances.')
    """
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    docs: dict[str, list] = {}
    inside = False
    names: list[str] = []
    for i, line in enumerate(lines):
        underline = i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1])
        if underline and line.strip():
            inside = line.strip() == "Parameters"
            names = []
            continue
        if not inside or re.fullmatch(r"-{3,}", line):
            continue
        if line and not line[0].isspace():  # "name : type" or "a, b : type"
            head, _, spec = line.partition(" : ")
            names = [name.strip() for name in head.split(",")]
            for name in names:
                docs[name] = [spec.strip(), []]
        elif names:
            for name in names:
                docs[name][1].append(line.strip())
    return {
        name: (spec, " ".join(t for t in text if t))
        for name, (spec, text) in docs.items()
    }


def _plain_rst(text: str) -> str:
    """Inline reST as plain text: ``x``, :func:`~a.b`, `x` -> x, b, x."""
    text = re.sub(r":\w+:`~?([^`]*\.)?([^`.]+)`", r"\2", text)
    return text.replace("``", "").replace("`", "")


def _first_sentence(text: str) -> str:
    text = _plain_rst(text)
    # the first full stop that ends a sentence (not the one of "e.g." or "i.e.")
    match = re.match(r"(.+?)(?<!e\.g)(?<!i\.e)\.(?:\s|$)", text)
    sentence = match.group(1) if match else text.rstrip(".")
    sentence = re.sub(r"\(\(([^()]*)\)\)", r"(\1)", sentence)  # ((``a``)) -> (a)
    return sentence.replace("%", "%%")  # argparse formats help with %


# --------------------------------------------------------------------------
# One setting
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """A setting of the command: a parameter file key and, mostly, a flag."""

    name: str
    group: str  # "texture" or "deep": the flag's group
    owners: tuple[type, ...]  # the estimators taking it (none: the command's)
    default: Any
    constraints: Any  # the first owner's, or the command's
    help: str
    spec: str = ""  # the docstring's type, e.g. '{"keep", "zero"}, default="keep"'
    override: Override = field(default_factory=Override)
    via: str | None = None  # passed as an entry of this mapping parameter

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def kind(self) -> dict[str, Any] | None:
        """The flag's argparse keywords; None: a parameter-file key only."""
        return _flag_kind(self)

    @property
    def changes_values(self) -> bool:
        return self.name not in SPEED_ONLY


def _checked(constraints: Any) -> list:
    """The constraints to validate with (none for ``"no_validation"``)."""
    if isinstance(constraints, str):  # "no_validation"
        return []
    return [c for c in constraints if not (isinstance(c, str) and c == "no_validation")]


def _constraint_list(constraints: Any) -> list:
    """The constraints that the flag offers: Hidden ones are internal."""
    return [c for c in _checked(constraints) if not isinstance(c, Hidden)]


def _types_of(setting: Setting) -> dict[str, Any]:
    """What the constraints (or, without any, the default) allow."""
    allowed = {
        "none": False,
        "bool": False,
        "int": False,
        "float": False,
        "str": False,
        "choices": None,
        "list": False,
        "dict": False,
    }
    constraints = _constraint_list(setting.constraints)
    for c in constraints:
        if c is None:
            allowed["none"] = True
        elif isinstance(c, StrOptions):
            allowed["choices"] = _ordered(c.options, setting.spec)
        elif isinstance(c, Interval):
            allowed["int" if c.type is Integral else "float"] = True
        elif c == "boolean" or c is bool:
            allowed["bool"] = True
        elif c == "random_state" or c in (int, Integral):
            allowed["int"] = True
        elif c in (float, Real):
            allowed["float"] = True
        elif c is str or c is os.PathLike:
            allowed["str"] = True
        elif c in ("array-like", list, tuple):
            allowed["list"] = True
        elif c is dict or c is Mapping:
            allowed["dict"] = True
        # enum.Enum (a weights member), callables, "verbose", ...: no
        # command-line spelling of their own.
    if not constraints:  # "no_validation": the default's type
        default = setting.default
        if isinstance(default, bool):
            allowed["bool"] = True
        elif isinstance(default, Integral):
            allowed["int"] = True
        elif isinstance(default, Real):
            allowed["float"] = True
        elif isinstance(default, str | enum.Enum) or default is None:
            allowed["str"] = True
    return allowed


def _ordered(options: set[str], spec: str) -> tuple[str, ...]:
    """The options in the docstring's order (``{"none", "3sigma", ...}``)."""
    match = re.search(r"\{([^{}]*)\}", spec)
    if match:
        listed = [item.strip().strip("\"'") for item in match.group(1).split(",")]
        if set(listed) == set(options):
            return tuple(listed)
    return tuple(sorted(options))


def _item_parser(allowed: dict[str, Any], items: tuple | None) -> Callable:
    """Parser of one value of the flag (``none``, a bool, a number or a name).

    `items`: the default's values, for a list (``"array-like"``) whose
    constraints do not say the type of its items.
    """
    items = items or ()
    as_int = allowed["int"] or (bool(items) and all(_is_int(v) for v in items))
    as_float = allowed["float"] or (
        bool(items)
        and all(isinstance(v, Real) and not isinstance(v, Integral) for v in items)
    )
    as_bool = allowed["bool"]
    expected = [
        word
        for word, ok in (
            ("none", allowed["none"]),
            ("true or false", as_bool),
            ("an integer", as_int),
            ("a number", as_float),
        )
        if ok
    ]

    def parse(text: str) -> Any:
        lowered = text.strip().lower()
        if allowed["none"] and lowered == "none":
            return None
        if as_bool and lowered in ("true", "false", "yes", "no", "on", "off"):
            return lowered in ("true", "yes", "on")
        if as_int:
            with contextlib.suppress(ValueError):
                return int(text)
        if as_float:
            with contextlib.suppress(ValueError):
                return float(text)
        if allowed["str"] or allowed["choices"] or not (as_int or as_float):
            return text
        raise argparse.ArgumentTypeError(
            f"expected {' or '.join(expected)}; got {text!r}"
        )

    return parse


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name.removesuffix("s")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)


def _flag_kind(setting: Setting) -> dict[str, Any] | None:
    """The flag's argparse keywords, from the constraints and the overrides."""
    allowed = _types_of(setting)
    override = setting.override
    help_text = setting.help
    if setting.default is not None and "default" not in help_text:
        help_text += f" (default: {_show(setting.default)})"
    kwargs: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS}
    if override.parse is not None:
        return {**kwargs, "type": override.parse, "metavar": setting.name.upper()}
    scalar = allowed["none"] or allowed["int"] or allowed["float"] or allowed["str"]
    if allowed["list"]:
        default = setting.default
        items = tuple(default) if isinstance(default, list | tuple) else None
        parse = _item_parser(allowed, items)
        return {
            **kwargs,
            # each value may itself be a comma-separated list: 1 2 or 1,2
            "type": lambda text: [parse(item) for item in text.split(",") if item],
            "nargs": "+",
            "metavar": _singular(setting.name).upper(),
        }
    if allowed["dict"]:
        return None  # no command-line spelling: a parameter-file key only
    if allowed["bool"] and not scalar and not allowed["choices"]:
        return {**kwargs, "action": argparse.BooleanOptionalAction}
    if allowed["choices"] and not scalar and not allowed["bool"]:
        return {**kwargs, "choices": allowed["choices"]}
    if not (scalar or allowed["bool"] or allowed["choices"]):
        return None  # e.g. only a callable: a parameter-file key only
    parse = _item_parser(allowed, None)
    if allowed["choices"]:
        help_text += f"; one of {', '.join(allowed['choices'])}"
        kwargs["help"] = help_text
    return {**kwargs, "type": parse, "metavar": setting.name.upper()}


# --------------------------------------------------------------------------
# Every setting
# --------------------------------------------------------------------------

#: The command's own settings, by group: first in their group of flags.
_COMMAND_SETTINGS: dict[str, tuple[Setting, ...]] = {
    "deep": (
        Setting(
            name="deep",
            group="deep",
            owners=(),
            default=False,
            constraints=["boolean"],
            help="Also extract ResNet-50 features (needs the [deep] extra)",
        ),
    ),
}


def _family_entries(cls: type, group: str) -> list[Setting]:
    """The registered texture families' parameters, as settings passed in
    ``family_params`` (those that are parameters of `cls` already, such as
    ``distances``, are settings as such)."""
    own = inspect.signature(cls.__init__).parameters
    return [
        Setting(
            name=p.name,
            group=group,
            owners=(cls,),
            default=_plain(p.default),
            constraints=p.constraint,
            help=p.help[:1].upper() + p.help[1:].replace("%", "%%"),
            via="family_params",
        )
        for p in family_parameters().values()
        if p.name not in own
    ]


def setting_specs() -> dict[str, Setting]:
    """Every setting of the command, in order: texture, ``deep``, network.

    Derived on each call (it is cheap), so that an estimator's parameters or
    a texture family registered at run time are always current.
    """
    specs: dict[str, Setting] = {}
    for group, cls in ESTIMATORS.items():
        for setting in _COMMAND_SETTINGS.get(group, ()):
            specs[setting.name] = setting
        docs = parameter_docs(cls)
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name == "self" or parameter.kind in (
                parameter.VAR_POSITIONAL,
                parameter.VAR_KEYWORD,
            ):
                continue
            if name in NOT_EXPOSED:
                continue
            if name in specs:  # a parameter of both estimators: one setting
                specs[name] = replace(specs[name], owners=(*specs[name].owners, cls))
                continue
            override = OVERRIDES.get(name, Override())
            if override.entries is not None:
                for entry in override.entries(cls, group):
                    specs.setdefault(entry.name, entry)
                continue
            spec, description = docs.get(name, ("", name.replace("_", " ")))
            text = override.help() if callable(override.help) else override.help
            default = (
                parameter.default if override.default is _UNSET else override.default
            )
            specs[name] = Setting(
                name=name,
                group=group,
                owners=(cls,),
                default=_plain(default),
                constraints=cls._parameter_constraints.get(name, "no_validation"),
                help=text or _first_sentence(description),
                spec=spec,
                override=override,
            )
    clash = set(specs) & set(RUN_OPTIONS)
    if clash:  # argparse would refuse the second flag anyway
        raise AssertionError(f"settings named like options of the command: {clash}")
    return specs


def _plain(value: Any) -> Any:
    """JSON-ready: tuples as lists, numpy scalars as Python's, recursively."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _default_settings() -> dict[str, Any]:
    return {name: spec.default for name, spec in setting_specs().items()}


#: Every setting of the command, with its default, as derived at import: the
#: keys a parameter file may hold and (mostly) the flags of ``python -m
#: ceusradiomics extract``.
DEFAULT_SETTINGS: dict[str, Any] = _default_settings()


# --------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------


def add_flags(
    groups: Mapping[str, argparse._ArgumentGroup], exclude: tuple[str, ...] = ()
) -> list[str]:
    """Add a flag per setting to its group; return the file-only settings.

    The flags default to SUPPRESS: only those given appear in the namespace,
    so that they override the parameter file and nothing else. Settings in
    `exclude` get no flag (a command that decides them itself).
    """
    file_only = []
    for setting in setting_specs().values():
        if setting.name in exclude:
            continue
        kind = setting.kind
        if kind is None:
            file_only.append(setting.name)
        else:
            groups[setting.group].add_argument(setting.flag, **kind)
    return file_only


def flag_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings given as flags, as a parameter file would spell them."""
    flags = {}
    for name, setting in setting_specs().items():
        if name not in given:
            continue
        value = given[name]
        if setting.kind is not None and setting.kind.get("nargs") == "+":
            value = [item for items in value for item in items]  # 1,2 3 -> 1 2 3
            if value == [None]:  # "--phases none": the estimator's None
                value = None
            elif setting.override.one_is_scalar and len(value) == 1:
                value = value[0]
        flags[name] = value
    return flags


# --------------------------------------------------------------------------
# Parameter files and validation
# --------------------------------------------------------------------------


def _unknown_key_error(key: Any, source: str) -> SettingsError:
    valid = ", ".join(setting_specs())
    if key in RUN_OPTIONS:
        flag = "--" + str(key).replace("_", "-")
        return SettingsError(
            f"{source}: {key!r} is an option of the command, not a setting: pass "
            f"{flag} on the command line. Valid settings are: {valid}"
        )
    parents = {s.via for s in setting_specs().values() if s.via}
    if key in parents:
        entries = [n for n, s in setting_specs().items() if s.via == key]
        return SettingsError(
            f"{source}: {key!r} is not a setting: its entries are settings of "
            f"their own ({', '.join(entries) or 'none registered'}). Valid "
            f"settings are: {valid}"
        )
    if key in NOT_EXPOSED:
        return SettingsError(
            f"{source}: {key!r} is not a setting of the command "
            f"({NOT_EXPOSED[key]}). Valid settings are: {valid}"
        )
    hint = difflib.get_close_matches(str(key), list(setting_specs()), n=1)
    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
    return SettingsError(
        f"{source}: unknown setting {key!r}{did_you_mean}. Valid settings are: {valid}"
    )


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a parameter file (JSON, or YAML with PyYAML) into a dict.

    Only the syntax and the top-level shape are checked here;
    :func:`resolve_settings` checks the keys and the values.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.json``, ``.yaml`` or ``.yml`` file holding one mapping of
        setting names to values (an empty YAML file is an empty mapping).

    Returns
    -------
    dict
        The mapping as read.

    Raises
    ------
    SettingsError
        If the file does not exist, its extension is another, it does not
        parse (the message gives the line), it holds something other than a
        mapping, or it is YAML and PyYAML is not installed.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from ceusradiomics.cli.extract import read_params
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "settings.json")
    >>> with open(path, "w") as fh:
    ...     json.dump({"families": ["hist", "glcm"], "distances": [1, 2]}, fh)
    >>> read_params(path)
    {'families': ['hist', 'glcm'], 'distances': [1, 2]}
    """
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise SettingsError(
            f"--params must be a .json, .yaml or .yml file; got {str(path)!r}"
        )
    if not path.is_file():
        raise SettingsError(f"--params: no such parameter file: '{path}'")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}"
            ) from None
    else:
        try:
            import yaml
        except ImportError:
            raise SettingsError(
                f"{name}: reading YAML needs PyYAML (pip install PyYAML); or write "
                "the same settings as JSON (settings.json)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SettingsError(f"{name}: not valid YAML: {exc}") from None
        if data is None:  # an empty or all-comment file
            data = {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"{name}: a parameter file must hold a mapping of setting names to "
            f"values (e.g. 'distances: [1, 2]'); got a {type(data).__name__}"
        )
    return data


def _spelled_out(estimator: Any) -> dict[str, Any]:
    """The estimator's own resolution of its settings, as ``fit`` runs it.

    TextureExtractor resolves its settings into a ``TexturePlan`` (checking
    them: unknown families, repeated distances, a family parameter's own
    check, ...) that spells out the families, their bits and the families'
    parameters (distances, wavelet scales, ...); the network has nothing to
    spell out.
    """
    if isinstance(estimator, TextureExtractor):
        plan = estimator._settings()
        return {
            "families": list(plan.families),
            "normalization": plan.normalization,
            "bits": dict(plan.bits),
            **dict(plan.params),
        }
    return {}


def _reason(
    exc: InvalidParameterError, setting: Setting, value: Any, caller: str
) -> str:
    """sklearn's "The 'x' parameter of C must be A. Got v instead." as
    "x must be A; got v" (or the message as it is, if worded otherwise);
    options in the docstring's order rather than a set's."""
    name = setting.name
    constraints = _constraint_list(setting.constraints)
    if len(constraints) == 1 and isinstance(constraints[0], StrOptions):
        choices = list(_types_of(setting)["choices"])
        return f"{name} must be one of {choices}; got {value!r}"
    text = str(exc)
    head = f"The {name!r} parameter of {caller} must be "
    tail = " instead."
    expected, got_sep, got = text[len(head) : -len(tail)].rpartition(". Got ")
    if text.startswith(head) and text.endswith(tail) and got_sep:
        return f"{name} must be {expected}; got {got}"
    return text


def _check(setting: Setting, value: Any, source: str) -> None:
    """Validate one setting by the estimators that take it (and by the
    command's own constraint, if any); raise a :class:`SettingsError` that
    names `source` (the flag or the parameter file)."""
    name = setting.name
    # The command's own constraint, or the one of a setting that no
    # _parameter_constraints covers (the command's own, a family parameter's).
    command = _checked(
        setting.override.constraints
        or (setting.constraints if setting.via or not setting.owners else [])
    )
    caller = "the extract command"
    try:
        if command:
            validate_parameter_constraints(
                {name: command}, {name: value}, caller_name=caller
            )
        for cls in setting.owners:
            caller = cls.__name__
            given = {setting.via: {name: value}} if setting.via else {name: value}
            estimator = cls(**given)
            estimator._validate_params()
            _spelled_out(estimator)
    except InvalidParameterError as exc:
        reason = _reason(exc, setting, value, caller)
        raise SettingsError(f"{source}: {reason}") from None
    except (TypeError, ValueError) as exc:  # the estimator's own resolution
        raise SettingsError(f"{source}: {exc}") from None


def resolve_settings(
    params: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The effective settings: defaults, then a parameter file, then flags.

    A flag given on the command line replaces the parameter file's value of
    the same setting as a whole (``--bits glcm=4`` replaces a file's ``bits``
    mapping; it is not merged into it). Every value is validated by the
    estimator that takes it and spelled out by it: families, bits, distances
    and wavelet scales in full; weights files are made absolute (a parameter
    file's relative paths are relative to the file), so the result fully
    describes the run and can itself be used as a parameter file.

    Parameters
    ----------
    params : str or os.PathLike, optional
        A JSON or YAML parameter file (:func:`read_params`).
    overrides : mapping, optional
        Settings given as flags, by setting name.

    Returns
    -------
    dict
        Every key of :data:`DEFAULT_SETTINGS`, validated.

    Raises
    ------
    SettingsError
        For an unknown key (the message lists the valid ones and suggests a
        close match) or a value the estimator refuses (the message names the
        source: the file or the flag, then the estimator's reason).

    Examples
    --------
    >>> from ceusradiomics.cli.extract import resolve_settings
    >>> settings = resolve_settings(overrides={"bits": 4, "wavelet_scales": 2})
    >>> settings["bits"]["glcm"], settings["wavelet_scales"]
    (4, [1, 2])
    >>> resolve_settings(overrides={"distance": [1]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ceusradiomics.cli._settings.SettingsError: flags: unknown setting 'distance' (did you mean 'distances'?). Valid settings are: phases, families, ...
    >>> resolve_settings(overrides={"image_size": 16})
    Traceback (most recent call last):
    ...
    ceusradiomics.cli._settings.SettingsError: --image-size: image_size must be an int in the range [32, inf); got 16
    """  # noqa: E501
    specs = setting_specs()
    given: dict[str, tuple[Any, str, Path | None]] = {}
    if params is not None:
        path = Path(params)
        for key, value in read_params(path).items():
            if key not in specs:
                raise _unknown_key_error(key, path.name)
            given[key] = (value, path.name, path.resolve().parent)
    for key, value in (overrides or {}).items():
        if key not in specs:
            raise _unknown_key_error(key, "flags")
        given[key] = (value, specs[key].flag, None)

    settings: dict[str, Any] = {}
    for name, setting in specs.items():
        value, source, base_dir = given.get(name, (setting.default, "default", None))
        try:
            if setting.override.prepare is not None:
                value = setting.override.prepare(value, base_dir)
        except (TypeError, ValueError, OSError) as exc:
            raise SettingsError(f"{source}: {exc}") from None
        _check(setting, value, source)
        settings[name] = value
    # The estimators' own spelling of the whole (checked setting by setting
    # above, so this raises nothing new).
    for group in ESTIMATORS:
        estimator = make_estimator(settings, group)
        try:
            resolved = _spelled_out(estimator)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{group} settings: {exc}") from None
        params = estimator.get_params(deep=False)
        settings.update(
            {k: v for k, v in resolved.items() if k in params and k in settings}
        )
    return {name: _plain(value) for name, value in settings.items()}


def values_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that change the values: a resumed run must agree on them.

    The speed-only settings (:data:`SPEED_ONLY`) may change, and the
    network's settings matter only with ``deep``.
    """
    return {
        name: settings[name]
        for name, setting in setting_specs().items()
        if setting.changes_values
        and (not setting.owners or setting.group != "deep" or settings["deep"])
    }


def make_estimator(settings: Mapping[str, Any], group: str, **extra: Any) -> Any:
    """The estimator of `group` (``"texture"``, ``"deep"``) with its settings.

    `extra` adds or replaces keyword arguments (``verbose``, the phases found).
    """
    cls = ESTIMATORS[group]
    params: dict[str, Any] = {}
    for name, setting in setting_specs().items():
        if cls not in setting.owners:
            continue
        if setting.via:  # an entry of a mapping parameter (family_params)
            params.setdefault(setting.via, {})[name] = settings[name]
        else:
            params[name] = settings[name]
    return cls(**{**params, **extra})
