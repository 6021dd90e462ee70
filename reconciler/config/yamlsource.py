"""Read one YAML file into plain data plus the line and column of every value.

Safe by construction: only standard tags, a duplicate key is an error (not last-one-wins),
merge keys are refused, and aliases are expanded under a node budget so an alias bomb is
refused at once instead of being expanded. Files over 1 MiB, empty files, multi-document
files and bytes that are not UTF-8 are refused with the position of the problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.diagnostics import Diagnostic, FieldPath, format_field

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 200_000  # after alias expansion; a 1 MiB clinic file has a few tens of thousands
MAX_DEPTH = 64

_Loader: type[yaml.SafeLoader]
try:
    _Loader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based


@dataclass(slots=True)
class YamlDocument:
    """Plain data (dict/list/str/int/float/bool/None) with positions by field path."""

    path: str
    data: Any
    values: dict[FieldPath, Position] = field(default_factory=dict)
    keys: dict[FieldPath, Position] = field(default_factory=dict)
    written: dict[FieldPath, str] = field(default_factory=dict)
    """A scalar YAML did not read as text (``012345``, ``1.50``, ``No``), as the user wrote it."""
    tagged: dict[FieldPath, str] = field(default_factory=dict)
    """A scalar whose explicit tag (``!!int "999990"``) made it other than text: the tag."""
    sha256: str = ""
    """Of the file's bytes."""

    def position(self, path: FieldPath, *, key: bool = False) -> Position:
        """Where ``path`` is written; its key if asked and known, else the nearest ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        probe = tuple(path)
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Position(1, 1))

    def diagnostic(self, path: FieldPath, message: str, **kwargs: Any) -> Diagnostic:
        pos = self.position(path, key=kwargs.pop("at_key", False))
        return Diagnostic(self.path, pos.line, pos.col, format_field(path), message, **kwargs)


class YamlLoadError(Exception):
    """Carries one diagnostic; the caller collects them."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic


def _fail(path: str, line: int, col: int, message: str) -> YamlLoadError:
    return YamlLoadError(Diagnostic(path, line, col, "(document)", message))


def _pos(node: Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


def read_yaml_file(path: Path, display: str | None = None) -> YamlDocument:
    """Load ``path``; raises :class:`YamlLoadError` with a located, friendly message."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(name, 1, 1, f"file is {size:,} bytes; clinic files are limited to 1 MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(name, 1, 1, f"cannot read file: {exc.strerror or exc}") from None
    return parse_yaml_bytes(raw, name)


def parse_yaml_bytes(raw: bytes, name: str) -> YamlDocument:
    if len(raw) > MAX_FILE_BYTES:
        raise _fail(name, 1, 1, f"file is {len(raw):,} bytes; clinic files are limited to 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(
            name, line, col, f"file is not UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise _fail(name, 1, 1, "file is empty; a clinic file starts with 'version: 1'")
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        raise _fail(name, line, col, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(name, 1, 1, f"invalid YAML: {exc}") from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
        raise _fail(name, 1, 1, "file is empty; a clinic file starts with 'version: 1'")
    doc = YamlDocument(name, None, sha256=hashlib.sha256(raw).hexdigest())
    doc.data = _Builder(doc).build(root)
    return doc


class _Builder:
    """Turns a composed node graph into plain data, recording positions as it goes."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.scalars = yaml.constructor.SafeConstructor()
        self.resolver = yaml.resolver.Resolver()

    def build(self, root: Node) -> Any:
        self._check_expansion(root)
        return self._node(root, (), 0)

    def _check_expansion(self, root: Node) -> None:
        """Refuse documents whose aliases expand past the budget, before expanding them.

        Aliases make the node graph a DAG (or, with a recursive anchor, a cycle); its
        expanded size is computed once per distinct node, so a bomb costs microseconds.
        """
        sizes: dict[int, int] = {}
        in_progress: set[int] = set()

        def size(node: Node) -> int:
            key = id(node)
            if key in sizes:
                return sizes[key]
            if key in in_progress:
                pos = _pos(node)
                raise _fail(self.doc.path, pos.line, pos.col, "an alias refers to itself")
            in_progress.add(key)
            total = 1
            if isinstance(node, SequenceNode):
                total += sum(size(item) for item in node.value)
            elif isinstance(node, MappingNode):
                total += sum(size(k) + size(v) for k, v in node.value)
            in_progress.discard(key)
            sizes[key] = total
            if total > MAX_NODES:
                pos = _pos(node)
                raise _fail(
                    self.doc.path,
                    pos.line,
                    pos.col,
                    f"document expands to over {MAX_NODES:,} values through aliases; refused "
                    "(an alias bomb?)",
                )
            return total

        size(root)

    def _node(self, node: Node, path: FieldPath, depth: int) -> Any:
        if depth > MAX_DEPTH:
            pos = _pos(node)
            raise _fail(self.doc.path, pos.line, pos.col, f"nesting deeper than {MAX_DEPTH} levels")
        self.doc.values.setdefault(path, _pos(node))
        if isinstance(node, MappingNode | SequenceNode) and node.tag not in (_MAP, _SEQ):
            pos = _pos(node)
            raise _fail(
                self.doc.path, pos.line, pos.col, f"invalid YAML: unsupported tag {node.tag}"
            )
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self._node(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        value = self._scalar(node)
        if not isinstance(value, str) and node.value:
            self.doc.written[path] = node.value
            plain = not node.style  # None, or "" from the C loader
            resolve: Any = self.resolver.resolve  # untyped in PyYAML
            implicit = resolve(ScalarNode, node.value, (plain, not plain))
            if node.tag != implicit:
                self.doc.tagged[path] = node.tag.replace("tag:yaml.org,2002:", "!!")
        return value

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _TIMESTAMP:
            return node.value  # dates stay text; the schema checks their format
        try:
            value = self.scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            pos = _pos(node)
            raise _fail(self.doc.path, pos.line, pos.col, f"invalid YAML: {exc.problem}") from None
        if not isinstance(value, str | int | float | bool | None):  # !!binary: bytes
            pos = _pos(node)
            raise _fail(
                self.doc.path, pos.line, pos.col, f"invalid YAML: unsupported tag {node.tag}"
            )
        return value

    def _mapping(self, node: MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            kpos = _pos(key_node)
            if key_node.tag == _MERGE:
                raise _fail(self.doc.path, kpos.line, kpos.col, "merge keys (<<) are not supported")
            if not isinstance(key_node, ScalarNode):
                raise _fail(self.doc.path, kpos.line, kpos.col, "a key must be a plain name")
            key = self._scalar(key_node)
            if not isinstance(key, str):
                key = str(key_node.value)
            if key in out:
                first = self.doc.keys[(*path, key)]
                raise YamlLoadError(
                    Diagnostic(
                        self.doc.path,
                        kpos.line,
                        kpos.col,
                        format_field((*path, key)),
                        f"duplicate key '{key}' (first defined on line {first.line})",
                    )
                )
            self.doc.keys[(*path, key)] = kpos
            out[key] = self._node(value_node, (*path, key), depth + 1)
        return out
