"""Databricks SQL -> DuckDB: sqlglot's translation plus the fix-ups that make DuckDB return Databricks' values.

Plain sqlglot runs some constructs and returns wrong values without an error (JSON paths keep
their quotes, MERGE `*` matches by position, dayofweek is off by one, percentiles are swapped,
time zones shift). Every rewrite here has a golden test in tests/test_dialect.py.

Local semantics worth knowing (documented gaps, not bugs):
- schema_of_variant returns 'DOUBLE' for every non-integer JSON number (Databricks: 'DECIMAL(p,s)'
  for 2.5, 'DOUBLE' for 1e3) and 'OBJECT<...>' / 'ARRAY<...>' without the element schema.
- A JSON number read as text (v:x::string) is DuckDB's rendering (100.50 -> '100.5').
- `x:path` on a STRING that is not JSON raises an error locally (Databricks: NULL); use try_parse_json.
- A VARIANT is JSON text locally. An expression is a VARIANT when it is parse_json / try_parse_json,
  `x:path` of a VARIANT, a CASE / IF of VARIANTs, or a column named by such a projection alias
  (`v:qty AS j_qty`); a name aliased both to a VARIANT and to something else in the statement is
  not tracked. `v:path` of a VARIANT is its JSON fragment (a JSON null stays 'null', a missing path
  is NULL), so schema_of_variant(j_qty) and j_qty::bigint / ::string work on the column.
- try_parse_json accepts what DuckDB's JSON reader accepts, which is laxer than Databricks
  ('[1,]', 'NaN' parse locally). A repeated key in the top-level object gives NULL as on Databricks;
  a repeated key in a nested object is accepted locally (Databricks: NULL).
- schema_of_variant of a JSON integer beyond BIGINT is 'DECIMAL(20,0)' or 'DOUBLE' locally
  (Databricks: 'DECIMAL(p,0)', or 'DOUBLE' beyond 38 digits): never 'BIGINT' on either.
- Division results go through DOUBLE then DECIMAL(38, 9) before ROUND / CAST to DECIMAL, so ties
  round HALF_UP like Databricks' exact decimal division; beyond 9 decimals the two may differ.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sqlglot import exp

# How wide the exact intermediate of a division is before ROUND: enough for money ratios.
_DIVISION_TYPE = "DECIMAL(38, 9)"

# DuckDB json_type -> Databricks schema_of_variant (json_type names one of these; where the two
# names agree the translation lets the ELSE return json_type's own)
_VARIANT_SCHEMA = {
    "BIGINT": "BIGINT", "UBIGINT": "BIGINT", "HUGEINT": "BIGINT",
    "DOUBLE": "DOUBLE", "VARCHAR": "STRING", "BOOLEAN": "BOOLEAN", "NULL": "VOID",
    "OBJECT": "OBJECT<...>", "ARRAY": "ARRAY<...>",
}

# Names of the projection aliases that hold a VARIANT in the statement being translated.
_VARIANT_NAMES: contextvars.ContextVar[frozenset] = contextvars.ContextVar("variant_names",
                                                                         default=frozenset())
_META_FRAGMENT = "ecomctl_variant_fragment"  # meta key: (paths of the group, 1-based position)

# Statements with no local meaning: Delta maintenance and metadata.
_NOOP_COMMANDS = ("OPTIMIZE", "VACUUM", "ANALYZE", "FSCK", "CACHE", "UNCACHE", "GRANT", "REVOKE")


class TranslationError(ValueError):
    """A statement uses a construct the local warehouse cannot run."""


@dataclass(frozen=True)
class LocalStatement:
    """How the DuckDB adapter runs one Databricks statement.

    kind: "sql" (run `sql`), "materialize" (run `sql`, a CTAS, and keep it for REFRESH),
    "refresh", "drop_materialized", "copy", "create_volume", "create_catalog", "noop".
    """

    kind: str
    action: str
    target: tuple[str, ...] | None  # name parts as written, lower case
    tree: "exp.Expression"  # the Databricks parse
    sql: str | None = None  # DuckDB SQL when kind is sql / materialize / drop_materialized
    returns_rows: bool = False  # a query whose rows are the result


def _sqlglot():
    import sqlglot
    from sqlglot import exp

    # Unsupported Delta properties are dropped on purpose; sqlglot would log each one.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return sqlglot, exp


def parse(sql: str) -> "exp.Expression":
    """Parse one statement with sqlglot's databricks dialect."""
    sqlglot, _ = _sqlglot()
    from sqlglot.errors import ParseError

    try:
        tree = sqlglot.parse_one(sql, read="databricks")
    except ParseError as exc:
        raise TranslationError(f"does not parse as Databricks SQL: {_first_error(exc)}") from None
    if tree is None:
        raise TranslationError("empty statement")
    return tree


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        e = errors[0]
        return f"{e.get('description')} (line {e.get('line')}, column {e.get('col')})"
    return str(exc).splitlines()[0]


