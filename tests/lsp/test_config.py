"""Settings and model choice from .codecustom.toml, initializationOptions and didChangeConfiguration."""

from codecustom_lsp import config


def test_defaults(tmp_path):
    cfg = config.load(tmp_path, None)
    assert cfg.settings.debounce_ms == 150 and cfg.model.base is None and cfg.model.wants_artifact
    assert cfg.warnings == []


def test_workspace_file_then_init_options_win(tmp_path):
    (tmp_path / "models" / "mine").mkdir(parents=True)
    (tmp_path / ".codecustom.toml").write_text(
        '[model]\nbase = "models/mine"\nartifact = "none"\n[lsp]\ndebounce_ms = 300\nmultiline = "never"\n')
    cfg = config.load(tmp_path, None)
    assert cfg.model.base == str((tmp_path / "models" / "mine").resolve())  # relative to the workspace
    assert not cfg.model.wants_artifact
    assert (cfg.settings.debounce_ms, cfg.settings.multiline) == (300, "never")
    cfg = config.load(tmp_path, {"lsp": {"debounceMs": 50}, "model": {"artifact": "/x/y"}})
    assert cfg.settings.debounce_ms == 50 and cfg.settings.multiline == "never"
    assert cfg.model.artifact == "/x/y" and cfg.model.wants_artifact


def test_bad_values_become_warnings_and_keep_the_old_value(tmp_path):
    cfg = config.load(tmp_path, {"lsp": {"debounce_ms": "soon", "cache_size": -1, "colour": "red"},
                                 "model": "not a table"})
    assert cfg.settings.debounce_ms == 150 and cfg.settings.cache_size == 512
    text = " | ".join(cfg.warnings)
    assert "debounce_ms must be an integer" in text
    assert "cache_size=-1 is out of range" in text
    assert "unknown initializationOptions lsp setting 'colour'" in text
    assert "[model] must be a table/object" in text


def test_broken_toml_is_a_warning_not_a_crash(tmp_path):
    (tmp_path / ".codecustom.toml").write_text("[model\nbase=")
    cfg = config.load(tmp_path, None)
    assert cfg.settings == config.Settings()
    assert any("is not valid TOML" in w for w in cfg.warnings)


def test_did_change_configuration_shapes():
    cfg = config.ServerConfig()
    cfg = config.apply(cfg, {"codecustom": {"debounce_ms": 0, "multiline": "always"}}, source="didChangeConfiguration")
    assert (cfg.settings.debounce_ms, cfg.settings.multiline) == (0, "always")
    cfg = config.apply(cfg, {"max_new_tokens": "32", "validate_tests": "false", "base": "/m"}, source="x")
    assert cfg.settings.max_new_tokens == 32 and cfg.settings.validate_tests is False and cfg.model.base == "/m"
    same = config.apply(cfg, [1, 2], source="x")
    assert same.settings == cfg.settings and "settings must be an object" in same.warnings[-1]


def test_backend_urls_from_the_editor_are_loopback_only(tmp_path):
    cfg = config.load(tmp_path, {"model": {"backend": "openai", "url": "http://127.0.0.1:8080/v1"}})
    assert cfg.model.url == "http://127.0.0.1:8080/v1" and not cfg.warnings
    for url in ("http://[::1]:8080/v1", "http://localhost:1/v1"):
        assert config.load(tmp_path, {"model": {"url": url}}).model.url == url
    remote = config.load(tmp_path, {"model": {"url": "https://collector.example/v1"}})
    assert remote.model.url is None
    assert "backend url https://collector.example/v1 is not on this machine; ignored" in remote.warnings[-1]
    later = config.apply(cfg, {"codecustom": {"url": "http://10.0.0.5/v1"}}, source="didChangeConfiguration")
    assert later.model.url == "http://127.0.0.1:8080/v1" and "not on this machine" in later.warnings[-1]


def test_the_workspace_file_may_name_a_remote_backend(tmp_path):
    (tmp_path / ".codecustom.toml").write_text('[model]\nbackend = "openai"\nurl = "https://gpu.internal/v1"\n')
    cfg = config.load(tmp_path, {"model": {"url": "https://gpu.internal/v1"}})
    assert cfg.model.url == "https://gpu.internal/v1" and not cfg.warnings
    other = config.load(tmp_path, {"model": {"url": "https://elsewhere.example/v1"}})
    assert other.model.url == "https://gpu.internal/v1" and "not on this machine" in other.warnings[-1]
