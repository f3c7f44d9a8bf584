"""The environment a sandboxed command sees: an allow-list, never credentials."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping

# Variables passed through from the caller's environment (values checked against SECRET_PATTERNS too).
ALLOWED = ("PATH", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "JAVA_HOME", "MAVEN_HOME", "M2_HOME",
           "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONHASHSEED", "SOURCE_DATE_EPOCH")
# Names that look like credentials are refused even when a caller passes them explicitly.
SECRET_PATTERNS = ("AWS_*", "AZURE_*", "GOOGLE_*", "GCP_*", "GCLOUD_*", "*_TOKEN", "*_TOKEN_*", "TOKEN",
                   "*_KEY", "*_KEY_*", "*_KEYS", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*_CREDENTIALS*",
                   "*_AUTH", "*_AUTH_*", "HF_*", "HUGGING_FACE_*", "GITHUB_*", "GH_*", "GITLAB_*",
                   "OPENAI_*", "ANTHROPIC_*", "NPM_*", "PYPI_*", "TWINE_*", "DOCKER_*", "SSH_*", "GPG_*",
                   "KUBECONFIG", "NETRC", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "*_PROXY", "*_proxy")


def is_secret(name: str) -> bool:
    """True when ``name`` looks like it carries a credential."""
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in SECRET_PATTERNS)


def sandbox_env(home: str, tmpdir: str, extra: Mapping[str, str] | None = None,
                source: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: allowed variables from ``source`` (default os.environ), HOME/TMPDIR set
    inside the sandbox, then ``extra``; anything that looks like a credential is dropped."""
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items()
           if any(fnmatch.fnmatchcase(k, pat) for pat in ALLOWED) and not is_secret(k)}
    env.update({"HOME": home, "TMPDIR": tmpdir, "TMP": tmpdir, "TEMP": tmpdir, "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "CI": "1"})
    for key, value in (extra or {}).items():
        if not is_secret(key):
            env[key] = value
    return env