def generate(tree: "exp.Expression") -> str:
    from sqlglot.errors import ErrorLevel

    return tree.sql("duckdb", unsupported_level=ErrorLevel.IGNORE)


def translate(tree: "exp.Expression") -> "exp.Expression":
    """Apply the fix-ups to a copy of a parsed Databricks statement."""
    _sqlglot()
    tree = tree.copy()
    token = _VARIANT_NAMES.set(_variant_names(tree))
    try:
        return _fx(tree)
    finally:
        _VARIANT_NAMES.reset(token)


def to_duckdb(sql: str) -> str:
    """Translate ONE Databricks statement that DuckDB can run directly.

    Statements the adapter carries out itself (COPY INTO, REFRESH MATERIALIZED VIEW,
    CREATE VOLUME) raise TranslationError; use plan() for those.
    """
    statement = plan(sql)
    if statement.sql is None:
        raise TranslationError(f"{statement.action!r} is carried out by the warehouse adapter, "
                               "not translated to one DuckDB statement")
    return statement.sql


def plan(sql: str) -> LocalStatement:
    """Decide how the local warehouse runs a statement, translating it when it is plain SQL."""
    _, exp = _sqlglot()
    tree = parse(sql)

    if isinstance(tree, exp.Command):
        return _plan_command(tree)
    if isinstance(tree, exp.Copy):
        return LocalStatement("copy", "copy into", _parts(tree.this), tree)
    if isinstance(tree, exp.Refresh):
        return LocalStatement("refresh", "refresh view", _parts(tree.this), tree)
    if isinstance(tree, (exp.Comment, exp.Analyze)):
        target = tree.this if isinstance(tree, exp.Comment) else (tree.args.get("tables") or [None])[0]
        return LocalStatement("noop", "skip", _parts(target), tree)
    if isinstance(tree, exp.Alter) and _only_sets_properties(tree):
        return LocalStatement("noop", "skip", _parts(tree.this), tree)
    if isinstance(tree, exp.Use):
        return _plan_use(tree)
    if isinstance(tree, exp.Create):
        return _plan_create(tree)
    if isinstance(tree, exp.Drop):
        return _plan_drop(tree)
    if isinstance(tree, exp.Insert) and tree.args.get("overwrite"):
        raise TranslationError("INSERT OVERWRITE is not supported locally; "
                               "use CREATE OR REPLACE TABLE ... AS SELECT")
    action, returns_rows = _action(tree)
    target = None
    if isinstance(tree, (exp.Insert, exp.Merge, exp.Update, exp.Delete)):
        target = _parts(tree.this)
    return LocalStatement("sql", action, target, tree, generate(translate(tree)), returns_rows)


def _action(tree: "exp.Expression") -> tuple[str, bool]:
    _, exp = _sqlglot()
    for cls, action in ((exp.Insert, "insert"), (exp.Merge, "merge"), (exp.Update, "update"),
                        (exp.Delete, "delete")):
        if isinstance(tree, cls):
            return action, False
    if isinstance(tree, exp.Query):
        return "select", True
    if isinstance(tree, exp.Describe):
        return "describe", True
    return tree.key.lower(), False


def _plan_create(tree: "exp.Create") -> LocalStatement:
    _, exp = _sqlglot()
    kind = (tree.args.get("kind") or "").upper()
    table = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    target = _parts(table)
    props = tree.args.get("properties")
    materialized = kind == "VIEW" and props is not None and any(
        isinstance(p, exp.MaterializedProperty) for p in props.expressions)
    if materialized:
        fixed = translate(tree)
        fixed_props = fixed.args["properties"]
        fixed_props.set("expressions", [p for p in fixed_props.expressions
                                        if not isinstance(p, exp.MaterializedProperty)])
        fixed.set("kind", "TABLE")
        if not fixed.args.get("exists"):
            fixed.set("replace", True)
        return LocalStatement("materialize", "materialize view", target, tree, generate(fixed))
    if kind == "SCHEMA":
        return LocalStatement("sql", "create schema", target, tree, generate(translate(tree)))
    if kind in ("TABLE", "VIEW"):
        verb = "replace" if tree.args.get("replace") else "create"
        return LocalStatement("sql", f"{verb} {kind.lower()}", target, tree,
                              generate(translate(tree)))
    if kind == "FUNCTION":
        raise TranslationError("CREATE FUNCTION is not supported locally")
    return LocalStatement("sql", f"create {kind.lower()}", target, tree, generate(translate(tree)))


