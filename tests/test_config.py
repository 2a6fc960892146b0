"""Config loading: the shipped configs' documented values, unknown keys, wrong types, overrides, exit-2 messages."""

from __future__ import annotations

import argparse

import pytest

import generate_data
from fxlab import UserError
from fxlab.cli import base_parser, config_from_args, run_main
from fxlab.config import REPO_ROOT, config_from_dict, fingerprint, load_config

CONFIGS = REPO_ROOT / "experiments" / "configs"
SMALL = CONFIGS / "arithmetic_small.yaml"


def write(tmp_path, text: str):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


MINIMAL = "task: arithmetic\npaths: {data_dir: d, results_dir: r}\n"


def test_small_config_has_the_spec_values():
    cfg = load_config(SMALL)
    assert (cfg.task, cfg.seed) == ("arithmetic", 42)
    d = cfg.data
    assert (d.train_size, d.test_size, d.id_range, d.ood_magnitude_range, d.ood_max_ops, d.operations) == (
        1000, 200, [0, 99], [10000, 99999], 5, ["+", "-", "*"])
    assert (d.id_ops, d.ood_ops, d.val_size) == ([1, 3], [5, 5], 200)
    m, t = cfg.model, cfg.training
    assert (m.hidden_dim, m.num_layers, m.num_heads, m.dropout) == (128, 2, 4, 0.1)
    assert (t.epochs, t.batch_size, t.learning_rate) == (20, 32, 0.001)
    assert cfg.paths.data_dir == "experiments/data/arithmetic_small"
    assert cfg.paths.results_dir == "experiments/results/arithmetic_small"


@pytest.mark.parametrize("name", ["arithmetic_small", "arithmetic_full", "arithmetic_tiny"])
def test_shipped_arithmetic_configs_load(name):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.paths.data_dir.endswith(name) and cfg.paths.results_dir.endswith(name)


def test_full_config_has_the_issue_values():
    d = load_config(CONFIGS / "arithmetic_full.yaml").data
    assert (d.train_size, d.test_size, d.id_range, d.ood_magnitude_range, d.ood_ops) == (
        10000, 1000, [0, 999], [1000000, 1000000000], [5, 7])


@pytest.mark.parametrize("text, key", [
    ("model: {hiden_dim: 64}", "model.hiden_dim"),
    ("trainig: {epochs: 3}", "trainig"),
    ("data: {unit_types: [length]}", "data.unit_types"),  # a units key in an arithmetic config
])
def test_unknown_key_is_named_with_the_allowed_keys(tmp_path, text, key):
    with pytest.raises(UserError, match=rf"'{key}'.*allowed: "):
        load_config(write(tmp_path, MINIMAL + text))


@pytest.mark.parametrize("text, key", [
    ('training: {epochs: "20"}', "training.epochs"),
    ("training: {learning_rate: fast}", "training.learning_rate"),
    ("training: {epochs: true}", "training.epochs"),
    ("data: {id_range: [0, ten]}", r"data.id_range\[1\]"),
    ("seed: 1.5", "seed"),
    ("model: [1, 2]", "model"),
])
def test_wrong_type_is_rejected(tmp_path, text, key):
    with pytest.raises(UserError, match=rf"'{key}'.* must be"):
        load_config(write(tmp_path, MINIMAL + text))


def test_int_is_accepted_for_a_float(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "training: {learning_rate: 1}"))
    assert cfg.training.learning_rate == 1.0 and isinstance(cfg.training.learning_rate, float)


@pytest.mark.parametrize("text, match", [
    ("paths: {data_dir: d}", "missing key 'paths.results_dir'"),
    ("data: {id_range: [9, 1]}", "data.id_range"),
    ("data: {ood_magnitude_range: [50, 99999]}", "above data.id_range"),
    ("data: {operations: ['+', '/']}", "data.operations"),
    ("model: {hidden_dim: 30, num_heads: 4}", "model.hidden_dim"),
    ("device: tpu", "device"),
])
def test_invalid_values_are_rejected(tmp_path, text, match):
    body = MINIMAL if "paths" not in text else "task: arithmetic\n"
    with pytest.raises(UserError, match=match):
        load_config(write(tmp_path, body + text))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(UserError, match=r"cfg.yaml:\d+: "):
        load_config(write(tmp_path, "task: arithmetic\nmodel: {a: [\n"))


