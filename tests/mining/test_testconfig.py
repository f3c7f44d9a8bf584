"""The project's own test configuration (pytest, unittest, Maven, Gradle) decides what is a test."""

from __future__ import annotations

from dataclasses import dataclass

from codecustom.cli import main
from codecustom.mining.records import PairRecord, read_jsonl, read_manifest
from codecustom.mining.testconfig import discover
from tests.mining.conftest import make_repo


@dataclass
class Entry:
    path: str
    text: str
    kind: str = "file"

    @property
    def size(self) -> int:
        return len(self.text)

    def read(self) -> bytes:
        return self.text.encode()


def test_pytest_options_from_each_file_and_the_nearest_folder_wins():
    layout = discover([
        Entry("pytest.ini", "[pytest]\npython_files = check_*.py\n    *_checks.py\npython_functions = check\n"),
        Entry("pyproject.toml", '[tool.pytest.ini_options]\npython_files = ["never_*.py"]\n'),  # pytest.ini wins
        Entry("sub/setup.cfg", "[tool:pytest]\npython_files = spec_*.py\npython_classes = *Spec\ntestpaths = specs\n"),
        Entry("other/tox.ini", "[tox]\nenvlist = py3\n\n[pytest]\npython_functions = it_*\n"),
        Entry("lib/conftest.py", "def pytest_collect_file(parent, file_path):\n    return None\n"),
    ])
    assert layout.is_python_test("pkg/check_math.py") and layout.is_python_test("pkg/math_checks.py")
    assert not layout.is_python_test("pkg/never_x.py")
    assert layout.is_python_test("pkg/test_default.py")  # files pytest's defaults name tests stay tests
    assert layout.is_python_test("sub/specs/spec_a.py") and not layout.is_python_test("sub/spec_a.py")  # testpaths
    assert layout.naming_for("sub/specs/spec_a.py").is_test_class("VectorSpec")
    assert not layout.naming_for("sub/specs/spec_a.py").is_test_class("TestVector")
    assert layout.naming_for("other/x.py").is_test_function("it_adds")
    assert layout.naming_for("x.py").is_test_function("check_it") and not layout.naming_for("x.py").is_test_function("test_it")
    assert any("pytest_collect_file" in u for u in layout.unfollowed)
    sources = [row[1] for row in layout.describe() if row[0] == "python"]
    assert "pytest.ini [pytest]" in sources and "sub/setup.cfg [tool:pytest]" in sources


def test_maven_and_gradle_test_folders():
    layout = discover([
        Entry("pom.xml", "<project><build><testSourceDirectory>${project.basedir}/junit</testSourceDirectory>"
                         "<plugins><plugin><artifactId>maven-surefire-plugin</artifactId><configuration><includes>"
                         "<include>**/*Checks.java</include></includes></configuration></plugin></plugins></build></project>"),
        Entry("mod/build.gradle", "sourceSets {\n  test {\n    java {\n      srcDirs = ['checks/java']\n    }\n  }\n}\n"),
    ])
    assert layout.is_java_test("junit/a/ParserCase.java", default=False)
    assert layout.is_java_test("src/x/ParserChecks.java", default=False)
    assert layout.is_java_test("mod/checks/java/a/B.java", default=False)
    assert not layout.is_java_test("src/main/java/a/B.java", default=False)
    assert len([r for r in layout.describe() if r[0] == "java"]) == 3


PY_FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\npython_files = ["tests_*.py"]\npython_functions = ["check_*"]\n'
                      'testpaths = ["checks"]\n',
    "src/vec/__init__.py": "",
    "src/vec/ops.py": "class Vector:\n    def __init__(self, *xs):\n        self.xs = list(xs)\n\n"
                      "    def __contains__(self, x):\n        return x in self.xs\n\n"
                      "    def norm(self):\n        return sum(x * x for x in self.xs) ** 0.5\n",
    "checks/tests_ops.py": "from vec.ops import Vector\n\n\ndef check_contains():\n    assert 2 in Vector(1, 2)\n\n\n"
                           "def check_norm():\n    assert Vector(3, 4).norm() == 5\n\n\ndef helper_not_a_test():\n"
                           "    return Vector(1).norm()\n",
    "checks/suite.py": "import unittest\nfrom vec.ops import Vector\n\n\nclass VectorCase(unittest.TestCase):\n"
                       "    def test_norm(self):\n        self.assertEqual(Vector(0).norm(), 0)\n",
}


def test_custom_python_files_are_followed_end_to_end(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo", PY_FILES)
    assert main(["mine", str(repo), "--lang", "python", "--out", str(tmp_path / "ds"), "--stats"]) == 0
    out = capsys.readouterr().out
    assert "Where tests were looked for" in out and "pyproject.toml [tool.pytest.ini_options]" in out
    pairs = {p.test_id.split("::")[-1].split("@")[0]: p.focal_id for p in read_jsonl(tmp_path / "ds" / "pairs.jsonl", PairRecord)}
    assert pairs["check_contains"].startswith("src/vec/ops.py::Vector::__contains__")
    assert pairs["check_norm"].startswith("src/vec/ops.py::Vector::norm")
    assert pairs["test_norm"].startswith("src/vec/ops.py::Vector::norm")  # a TestCase subclass wherever it lives
    assert "helper_not_a_test" not in pairs
    assert read_manifest(tmp_path / "ds").extra["warnings"] == []


def test_tests_that_were_not_found_get_a_warning_naming_the_rules(tmp_path, capsys):
    files = dict(PY_FILES)
    files["checks/ops_checks.py"] = files.pop("checks/tests_ops.py")  # no longer matches python_files
    del files["checks/suite.py"]
    repo = make_repo(tmp_path / "repo", files)
    assert main(["mine", str(repo), "--lang", "python", "--out", str(tmp_path / "ds")]) == 0
    err = capsys.readouterr().err
    assert "no python tests found" in err and "checks/ops_checks.py" in err and "tests_*.py" in err
    assert read_manifest(tmp_path / "ds").extra["warnings"]