def _plan_drop(tree: "exp.Drop") -> LocalStatement:
    kind = (tree.args.get("kind") or "").upper()
    tables = tree.args.get("tables") or [tree.this]
    target = _parts(tables[0])
    if kind == "MATERIALIZED VIEW" or (kind == "VIEW" and tree.args.get("materialized")):
        fixed = translate(tree)
        fixed.set("kind", "TABLE")
        fixed.set("materialized", False)
        return LocalStatement("drop_materialized", "drop view", target, tree, generate(fixed))
    return LocalStatement("sql", f"drop {kind.lower()}", target, tree, generate(translate(tree)))


def _plan_use(tree: "exp.Use") -> LocalStatement:
    kind = str(tree.args.get("kind") or "").upper()
    if kind == "CATALOG":
        return LocalStatement("create_catalog", "use catalog", _parts(tree.this), tree)
    return LocalStatement("sql", "use", _parts(tree.this), tree, generate(translate(tree)))


def _plan_command(tree: "exp.Command") -> LocalStatement:
    head = str(tree.this).upper()
    rest = tree.expression if isinstance(tree.expression, str) else (
        tree.expression.name if tree.expression is not None else "")
    words = rest.split()
    if head == "CREATE" and words and words[0].upper() in ("VOLUME", "CATALOG", "DATABASE"):
        name = [w for w in words[1:] if w.upper() not in ("IF", "NOT", "EXISTS", "EXTERNAL")]
        if not name:
            raise TranslationError(f"CREATE {words[0].upper()} without a name")
        parts = tuple(p.strip("`").lower() for p in name[0].split("."))
        kind = "create_volume" if words[0].upper() == "VOLUME" else "create_catalog"
        return LocalStatement(kind, f"create {words[0].lower()}", parts, tree)
    if head in _NOOP_COMMANDS:
        target = tuple(p.strip("`").lower() for p in words[0].split(".")) if words else None
        return LocalStatement("noop", "skip", target, tree)
    raise TranslationError(f"{head} {' '.join(words[:2])} ... is not supported on the local warehouse")


def _only_sets_properties(tree: "exp.Alter") -> bool:
    _, exp = _sqlglot()
    actions = tree.args.get("actions") or []
    return bool(actions) and all(
        isinstance(a, exp.AlterSet) and all(isinstance(e, exp.Properties) for e in a.expressions)
        for a in actions)


def _parts(table: "exp.Expression | None") -> tuple[str, ...] | None:
    _, exp = _sqlglot()
    if table is None:
        return None
    if isinstance(table, exp.Schema):
        table = table.this
    if isinstance(table, exp.Table):
        return tuple(p.name.lower() for p in table.parts)
    if isinstance(table, exp.Expression) and table.name:
        return (table.name.lower(),)
    return None


# -- expression fix-ups ---------------------------------------------------------------------

def _fx(node: "exp.Expression") -> "exp.Expression":
    # transform() does not descend into a node that _fix returns, so new nodes fix their children.
    return node.transform(_fix, copy=False)


