"""Untrusted content: no pickle, weights loaded safely, no shell, every external call bounded."""

import ast
from pathlib import Path

import pytest

from fp.errors import IndexStoreError
from fp.index.store import IndexStore

PACKAGE = Path(__file__).resolve().parents[1] / "fp"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else "?"
                name = f"{owner}.{name}"
            yield name, {k.arg: k.value for k in node.keywords}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_pickle_no_shell_and_bounded_subprocesses(path):
    source = path.read_text()
    tree = ast.parse(source)
    assert "import pickle" not in source and "cPickle" not in source and "dill" not in source
    for name, kw in calls(tree):
        if name == "torch.load":
            assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, path
        if name in ("np.load", "numpy.load"):
            assert isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False, path
        if name.startswith("subprocess."):
            assert "shell" not in kw, path
            if name in ("subprocess.run", "subprocess.check_output", "subprocess.call"):
                assert "timeout" in kw, f"{path}: {name} without a timeout"
            if name == "subprocess.Popen":  # streamed decoding: guarded by the stall/deadline watchdog
                assert path.name == "decode.py", path
        assert name not in ("os.system", "os.popen", "eval", "exec"), path


def test_modality_names_from_the_database_cannot_choose_a_path(tmp_path):
    from fp.config import Config

    with IndexStore.open_for_writing(tmp_path, Config()) as store:
        with pytest.raises(IndexStoreError, match="unknown modality"):
            store._vector_path("../../etc/passwd")
