import subprocess
import sys

import pytest

from helpers.apps import write_config
from helpers.paths import EXAMPLE_CONFIG
from listener.config import load_config
from listener.kernel.errors import ConfigError


def test_example_config_loads_with_its_documented_defaults():
    config = load_config(EXAMPLE_CONFIG)
    assert config.brands[0].name == "Caffè Aurora"
    assert config.alerts.smtp is None  # empty host: alerts stay in the outbox
    assert config.sources[0].path.name == "sample_mentions.jsonl" and config.sources[0].path.is_file()
    assert config.model.name == "auto" and config.detractor_confidence == 0.6


@pytest.mark.parametrize("extra,key,expected", [
    ('[model]\nbatch_sise = 8', "model.batch_sise", "unknown key"),
    ('[model]\nbatch_size = "big"', "model.batch_size", "expected a number, got a string"),
    ('[model]\nbatch_size = 0', "model.batch_size", "from 1 to 1024"),
    ('[model]\ndetractor_confidence = true', "model.detractor_confidence", "got a boolean"),
    ('[model]\nlabel_map = { LABEL_0 = "bad" }', "model.label_map.LABEL_0", "negative, neutral or positive"),
    ('[[sources]]\ntype = "import"\nname = "a"\npath = "a.jsonl"\nbrand = "Nope"', "sources[0].brand",
     "no brand named 'Nope'"),
    ('[[sources]]\ntype = "rss"\nname = "a"\npath = "a.jsonl"', "sources[0].type", "expected one of import"),
    ('[[sources]]\ntype = "import"\npath = "a.jsonl"', "sources[0].name", "is required"),
])
def test_bad_values_name_the_file_the_key_and_what_is_expected(tmp_path, extra, key, expected):
    path = write_config(tmp_path, extra=extra)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and expected in message
    assert "\n" not in message


def test_bad_smtp_security_is_named(tmp_path):
    path = write_config(tmp_path, smtp='host = "mail"\nsecurity = "tls"')
    with pytest.raises(ConfigError, match=r"alerts\.smtp\.security: expected one of starttls, ssl, none"):
        load_config(path)


def test_missing_secret_names_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("ASCOLTO_TEST_SMTP_PASSWORD", raising=False)
    path = write_config(tmp_path, smtp='host = "mail"\nusername = "u"\npassword_env = "ASCOLTO_TEST_SMTP_PASSWORD"')
    with pytest.raises(ConfigError, match="alerts.smtp.password_env: environment variable "
                                          "ASCOLTO_TEST_SMTP_PASSWORD is not set"):
        load_config(path)
    monkeypatch.setenv("ASCOLTO_TEST_SMTP_PASSWORD", "s3cret")
    assert load_config(path).alerts.smtp.password() == "s3cret"


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\npath = 1")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="missing.toml: file not found"):
        load_config(tmp_path / "missing.toml")


def test_cli_prints_one_line_and_exits_non_zero(tmp_path):
    path = write_config(tmp_path, extra="[model]\nbatch_sise = 8")
    result = subprocess.run([sys.executable, "-m", "listener", "run", "--once", "--config", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Error: {path}: model.batch_sise: unknown key (check its spelling)"]


def test_a_config_saved_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = write_config(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_config(path).brands[0].name == "Caffè Aurora"


def test_paths_that_name_the_wrong_kind_of_thing_name_their_key(tmp_path):
    (tmp_path / "test.db").mkdir()
    path = write_config(tmp_path)
    with pytest.raises(ConfigError, match=r"ascolto.toml: database.path: .*test.db is a folder; name the database file"):
        load_config(path)
    (tmp_path / "test.db").rmdir()
    (tmp_path / "models").write_text("not a folder")
    path = write_config(tmp_path, extra='[learning]\nmodels_dir = "models"')
    with pytest.raises(ConfigError, match=r"learning.models_dir: .*models is a file; name a folder"):
        load_config(path)


def test_a_database_that_cannot_be_opened_names_the_key(tmp_path):
    from listener.app import App

    (tmp_path / "blocked").write_text("a file where a folder should be")
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace('path = "test.db"', 'path = "blocked/test.db"'))
    with pytest.raises(ConfigError, match=r"database.path: cannot open the database .*blocked/test.db"):
        App(load_config(path)).db