def _fix(node: "exp.Expression") -> "exp.Expression":
    _, exp = _sqlglot()

    if isinstance(node, exp.Anonymous):
        return _fix_function(node)
    if isinstance(node, exp.Select):
        _group_variant_fragments(node)
        return node
    if isinstance(node, exp.JSONExtract) and node.args.get("variant_extract"):
        if _is_variant(node.this) and not _under_variant_reader(node):
            return _variant_fragment(node)
        # body:a.b of a STRING is the scalar, unquoted (sqlglot's `->` keeps the JSON quotes); under
        # a cast, v:a.b of a VARIANT is the same text, read without building the JSON fragment
        return exp.JSONExtractScalar(this=_fx(node.this), expression=node.expression)
    if isinstance(node, exp.FromJson) and isinstance(node.expression, exp.Literal):
        ddl = node.expression.name
        if not ddl.upper().startswith(("STRUCT", "ARRAY", "MAP")):
            ddl = f"STRUCT<{ddl}>"
        to = exp.DataType.build(ddl, dialect="databricks")
        return _cast(exp.TryCast(this=_fx(node.this), to=exp.DataType.build("JSON")), to, try_=True)
    if isinstance(node, exp.When):
        then = node.args.get("then")
        if isinstance(then, exp.Update) and then.expressions and isinstance(then.expressions[0], exp.Star):
            node.set("then", exp.var("UPDATE BY NAME"))  # DuckDB's `*` matches by position
        elif isinstance(then, exp.Insert) and isinstance(then.this, exp.Star):
            node.set("then", exp.var("INSERT BY NAME"))
        elif isinstance(then, exp.Update):
            _strip_set_qualifiers(then.expressions)
        return node
    if isinstance(node, exp.Update):
        _strip_set_qualifiers(node.expressions)
        return node
    if isinstance(node, exp.DayOfWeek):  # Databricks: 1 = Sunday; DuckDB: 0 = Sunday
        return exp.Paren(this=exp.Add(this=exp.DayOfWeek(this=_fx(node.this)),
                                      expression=exp.Literal.number(1)))
    if isinstance(node, exp.ApproxQuantile):  # checked first: it subclasses Quantile
        return _quantile("QUANTILE_DISC", node)
    if isinstance(node, exp.Quantile):
        return _quantile("QUANTILE_CONT", node)
    if isinstance(node, exp.AtTimeZone):  # from_utc_timestamp: UTC wall clock -> local wall clock
        ts = exp.cast(_fx(node.this), "TIMESTAMP")
        return _timezone(_fx(node.args["zone"]), _timezone(exp.Literal.string("UTC"), ts))
    if isinstance(node, exp.FromTimeZone):  # to_utc_timestamp: local wall clock -> UTC wall clock
        ts = exp.cast(_fx(node.this), "TIMESTAMP")
        return _timezone(exp.Literal.string("UTC"), _timezone(_fx(node.args["zone"]), ts))
    if isinstance(node, exp.StrToUnix):
        return _unix_timestamp(node)
    if isinstance(node, exp.CurrentTimestamp):  # DuckDB's is TIMESTAMPTZ; Databricks' is a UTC instant
        return exp.cast(exp.CurrentTimestamp(), "TIMESTAMP")
    if isinstance(node, exp.Round) and _has_division(node.this):
        decimals = node.args.get("decimals")
        return exp.Round(this=exp.cast(_fx(node.this), _DIVISION_TYPE),
                         decimals=_fx(decimals) if decimals is not None else None)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _fix_cast(node)
    if isinstance(node, exp.DataType) and _has_tz(node):
        return _naive(node)
    if isinstance(node, exp.ComputedColumnConstraint):
        inner = node.this
        if inner is not None and not isinstance(inner, exp.Paren):
            node.set("this", exp.Paren(this=_fx(inner)))
            return node
    return node


