"""A small JQL subset: enough for backups (bounded by project, incremental by `updated`).

Supported: `field op value` clauses joined by AND / OR with parentheses and NOT; operators
= != > >= < <= IN, NOT IN, ~, IS [NOT] EMPTY; fields project, key/issuekey, id, created,
updated, status, issuetype/type, assignee, reporter, labels, summary, text, parent (key or id)
and sprint (id or name); ORDER BY one or more of key, id, created, updated, project, rank,
ASC|DESC. Dates are "yyyy-MM-dd", "yyyy-MM-dd HH:mm" or relative ("-5d", "-2h") and are
read in UTC (every sandbox account's time zone).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.content import headline
from sandbox.model import Issue, Site

UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)

TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|>=|<=|!~|=|>|<|~|\(|\)|,)
      | (?P<word>[^\s=!<>~(),"']+)
    )""",
    re.VERBOSE,
)
DOC_FIELDS = {"status", "issuetype", "type", "assignee", "reporter", "labels", "summary", "text"}
DATE_FIELDS = {"created", "updated"}
STRUCTURE_FIELDS = {"parent", "sprint"}
KNOWN_FIELDS = {"project", "key", "issuekey", "id"} | DATE_FIELDS | DOC_FIELDS | STRUCTURE_FIELDS


class JqlError(ValueError):
    """A 400 with Jira's error message."""


@dataclass
class Query:
    predicate: Callable[[Issue], bool]
    order: list[tuple[str, bool]]  # (field, descending)
    needs_doc: bool


def parse(text: str, site: Site, now: float, doc_of: Callable[[Issue], dict]) -> Query:
    tokens = _tokenize(text)
    parser = _Parser(tokens, site, now, doc_of)
    predicate = None
    if parser.peek() is not None and not parser.at_order_by():
        predicate = parser.expr()
    order = parser.order_by()
    if parser.peek() is not None:
        raise JqlError(
            f"Error in the JQL Query: Expecting end of query but got '{parser.peek()[1]}'."
        )
    if predicate is None:
        raise JqlError(UNBOUNDED)
    return Query(predicate, order or [("id", False)], parser.needs_doc)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: The character '{text[pos]}' is reserved.")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
    return tokens


