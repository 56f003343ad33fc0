import io
import tarfile

from retrainer.code_package import code_version, sourcedir_archive


def test_code_version_follows_content_only(tmp_path):
    (tmp_path / "train.py").write_text("print(1)")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    first = code_version(tmp_path)
    (tmp_path / "__pycache__" / "other.pyc").write_bytes(b"\1")
    assert code_version(tmp_path) == first
    (tmp_path / "train.py").write_text("print(2)")
    assert code_version(tmp_path) != first


def test_sourcedir_archive_is_reproducible_and_holds_the_scripts(tmp_path):
    (tmp_path / "train.py").write_text("print(1)")
    (tmp_path / "requirements.txt").write_text("tensorflow-cpu==2.21.0")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text("x = 1")
    archive = sourcedir_archive(tmp_path)
    (tmp_path / "train.py").touch()  # a new mtime changes nothing
    assert sourcedir_archive(tmp_path) == archive
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["pkg/model.py", "train.py"]  # no requirements.txt: no pip at job start