def _fix_function(node: "exp.Anonymous") -> "exp.Expression":
    _, exp = _sqlglot()
    name = str(node.this).upper()
    args = node.expressions
    if name == "TRY_PARSE_JSON" and len(args) == 1:
        return _try_parse_json(_fx(args[0]))
    if name == "SCHEMA_OF_VARIANT" and len(args) == 1:
        json_type = _json_type(args[0])
        case = exp.Case(this=json_type)
        for duck, databricks in _VARIANT_SCHEMA.items():
            if duck == databricks:
                continue  # the ELSE: a name both engines share (a shorter CASE plans faster)
            result: exp.Expression = exp.Literal.string(databricks)
            if duck in ("UBIGINT", "HUGEINT"):
                # DuckDB types every non-negative integer UBIGINT; Databricks' BIGINT is a JSON
                # integer that fits a long, a larger one is a DECIMAL(p,0) (the local p is 20)
                fits = exp.TryCast(this=_variant_value(args[0]), to=exp.DataType.build("BIGINT"))
                result = exp.Case().when(exp.Is(this=fits, expression=exp.Null()),
                                         exp.Literal.string("DECIMAL(20,0)"), copy=False
                                         ).else_(result, copy=False)
            case = case.when(exp.Literal.string(duck), result, copy=False)
        return case.else_(json_type.copy(), copy=False)
    if name == "IS_VARIANT_NULL" and len(args) == 1:
        is_null = exp.EQ(this=_json_type(args[0]), expression=exp.Literal.string("NULL"))
        return exp.func("coalesce", is_null, exp.false())
    if name in ("VARIANT_GET", "TRY_VARIANT_GET") and len(args) in (2, 3):
        value = exp.func("json_extract_string", _fx(args[0]), _fx(args[1]))
        if len(args) == 2 or not isinstance(args[2], exp.Literal):
            return exp.func("json_extract", _fx(args[0]), _fx(args[1]))
        type_name = args[2].name
        if type_name.lower() == "variant":
            return exp.func("json_extract", _fx(args[0]), _fx(args[1]))
        to = exp.DataType.build(type_name, dialect="databricks")
        return _cast(value, to, try_=name == "TRY_VARIANT_GET")
    if name == "OCTET_LENGTH" and len(args) == 1:  # bytes of a STRING's UTF-8 (DuckDB: BLOB only)
        return exp.func("strlen", _fx(args[0]))
    if name == "WEEKDAY" and len(args) == 1:  # Databricks: 0 = Monday ... 6 = Sunday
        return exp.Paren(this=exp.Sub(this=exp.func("isodow", exp.cast(_fx(args[0]), "DATE")),
                                      expression=exp.Literal.number(1)))
    node.set("expressions", [_fx(a) for a in args])
    return node


def _variant_names(tree: "exp.Expression") -> frozenset:
    """Projection aliases that hold a VARIANT (see the module doc), to a fixed point."""
    _, exp = _sqlglot()
    aliases = [(a.alias.lower(), a.this) for select in tree.find_all(exp.Select)
               for a in select.expressions if isinstance(a, exp.Alias) and a.alias]
    ambiguous: set[str] = set()
    while True:
        names: set[str] = set()
        grew = True
        while grew:
            grew = False
            for name, value in aliases:
                if name not in names and name not in ambiguous and _is_variant(value, names):
                    names.add(name)
                    grew = True
        clash = {name for name, value in aliases if name in names and not _is_variant(value, names)}
        if not clash:
            return frozenset(names)
        ambiguous |= clash


def _is_variant(node: "exp.Expression | None", names: "set | frozenset | None" = None) -> bool:
    """Whether a Databricks expression is a VARIANT (JSON text locally)."""
    _, exp = _sqlglot()
    names = _VARIANT_NAMES.get() if names is None else names
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        return node.name.lower() in names
    if isinstance(node, exp.ParseJSON):
        return True
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in ("TRY_PARSE_JSON", "PARSE_JSON")
    if isinstance(node, exp.JSONExtract):
        return bool(node.args.get("variant_extract")) and _is_variant(node.this, names)
    if isinstance(node, (exp.Case, exp.If)):
        if isinstance(node, exp.Case):
            branches = [i.args.get("true") for i in node.args.get("ifs") or []]
            branches.append(node.args.get("default"))
        else:
            branches = [node.args.get("true"), node.args.get("false")]
        values = [b for b in branches if b is not None and not isinstance(b, exp.Null)]
        return bool(values) and all(_is_variant(b, names) for b in values)
    return False


def _under_variant_reader(node: "exp.JSONExtract") -> bool:
    """v:path read by a cast or schema_of_variant / is_variant_null: no fragment is needed."""
    _, exp = _sqlglot()
    parent = node.parent
    if isinstance(parent, (exp.Cast, exp.TryCast)) and node.arg_key == "this":
        return True
    return isinstance(parent, exp.Anonymous) and str(parent.this).upper() in (
        "SCHEMA_OF_VARIANT", "IS_VARIANT_NULL")


def _path_sql(path: "exp.Expression") -> str:
    _, exp = _sqlglot()
    if isinstance(path, exp.JSONPath):
        return path.sql(dialect="duckdb").strip("'")
    return path.name if isinstance(path, exp.Literal) else path.sql()