class _Parser:
    def __init__(self, tokens, site: Site, now: float, doc_of) -> None:
        self.tokens, self.pos = tokens, 0
        self.site, self.now, self.doc_of = site, now, doc_of
        self.needs_doc = False

    def peek(self, offset: int = 0):
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self):
        token = self.peek()
        if token is None:
            raise JqlError("Error in the JQL Query: The query ended unexpectedly.")
        self.pos += 1
        return token

    def word_is(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == "word" and token[1].lower() == word

    def at_order_by(self) -> bool:
        return self.word_is("order") and self.word_is("by", 1)

    def expr(self):
        left = self.conjunction()
        while self.word_is("or"):
            self.next()
            right = self.conjunction()
            left = (lambda a, b: lambda i: a(i) or b(i))(left, right)
        return left

    def conjunction(self):
        left = self.unary()
        while self.word_is("and"):
            self.next()
            right = self.unary()
            left = (lambda a, b: lambda i: a(i) and b(i))(left, right)
        return left

    def unary(self):
        if self.word_is("not"):
            self.next()
            inner = self.unary()
            return lambda i: not inner(i)
        if self.peek() == ("op", "("):
            self.next()
            inner = self.expr()
            if self.next() != ("op", ")"):
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            return inner
        return self.clause()

    def clause(self):
        kind, field = self.next()
        if kind not in ("word", "string"):
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{field}'.")
        field = field.lower()
        if field not in KNOWN_FIELDS:
            raise JqlError(
                f"Field '{field}' does not exist or you do not have permission to view it."
            )
        op = self._operator()
        if op in ("is", "is not"):
            if not (self.word_is("empty") or self.word_is("null")):
                raise JqlError("Error in the JQL Query: Expecting EMPTY or NULL.")
            self.next()
            getter = self._getter(field)
            empty = lambda i: getter(i) in (None, [], "")  # noqa: E731
            return empty if op == "is" else (lambda i: not empty(i))
        values = self._values() if op in ("in", "not in") else [self._value()]
        return self._compare(field, op, values)

    def _operator(self) -> str:
        kind, value = self.next()
        if kind == "op" and value not in "(),":
            return value
        lower = value.lower()
        if lower == "in":
            return "in"
        if lower == "is":
            if self.word_is("not"):
                self.next()
                return "is not"
            return "is"
        if lower == "not" and self.word_is("in"):
            self.next()
            return "not in"
        raise JqlError(f"Error in the JQL Query: Expecting operator but got '{value}'.")

    def _value(self) -> str:
        kind, value = self.next()
        if kind == "op":
            raise JqlError(f"Error in the JQL Query: Expecting a value but got '{value}'.")
        return value

    def _values(self) -> list[str]:
        if self.next() != ("op", "("):
            raise JqlError("Error in the JQL Query: Expecting '(' after IN.")
        values = [self._value()]
        while self.peek() == ("op", ","):
            self.next()
            values.append(self._value())
        if self.next() != ("op", ")"):
            raise JqlError("Error in the JQL Query: Expecting ')'.")
        return values

    def _getter(self, field: str) -> Callable[[Issue], Any]:
        if field == "project":
            return lambda i: i.project_id
        if field in ("key", "issuekey"):
            return lambda i: i.key
        if field == "id":
            return lambda i: i.id
        if field in DATE_FIELDS:
            return lambda i: getattr(i, field)
        site = self.site
        if field == "parent":
            return lambda i: site.issues[site.parents[i.id]].key if i.id in site.parents else None
        if field == "sprint":
            return lambda i: site.issue_sprints.get(i.id) or []
        if field in ("status", "issuetype", "type"):
            # The headline (summary, status, type, priority) needs no full generation.
            name = "issuetype" if field == "type" else field
            return lambda i: headline(site, i)[name]["name"]
        self.needs_doc = True
        doc_of = self.doc_of
        if field in ("status", "issuetype", "type"):
            name = "issuetype" if field == "type" else field
            return lambda i: (doc_of(i)["fields"].get(name) or {}).get("name")
        if field in ("assignee", "reporter"):
            return lambda i: (doc_of(i)["fields"].get(field) or {}).get("accountId")
        if field == "labels":
            return lambda i: doc_of(i)["fields"].get("labels") or []
        if field == "summary":
            return lambda i: doc_of(i)["fields"].get("summary") or ""
        return lambda i: doc_of(i)["fields"].get("summary") or ""  # text ~

    def _normalize(self, field: str, value: str) -> Any:
        if field == "project":
            project = self.site.project(value)
            if project is None:
                for candidate in self.site.projects.values():
                    if candidate.name.lower() == value.lower():
                        return candidate.id
                raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
            return project.id
        if field in ("key", "issuekey"):
            if value.isdigit():
                issue = self.site.issues.get(int(value))
                return issue.key if issue else value
            return value.upper()
        if field == "id":
            if not value.isdigit():
                raise JqlError(f"The value '{value}' is not a valid issue id.")
            return int(value)
        if field in DATE_FIELDS:
            return parse_date(value, self.now)
        if field == "parent":
            issue = self.site.issue(value)
            return issue.key if issue is not None else value.upper()
        if field == "sprint":
            if value.isdigit():
                return int(value)
            for sprint in self.site.sprints.values():
                if sprint.name.lower() == value.lower():
                    return sprint.id
            raise JqlError(f"The value '{value}' does not exist for the field 'sprint'.")
        return value

    def _compare(self, field: str, op: str, raw: list[str]):
        getter = self._getter(field)
        values = [self._normalize(field, v) for v in raw]
        if field == "sprint":
            wanted = set(values)
            if op in ("=", "in"):
                return lambda i: bool(wanted & set(getter(i)))
            if op in ("!=", "not in"):
                return lambda i: not (wanted & set(getter(i)))
            raise JqlError(f"The operator '{op}' is not supported by the 'sprint' field.")
        if field == "labels":
            wanted = set(values)
            if op in ("=", "in"):
                return lambda i: bool(wanted & set(getter(i)))
            if op in ("!=", "not in"):
                return lambda i: not (wanted & set(getter(i)))
        if op == "~":
            needle = values[0].lower().strip("*")
            return lambda i: needle in str(getter(i)).lower()
        if op == "!~":
            needle = values[0].lower().strip("*")
            return lambda i: needle not in str(getter(i)).lower()
        if field in ("status", "issuetype", "type"):
            values = [str(v).lower() for v in values]
            base = getter
            getter = lambda i: (base(i) or "").lower()  # noqa: E731
        value = values[0]
        if op == "=":
            return lambda i: getter(i) == value
        if op == "!=":
            return lambda i: getter(i) != value
        if op == "in":
            wanted = set(values)
            return lambda i: getter(i) in wanted
        if op == "not in":
            wanted = set(values)
            return lambda i: getter(i) not in wanted
        if field in ("status", "issuetype", "type", "assignee", "reporter", "summary", "parent"):
            raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        compare = {
            ">": lambda a: a > value,
            ">=": lambda a: a >= value,
            "<": lambda a: a < value,
            "<=": lambda a: a <= value,
        }[op]
        return lambda i: compare(getter(i))

    def order_by(self) -> list[tuple[str, bool]]:
        if not self.at_order_by():
            return []
        self.next()
        self.next()
        order = []
        while True:
            _kind, field = self.next()
            field = field.lower()
            if field not in ("key", "issuekey", "id", "created", "updated", "project", "rank"):
                raise JqlError(f"Not able to sort using field '{field}'.")
            descending = False
            if self.word_is("asc") or self.word_is("desc"):
                descending = self.next()[1].lower() == "desc"
            order.append((field, descending))
            if self.peek() != ("op", ","):
                return order
            self.next()


_RELATIVE = re.compile(r"^([+-]?\d+)\s*([mhdw])$", re.IGNORECASE)
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_date(value: str, now: float) -> float:
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return now + int(relative.group(1)) * _UNITS[relative.group(2).lower()]
    if text.isdigit():  # epoch milliseconds
        return int(text) / 1000
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{value}' for field is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
        "e.g. '-5d', '4w 2d'."
    )


def sort_key(field: str, site: Site | None = None) -> Callable[[Issue], Any]:
    if field == "rank":
        ranks = site.ranks if site is not None else {}
        return lambda i: ranks.get(i.id, "~")
    if field in ("key", "issuekey"):
        return lambda i: (i.project_id, int(i.key.rsplit("-", 1)[1]))
    if field == "project":
        return lambda i: i.project_id
    return lambda i: getattr(i, field)