def test_ood_ops_derive_from_ood_max_ops(tmp_path):
    assert load_config(write(tmp_path, MINIMAL + "data: {ood_max_ops: 7}")).data.ood_ops == [5, 7]
    assert load_config(write(tmp_path, MINIMAL + "data: {ood_ops: [5, 6]}")).data.ood_max_ops == 6


def test_paths_resolve_against_the_repo_root_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(SMALL)
    assert cfg.data_path == REPO_ROOT / "experiments" / "data" / "arithmetic_small"
    assert load_config(SMALL, {"paths.data_dir": str(tmp_path)}).data_path == tmp_path


def parse(argv, training=True):
    return config_from_args(base_parser("t", "", training=training).parse_args(argv))


def test_cli_flags_override_the_config():
    cfg = parse(["--config", str(SMALL), "--seed", "7", "--epochs", "3", "--device", "cpu",
                 "--set", "model.hidden_dim=64", "--set", "training.learning_rate=0.01"])
    assert (cfg.seed, cfg.training.epochs, cfg.device) == (7, 3, "cpu")
    assert (cfg.model.hidden_dim, cfg.training.learning_rate) == (64, 0.01)


@pytest.mark.parametrize("item, match", [
    ("model.hiden_dim=64", "model.hiden_dim"),
    ("training.epochs=many", "training.epochs"),
    ("nonsense", "KEY=VALUE"),
    ("foo.bar.baz=1", "foo.bar.baz"),
])
def test_bad_overrides_are_rejected(item, match):
    with pytest.raises(UserError, match=match):
        parse(["--config", str(SMALL), "--set", item])


def test_resolved_config_round_trips():
    cfg = load_config(SMALL)
    again = config_from_dict(cfg.to_dict())
    assert again == cfg and fingerprint(again) == fingerprint(cfg)
    assert "unit_types" not in cfg.to_dict()["data"]  # only the task's own keys


def test_fingerprint_ignores_paths_device_and_epochs_only():
    base = load_config(SMALL)
    same = load_config(SMALL, {"paths.results_dir": "elsewhere", "device": "cpu", "training.epochs": 3})
    assert fingerprint(same) == fingerprint(base)
    for key, value in [("seed", 1), ("model.hidden_dim", 64), ("data.train_size", 10), ("training.patience", 2)]:
        assert fingerprint(load_config(SMALL, {key: value})) != fingerprint(base), key


def test_a_models_fingerprint_leaves_out_the_keys_only_other_models_read():
    base = load_config(SMALL)
    models = ("token_only", "xval", "hybrid")
    prints = {m: fingerprint(base, m) for m in models}
    cases = [("model.attn_side", "left", {"hybrid"}), ("model.readout", "regression", {"hybrid"}),
             ("model.xval_scaling", "log", {"xval"}), ("model.answer_order", "reversed", {"token_only"}),
             ("model.hidden_dim", 64, set(models)), ("data.train_size", 10, set(models))]
    for key, value, changes in cases:
        other = load_config(SMALL, {key: value})
        assert {m for m in models if fingerprint(other, m) != prints[m]} == changes, key
        assert fingerprint(other) != fingerprint(base), key  # the whole-config hash counts every key


def test_fingerprint_of_a_key_added_later_counts_only_off_its_default():
    """model.attn_side came after checkpoints existed: at its default the hash is the one computed without
    the key (old checkpoints stay loadable); set to "left" it is a different model."""
    import hashlib
    import json
    base = load_config(SMALL)
    d = base.to_dict()
    for section in ("device", "paths"):
        d.pop(section)
    d["training"].pop("epochs"), d["training"].pop("eval_batch_size")
    for key in ("attn_side", "abacus_max_k", "fone_int_digits", "fone_frac_digits", "slot_embedding",
                "value_readout"):  # all added later
        d["model"].pop(key)
    old = hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    assert fingerprint(base) == old
    assert fingerprint(load_config(SMALL, {"model.attn_side": "left"})) != old
    with pytest.raises(UserError, match="model.attn_side"):
        load_config(SMALL, {"model.attn_side": "right"})


@pytest.mark.parametrize("text, expected", [
    ("model: {hiden_dim: 64}", "unknown config key 'model.hiden_dim'"),
    ('training: {epochs: "20"}', "'training.epochs'"),
])
def test_script_main_exits_2_with_one_line(tmp_path, capsys, text, expected):
    with pytest.raises(SystemExit) as exc:
        generate_data.main(["--config", str(write(tmp_path, MINIMAL + text))])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and expected in err and "Traceback" not in err


