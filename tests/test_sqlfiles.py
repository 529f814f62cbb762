"""SQL files: discovery, strict substitution, identifier checks and the statement splitter."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ecomctl.errors import ConfigError, SqlError
from ecomctl.warehouse.base import Names
from ecomctl.warehouse.sqlfiles import (STEPS, load_step, render, split_statements, sql_root,
                                        validate_identifier)


def write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# -- discovery -------------------------------------------------------------------------------

def test_sql_root_is_the_checkout_sql_folder():
    assert sql_root() == Path(__file__).resolve().parents[1] / "sql"
    assert sql_root("/x/y") == Path("/x/y")


def test_setup_files_are_versioned_and_ordered_by_version(tmp_path):
    write(tmp_path, "setup/V10__later.sql", "SELECT 10;")
    write(tmp_path, "setup/V002__tables.sql", "SELECT 2;\r\n")
    write(tmp_path, "setup/V001__schemas.sql", "SELECT 1;")
    files = load_step("setup", tmp_path)
    assert [f.name for f in files] == ["setup/V001__schemas.sql", "setup/V002__tables.sql",
                                       "setup/V10__later.sql"]
    second = files[1]
    assert (second.step, second.version, second.description) == ("setup", "002", "tables")
    assert second.checksum == hashlib.sha256(b"SELECT 2;\n").hexdigest()  # CRLF normalised
    assert second.text == "SELECT 2;\n"


def test_a_misnamed_setup_file_is_an_error_naming_it(tmp_path):
    write(tmp_path, "setup/V001__ok.sql", "SELECT 1;")
    write(tmp_path, "setup/schemas.sql", "SELECT 1;")
    with pytest.raises(SqlError, match=r"setup/schemas\.sql.*V<digits>__"):
        load_step("setup", tmp_path)


def test_two_setup_files_with_one_version_is_an_error(tmp_path):
    write(tmp_path, "setup/V001__a.sql", "SELECT 1;")
    write(tmp_path, "setup/V1__b.sql", "SELECT 1;")
    with pytest.raises(SqlError, match="version"):
        load_step("setup", tmp_path)


def test_step_files_are_sorted_by_name_and_named_nn(tmp_path):
    write(tmp_path, "gold/02_b.sql", "SELECT 2;")
    write(tmp_path, "gold/01_a_b.sql", "SELECT 1;")
    write(tmp_path, "gold/.hidden.sql", "SELECT 1;")
    write(tmp_path, "gold/notes.md", "x")
    files = load_step("gold", tmp_path)
    assert [(f.name, f.version, f.description) for f in files] == [
        ("gold/01_a_b.sql", None, "a b"), ("gold/02_b.sql", None, "b")]
    write(tmp_path, "gold/bad.sql", "SELECT 1;")
    with pytest.raises(SqlError, match=r"gold/bad\.sql.*NN_"):
        load_step("gold", tmp_path)


def test_dashboards_step_reads_only_the_queries_folder(tmp_path):
    write(tmp_path, "dashboards/queries/01_kpis.sql", "SELECT 1")
    write(tmp_path, "dashboards/genie/01_sales.toml", "x = 1")
    assert [f.name for f in load_step("dashboards", tmp_path)] == ["dashboards/queries/01_kpis.sql"]


def test_missing_step_folder_gives_no_files_and_unknown_step_is_an_error(tmp_path):
    assert load_step("views", tmp_path) == []
    with pytest.raises(SqlError, match="unknown step"):
        load_step("platinum", tmp_path)
    assert STEPS == ("setup", "bronze", "silver", "gold", "views", "dashboards", "checks")


def test_the_repository_sql_files_load():
    for step in STEPS:
        for f in load_step(step):
            assert f.text and len(f.checksum) == 64


# -- render ----------------------------------------------------------------------------------

def test_render_substitutes_names_and_leaves_json_paths_alone():
    text = "SELECT body:a, get_json_object(body, '$.a') FROM ${catalog}.${bronze}.raw_events"
    assert render(text, Names().as_mapping(), "f.sql") == (
        "SELECT body:a, get_json_object(body, '$.a') FROM ecommerce.bronze.raw_events")


def test_render_landing_path():
    assert render("'${landing_path}/'", Names(catalog="dev").as_mapping(), "f.sql") == \
        "'/Volumes/dev/bronze/landing/'"


def test_unknown_placeholder_names_file_and_line():
    with pytest.raises(SqlError, match=r"bronze/01_x\.sql \(line 3\): unknown placeholder \$\{catalgo\}"):
        render("SELECT 1;\n\nSELECT * FROM ${catalgo}.t", {"catalog": "c"}, "bronze/01_x.sql")


def test_unterminated_placeholder_is_an_error():
    with pytest.raises(SqlError, match="line 2"):
        render("SELECT\n'${catalog'", {"catalog": "c"}, "f.sql")


# -- identifiers -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ecommerce", "_x", "Dev_2"])
def test_valid_identifiers(name):
    assert validate_identifier(name, "ECOMCTL_CATALOG") == name


@pytest.mark.parametrize("name", ["", "2x", "a-b", "a.b", "a b", "x;DROP", "a" * 256, "é"])
def test_invalid_identifiers_name_the_setting(name):
    with pytest.raises(ConfigError, match="ECOMCTL_GOLD_SCHEMA"):
        validate_identifier(name, "ECOMCTL_GOLD_SCHEMA")


def test_names_are_validated_against_their_settings():
    with pytest.raises(ConfigError, match="ECOMCTL_VOLUME"):
        Names(volume="my-volume")
    with pytest.raises(ConfigError, match="ECOMCTL_CATALOG"):
        Names(catalog="a.b")


# -- splitter --------------------------------------------------------------------------------

def texts(sql: str) -> list[str]:
    return [s.text for s in split_statements(sql, "f.sql")]


def test_split_on_semicolons_with_lines_and_indexes():
    statements = split_statements("-- header\n\nSELECT 1;\n\n  SELECT\n 2 ;SELECT 3", "f.sql")
    assert [(s.index, s.line, s.text) for s in statements] == [
        (1, 3, "SELECT 1"), (2, 5, "SELECT\n 2"), (3, 6, "SELECT 3")]
    assert statements[0].file == "f.sql"


def test_semicolons_inside_quotes_and_comments_do_not_split():
    sql = ("SELECT 'a;b', \"c;d\", `e;f` FROM t -- no; split\n;"
           "SELECT /* x; y */ 1;"
           "SELECT 'it\\'s; fine', 'doubled '';' ;")
    assert texts(sql) == ["SELECT 'a;b', \"c;d\", `e;f` FROM t -- no; split",
                          "SELECT /* x; y */ 1", "SELECT 'it\\'s; fine', 'doubled '';'"]


def test_backslash_escapes_and_backtick_doubling():
    assert texts(r"SELECT 'a\\'; SELECT `we``ird;`; SELECT 2") == [
        r"SELECT 'a\\'", "SELECT `we``ird;`", "SELECT 2"]


def test_nested_block_comments_and_empty_statements_are_dropped():
    assert texts("/* a /* b; */ c; */ ;; -- only a comment;\n; SELECT 1;  ") == ["SELECT 1"]


def test_multiline_string_counts_lines():
    statements = split_statements("SELECT 'a\nb';\nSELECT 2;", "f.sql")
    assert [s.line for s in statements] == [1, 3]


@pytest.mark.parametrize(("sql", "line", "what"), [
    ("SELECT 1;\nSELECT 'abc;\nFROM t;", 2, "unterminated string"),
    ("SELECT 1;\n\nSELECT \"x", 3, "unterminated string"),
    ("SELECT `x", 1, "unterminated identifier"),
    ("SELECT 1;\n/* never\nclosed", 2, "unterminated /\\* comment"),
])
def test_unterminated_quote_or_comment_names_file_and_line(sql, line, what):
    with pytest.raises(SqlError, match=rf"f\.sql, statement \d \(line {line}\): {what}") as info:
        split_statements(sql, "f.sql")
    assert info.value.line == line


def test_relative_name_reads_as_in_the_repository(tmp_path):
    from ecomctl.warehouse.sqlfiles import relative_name

    root = tmp_path / "sql"
    assert relative_name(root / "dashboards" / "queries" / "01_total_kpis.sql", root) == \
        "dashboards/queries/01_total_kpis.sql"
    outside = tmp_path / "elsewhere.sql"
    assert relative_name(outside, root) == str(outside)