def _group_variant_fragments(select: "exp.Select") -> None:
    """Mark the v:path fragments of one SELECT list that read the same VARIANT, so that they
    become one json_extract(v, [paths]): DuckDB computes that common subexpression once per row
    (one parse of v), where a json_extract per path parses the whole document again."""
    _, exp = _sqlglot()
    groups: dict[str, list] = {}
    for projection in select.expressions:
        for extract in projection.find_all(exp.JSONExtract):
            if (extract.args.get("variant_extract") and _is_variant(extract.this)
                    and not _under_variant_reader(extract)
                    and extract.find_ancestor(exp.Select) is select):
                groups.setdefault(extract.this.sql(), []).append(extract)
    for extracts in groups.values():
        if len(extracts) < 2:
            continue
        paths = tuple(_path_sql(e.expression) for e in extracts)
        for position, extract in enumerate(extracts, 1):
            extract.meta[_META_FRAGMENT] = (paths, position)


def _variant_fragment(node: "exp.JSONExtract") -> "exp.Expression":
    """v:path of a VARIANT as a JSON fragment: json_extract keeps the JSON type (a string keeps
    its quotes, a JSON null is 'null'); a missing path is NULL."""
    _, exp = _sqlglot()
    grouped = node.meta.get(_META_FRAGMENT) if node.meta else None
    base = _fx(node.this)
    if grouped is None:
        return exp.Anonymous(this="json_extract", expressions=[
            base, exp.Literal.string(_path_sql(node.expression))])
    paths, position = grouped
    every = exp.Array(expressions=[exp.Literal.string(p) for p in paths])
    return exp.Anonymous(this="list_extract", expressions=[
        exp.Anonymous(this="json_extract", expressions=[base, every]),
        exp.Literal.number(position)])


# DuckDB's JSON reader also takes what JSON (RFC 8259), Databricks and Python's json refuse:
# NaN / Infinity / inf / nan in any case, with or without a sign, and a trailing comma in an object
# or array. In a text that parsed, strings are well formed, so with each string blanked to "" any
# letters left are true / false / null or one of those tokens. A cheap filter on the raw text
# comes first (it also matches "info@..." inside strings, ~3% of generated events; a case-folding
# regex over every body cost 1.6 s a million, this 0.8 s); only its matches are blanked and checked.
_TRAILING_COMMA = r",\s*[\]}]"
_LENIENT = r"(?i)nan|inf|" + _TRAILING_COMMA
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'


def _try_parse_json(text: "exp.Expression") -> "exp.Expression":
    """try_parse_json(text): TRY_CAST to JSON is NULL exactly where json_valid is false, with one
    parse instead of two; Databricks also refuses an object with a repeated key (NULL here), which
    DuckDB's reader accepts, so the top-level keys must be distinct (the json_keys of a non-object
    are []), and the tokens and trailing commas of _LENIENT. DuckDB computes the repeated
    TRY_CAST and json_keys once per row; the lenient check blanks strings only where a hint matches."""
    _, exp = _sqlglot()
    parsed = exp.TryCast(this=text, to=exp.DataType.build("JSON"))
    keys = exp.Anonymous(this="json_keys", expressions=[parsed.copy()])
    # list_unique counts the distinct keys without building the list (~10% faster than list_distinct).
    repeated = exp.NEQ(this=exp.func("len", keys.copy()),
                       expression=exp.Anonymous(this="list_unique", expressions=[keys]))
    lowered = exp.Anonymous(this="lower", expressions=[text.copy()])
    hint = exp.or_(
        exp.Anonymous(this="contains", expressions=[lowered, exp.Literal.string("nan")]),
        exp.Anonymous(this="contains", expressions=[lowered.copy(), exp.Literal.string("inf")]),
        exp.Anonymous(this="regexp_matches", expressions=[text.copy(), exp.Literal.string(_TRAILING_COMMA)]),
        copy=False)
    blanked = exp.Anonymous(this="regexp_replace", expressions=[
        text.copy(), exp.Literal.string(_JSON_STRING), exp.Literal.string('""'), exp.Literal.string("g")])
    lenient = exp.Case().when(
        hint, exp.Anonymous(this="regexp_matches", expressions=[blanked, exp.Literal.string(_LENIENT)]),
        copy=False).else_(exp.false(), copy=False)
    return (exp.Case().when(repeated, exp.Null(), copy=False)
            .when(lenient, exp.Null(), copy=False).else_(parsed, copy=False))


def _variant_value(arg: "exp.Expression") -> "exp.Expression":
    """The JSON text of a VARIANT argument: v:path as its fragment, any other as is."""
    _, exp = _sqlglot()
    if isinstance(arg, exp.JSONExtract):
        return exp.func("json_extract", _fx(arg.this.copy()),
                        exp.Literal.string(_path_sql(arg.expression)))
    return _fx(arg.copy())


