from smallcoder_lsp.config import CompletionConfig, Config, decode_config, to_camel, to_snake


def test_defaults_when_nothing_is_sent():
    assert decode_config(None) == (Config(), [])
    assert decode_config({}) == (Config(), [])


def test_camel_case_nested_settings_are_decoded():
    config, problems = decode_config({"model": "/m.gguf", "completion": {"maxTokens": 12, "temperature": 1}})
    assert problems == []
    assert config.model == "/m.gguf"
    assert config.completion.max_tokens == 12
    assert config.completion.temperature == 1.0 and isinstance(config.completion.temperature, float)


def test_vscode_section_is_unwrapped():
    config, problems = decode_config({"smallcoder": {"threads": 2}})
    assert problems == [] and config.threads == 2


def test_unknown_and_mistyped_settings_fall_back_to_defaults_and_keep_the_rest():
    config, problems = decode_config(
        {"bogus": 1, "threads": "four", "contextLength": 2048, "completion": {"enabled": "yes", "maxLines": 3}}
    )
    assert config.threads == Config().threads
    assert config.context_length == 2048
    assert config.completion.enabled is True
    assert config.completion.max_lines == 3
    assert len(problems) == 3
    assert any("bogus" in p for p in problems)
    assert any("threads" in p and "int" in p for p in problems)


def test_bool_is_not_an_int_and_ranges_are_checked():
    config, problems = decode_config({"threads": True, "completion": {"maxTokens": 0}, "backend": "gpu9000"})
    assert config == Config()
    assert len(problems) == 3


def test_settings_that_are_not_an_object():
    config, problems = decode_config(["model"])
    assert config == Config() and problems
    config, problems = decode_config({"completion": 5})
    assert config.completion == CompletionConfig() and problems


def test_name_conversions():
    assert to_camel("multiline_max_tokens") == "multilineMaxTokens"
    assert to_snake("multilineMaxTokens") == "multiline_max_tokens"
