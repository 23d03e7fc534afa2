"""A user's own config directory (`--config-dir DIR`, `hydra.searchpath=[file://DIR]`) as the command
line check sees it: its presets are found, and a misspelt key is still named with the closest one."""
import pytest

from ganlab import CONFIG_DIR
from ganlab.cli import check_command_line, split_config_dirs


@pytest.fixture
def user_conf(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "my_preset.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: digits\n\niterations: 3\nmy_key: 1\n")
    return tmp_path


def test_config_dir_flags_are_split_off():
    assert split_config_dirs(["--config-dir", "a", "x=1", "-cd", "b", "--config-dir=c", "-m"]) == (
        ["x=1", "-m"], ["a", "b", "c"])


@pytest.mark.parametrize("form", ["--config-dir", "-cd", "searchpath"])
def test_a_preset_of_the_users_directory_composes(user_conf, form):
    where = [f"hydra.searchpath=[file://{user_conf}]"] if form == "searchpath" else [form, str(user_conf)]
    check_command_line(CONFIG_DIR, "train", [*where, "experiment=my_preset", "my_key=2"])  # passes


@pytest.mark.parametrize("form", ["--config-dir", "searchpath"])
def test_a_misspelt_key_beside_a_user_preset_names_the_closest_one(user_conf, form, capsys):
    where = [f"hydra.searchpath=[file://{user_conf}]"] if form == "searchpath" else [form, str(user_conf)]
    with pytest.raises(SystemExit) as exit_info:
        check_command_line(CONFIG_DIR, "train", [*where, "experiment=my_preset", "my_kye=2"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: my_kye is not a config key; did you mean my_key?")