def _json_type(arg: "exp.Expression") -> "exp.Expression":
    """json_type(base, path) for v:path (so a JSON null stays visible), json_type(v) otherwise."""
    _, exp = _sqlglot()
    if isinstance(arg, exp.JSONExtract):
        return exp.func("json_type", _fx(arg.this), exp.Literal.string(_path_sql(arg.expression)))
    return exp.func("json_type", _fx(arg))


def _strip_set_qualifiers(assignments: list) -> None:
    _, exp = _sqlglot()
    for assignment in assignments:
        if isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column):
            assignment.set("this", exp.column(assignment.this.name, quoted=assignment.this.this.quoted))


def _quantile(function: str, node: "exp.Expression") -> "exp.Expression":
    _, exp = _sqlglot()
    return exp.Anonymous(this=function, expressions=[_fx(node.this), _fx(node.args["quantile"])])


def _timezone(zone: "exp.Expression", ts: "exp.Expression") -> "exp.Expression":
    _, exp = _sqlglot()
    return exp.Anonymous(this="timezone", expressions=[zone, ts])


def _unix_timestamp(node: "exp.StrToUnix") -> "exp.Expression":
    _, exp = _sqlglot()
    value = node.this
    fmt = node.args.get("format")
    if value is None:
        seconds = exp.func("epoch", exp.cast(exp.CurrentTimestamp(), "TIMESTAMP"))
    elif fmt is None or (isinstance(fmt, exp.Literal) and fmt.name.replace("strict", "") in (
            "%Y-%m-%d %H:%M:%S", "")):  # the default format: a timestamp or a string in it
        seconds = exp.func("epoch", _to_timestamp(_fx(value)))
    else:
        seconds = exp.StrToUnix(this=_fx(value), format=_fx(fmt))
    return exp.cast(exp.func("floor", seconds), "BIGINT")  # whole seconds, like Databricks


def _has_division(node: "exp.Expression | None") -> bool:
    _, exp = _sqlglot()
    if node is None or isinstance(node, exp.Round):
        return False
    return node.find(exp.Div, exp.Avg, exp.SafeDivide) is not None


def _has_tz(datatype: "exp.DataType") -> bool:
    _, exp = _sqlglot()
    tz = (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ)
    return any(isinstance(d, exp.DataType) and d.this in tz for d in datatype.walk())


def _naive(datatype: "exp.DataType") -> "exp.DataType":
    """The same type with every timestamp as DuckDB's naive TIMESTAMP (we run with TimeZone=UTC)."""
    _, exp = _sqlglot()
    result = datatype.copy()
    for d in list(result.walk()):
        if isinstance(d, exp.DataType) and d.this in (exp.DataType.Type.TIMESTAMPTZ,
                                                      exp.DataType.Type.TIMESTAMPLTZ):
            d.set("this", exp.DataType.Type.TIMESTAMP)
    return result


def _cast(value: "exp.Expression", to: "exp.DataType", *, try_: bool = False) -> "exp.Expression":
    """CAST to a Databricks type. Timestamps go through TIMESTAMPTZ so an offset in a string counts
    (DuckDB's plain CAST to TIMESTAMP drops it), then to naive UTC."""
    _, exp = _sqlglot()
    cls = exp.TryCast if try_ else exp.Cast
    if _has_tz(to):
        return exp.Cast(this=cls(this=value, to=to.copy()), to=_naive(to))
    return cls(this=value, to=to.copy())


def _to_timestamp(value: "exp.Expression") -> "exp.Expression":
    _, exp = _sqlglot()
    return _cast(value, exp.DataType.build("TIMESTAMPTZ"))


def _fix_cast(node: "exp.Expression") -> "exp.Expression":
    _, exp = _sqlglot()
    to = node.args["to"]
    value = node.this
    if to.is_type(exp.DataType.Type.DECIMAL) and _has_division(value):
        value = exp.cast(_fx(value), _DIVISION_TYPE)  # exact enough to round ties HALF_UP
    elif _is_variant(value) and not isinstance(value, exp.JSONExtract):
        # a VARIANT column is JSON text: CAST keeps a string's quotes, json_extract_string does not
        # (an object or array gives its JSON text and a JSON null NULL, as Databricks' cast does)
        value = exp.func("json_extract_string", _fx(value), exp.Literal.string("$"))
    else:
        value = _fx(value)
    return _cast(value, to, try_=isinstance(node, exp.TryCast))
