"""Real git repositories for evaluation tests, built from the hand-written project in tests/support/datasets.

The dataset written next to a repo carries the repo's real commit sha, so execution runs on exactly the
mined revision.
"""

from __future__ import annotations

from pathlib import Path

import git

from tests.support.datasets import JAVA_FOCAL, JAVA_TESTS, PY_SOURCES, PY_TESTS, write_dataset


def make_repo(root: Path, files: dict[str, str], message: str = "initial") -> tuple[Path, str]:
    """A git repo at ``root`` with ``files`` committed; returns (path, commit sha)."""
    root.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(root)
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "codecustom tests")
        cfg.set_value("user", "email", "tests@codecustom.invalid")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    repo.index.add(list(files))
    commit = repo.index.commit(message)
    return root, commit.hexsha


def python_project() -> dict[str, str]:
    return {**PY_SOURCES, **PY_TESTS}


def java_project() -> dict[str, str]:
    files = {path: src for path, (_, src) in JAVA_FOCAL.items()}
    files.update(JAVA_TESTS)
    return files


def repo_with_dataset(tmp: Path, *, java: bool = False) -> tuple[Path, Path, str]:
    """(repo, dataset folder, sha): the textkit project (plus the Java part when asked) and its dataset."""
    files = python_project()
    if java:
        files.update(java_project())
    repo, sha = make_repo(tmp / "textkit", files)
    dataset = write_dataset(tmp / "dataset", repo=str(repo), revision=sha)
    return repo, dataset, sha


# Plugin versions pinned to ones an offline ~/.m2 is likely to hold (Maven's defaults are ancient).
_PLUGINS = """
  <build><pluginManagement><plugins>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
    <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
  </plugins></pluginManagement></build>"""


def pom(dependency: str) -> str:
    """A minimal pom for the fixture's Java code with one test dependency (JUnit 4 or Jupiter)."""
    group, artifact, version = dependency.split(":")
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId><artifactId>textkit</artifactId><version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>{_PLUGINS}
  <dependencies>
    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version>
      <scope>test</scope></dependency>
  </dependencies>
</project>
"""


JUPITER_TEST = """\
package org.example;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WordsJupiterTest {
    @Test
    void countsWords() {
        assertEquals(2, Words.countWords("a b"));
    }
}
"""
