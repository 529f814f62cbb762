from pathlib import Path

import pytest

from ecomctl.config import SETTINGS, Secret, Settings, env_example
from ecomctl.configuration_docs import configuration_markdown
from ecomctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults():
    s = Settings.load(environ={})
    assert s.target == "local"
    assert s.home == Path(".ecomctl")
    assert (s.catalog, s.bronze_schema, s.silver_schema, s.gold_schema) == (
        "ecommerce", "bronze", "silver", "gold")
    assert s.event_count == 300 and s.partitions == 4


def test_precedence_flag_over_env_over_file_over_default(tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text("ECOMCTL_CATALOG=from_file\nECOMCTL_GOLD_SCHEMA=gold_file\n"
                        "ECOMCTL_SILVER_SCHEMA=silver_file\n")
    s = Settings.load({"catalog": "from_flag"},
                      environ={"ECOMCTL_CATALOG": "from_env", "ECOMCTL_GOLD_SCHEMA": "gold_env"},
                      env_file=env_file)
    assert s.catalog == "from_flag"
    assert s.gold_schema == "gold_env"
    assert s.silver_schema == "silver_file"
    assert s.bronze_schema == "bronze"


def test_dotenv_in_current_folder_is_read(tmp_path):
    (tmp_path / ".env").write_text("ECOMCTL_PARTITIONS=8\n")
    assert Settings.load(environ={}).partitions == 8


@pytest.mark.parametrize("env, value, setting", [
    ("ECOMCTL_CATALOG", "bad-name", "ECOMCTL_CATALOG"),
    ("ECOMCTL_GOLD_SCHEMA", "gold; DROP TABLE x", "ECOMCTL_GOLD_SCHEMA"),
    ("ECOMCTL_BRONZE_SCHEMA", "1bronze", "ECOMCTL_BRONZE_SCHEMA"),
    ("ECOMCTL_PARTITIONS", "four", "ECOMCTL_PARTITIONS"),
    ("ECOMCTL_PARTITIONS", "0", "ECOMCTL_PARTITIONS"),
    ("ECOMCTL_TARGET", "snowflake", "ECOMCTL_TARGET"),
])
def test_bad_settings_name_the_setting(env, value, setting):
    from ecomctl.targets import make_target

    with pytest.raises(ConfigError) as info:
        # A target name is checked by the registry of targets, when the pipeline builds it.
        make_target(Settings.load(environ={env: value}))
    assert str(info.value).startswith(f"setting {setting}:")
    assert info.value.setting == setting


def test_an_unknown_target_lists_the_targets():
    from ecomctl.targets import make_target

    with pytest.raises(ConfigError, match="unknown target 'snowflake'; choose one of local, databricks"):
        make_target(Settings.load(environ={"ECOMCTL_TARGET": "Snowflake"}))


def test_bad_flag_names_the_flag():
    with pytest.raises(ConfigError, match="^setting --catalog:"):
        Settings.load({"catalog": "x.y"}, environ={})


def test_secrets_never_show():
    s = Settings.load(environ={"DATABRICKS_TOKEN": "dapi0123456789abcdef",
                               "EVENTHUB_CONNECTION_STRING": "Endpoint=sb://x/;SharedAccessKey=c2VjcmV0a2V5"})
    assert isinstance(s.databricks_token, Secret)
    assert s.databricks_token.reveal() == "dapi0123456789abcdef"
    for text in (repr(s), str(s), str(s.public())):
        assert "dapi0123456789abcdef" not in text and "c2VjcmV0a2V5" not in text
    assert s.public()["databricks_token"] == "(set)"
    assert sorted(s.secrets()) == sorted(["dapi0123456789abcdef",
                                          "Endpoint=sb://x/;SharedAccessKey=c2VjcmV0a2V5"])


def test_env_example_lists_every_setting_and_is_current():
    text = (REPO / ".env.example").read_text()
    assert text == env_example(), "regenerate: python scripts/settings_docs.py"
    for s in SETTINGS:
        assert f"{s.env}=" in text


def test_configuration_doc_documents_every_setting_and_is_current():
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert text == configuration_markdown(), "regenerate: python scripts/settings_docs.py"
    missing = [s.env for s in SETTINGS if f"| `{s.env}` |" not in text]
    assert not missing, f"docs/configuration.md configuration tables lack {missing}"