def test_script_main_missing_config_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        generate_data.main(["--config", str(tmp_path / "missing.yaml")])
    assert exc.value.code == 2
    assert "config file not found" in capsys.readouterr().err


def test_base_parser_requires_config():
    with pytest.raises(SystemExit):
        base_parser("t", "").parse_args([])
    assert isinstance(base_parser("t", "", training=True).parse_args(["--config", "x"]), argparse.Namespace)


# ---------------------------------------------------------------- issue 9 (4, 11, 13)


@pytest.mark.parametrize("text, expected", [
    ("training: {learning_rate: 3e-3}", 0.003),  # YAML 1.1 reads 3e-3 as a string
    ("training: {learning_rate: '1E-4'}", 0.0001),
    ("training: {learning_rate: 2}", 2.0),
])
def test_numeric_strings_are_coerced_for_float_keys(tmp_path, text, expected):
    value = load_config(write(tmp_path, MINIMAL + text)).training.learning_rate
    assert value == expected and isinstance(value, float)


@pytest.mark.parametrize("text", ["training: {learning_rate: .inf}", "training: {learning_rate: .nan}",
                                  "training: {weight_decay: -.inf}", "model: {dropout: 1e999}",
                                  "training: {learning_rate: 1" + "0" * 400 + "}"])  # an int past float range
def test_non_finite_floats_are_rejected(tmp_path, text):
    with pytest.raises(UserError, match="must be a finite number"):
        load_config(write(tmp_path, MINIMAL + text))


def test_epochs_string_is_still_rejected(tmp_path):
    with pytest.raises(UserError, match="'training.epochs'.*must be int"):
        load_config(write(tmp_path, MINIMAL + 'training: {epochs: "20"}'))


@pytest.mark.parametrize("argv, expected", [
    (["--set", "training.learning_rate=.inf"], "--set training.learning_rate=.inf: config key "
                                                "'training.learning_rate' must be a finite number"),
    (["--epochs", "0"], "--epochs 0: config key 'training.epochs' must be >= 1"),
    (["--seed", "99999999999999999999"], "--seed 99999999999999999999: config key 'seed' must be an integer in"),
    (["--set", "data.id_range=[0,x]"], "--set data.id_range=[0,x]: config key 'data.id_range[1]' must be int"),
    (["--set", "model.hidden_dim=66"], None),  # checked in the body
    (["--set", "foo=1"], "--set foo=1: unknown config key 'foo'"),
])
def test_errors_caused_by_a_flag_name_the_flag(capsys, argv, expected):
    if "hidden_dim=66" in argv[-1]:  # SMALL has 4 heads: 66 is not divisible; with 2 heads, 33 is odd
        with pytest.raises(UserError, match=r"must be divisible by model.num_heads \(4\)"):
            parse(["--config", str(SMALL)] + argv)
        with pytest.raises(UserError, match=r"^--set model.hidden_dim=66: .* = 33 is the per-head size, which must "
                                            r"be even for the rotary position encoding \(RoPE\); e.g. hidden_dim 64 or 68"):
            parse(["--config", str(SMALL), "--set", "model.num_heads=2"] + argv)
        return
    with pytest.raises(UserError) as exc:
        parse(["--config", str(SMALL)] + argv)
    assert str(exc.value).startswith(expected) and str(SMALL) not in str(exc.value), str(exc.value)


def test_set_accepts_scientific_notation():
    assert parse(["--config", str(SMALL), "--set", "training.learning_rate=1e-3"]).training.learning_rate == 1e-3


def test_non_utf8_yaml_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    path.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(SystemExit) as exc:
        generate_data.main(["--config", str(path)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "is not UTF-8" in err and "\n" not in err, err


def test_results_dir_that_is_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exc:
        generate_data.main(["--config", str(write(tmp_path, MINIMAL)), "--set", f"paths.data_dir={tmp_path / 'file'}"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "is a file" in err and "\n" not in err, err


@pytest.mark.parametrize("error, expected", [
    (PermissionError(13, "Permission denied", "/data/x.jsonl"), "Permission denied: /data/x.jsonl"),
    (OSError(28, "No space left on device", "/data/x.jsonl"), "no space left on the device writing /data/x.jsonl"),
])
def test_file_system_errors_are_one_line(capsys, error, expected):
    def body(argv):
        raise error

    with pytest.raises(SystemExit) as exc:
        run_main("prog", body, [])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and expected in err and "\n" not in err, err
