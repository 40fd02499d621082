"""The .dockerignore matching of tests/docker_context.py against what Docker documents and what
its pattern matcher's own tests (moby/patternmatcher) expect, and the COPY/ADD parsing."""

from __future__ import annotations

import pytest

from tests.docker_context import Matcher, context_files, copy_sources, read_patterns


def test_ignore_file_lines_are_read_as_docker_reads_them():
    text = "\ufefftest1\n/test2\n/a/file/here\n\n  lastfile  \n# a comment\n! /inverted/abs/path\n"
    assert read_patterns(text) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
    ]
    assert read_patterns("ml/serve/\n!./a//b/../c\n") == ["ml/serve", "!a/c"]


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        # Docker docs, ".dockerignore files"
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "somedir/temp", True),
        ("*/temp*", "temporary.txt", False),
        ("*/*/temp*", "somedir/subdir/temporary.txt", True),
        ("*/*/temp*", "somedir/temporary.txt", False),
        ("temp?", "tempa", True),
        ("temp?", "temp", False),
        ("**/*.go", "main.go", True),
        ("**/*.go", "a/b/c.go", True),
        # moby/patternmatcher's tests
        ("**", "dir/file", True),
        ("dir/**", "dir/dir2/file", True),
        ("abc/**", "abc", False),
        ("**/dir", "dir", True),
        ("**/dir", "dir/file", True),  # below a matching folder
        ("**/dir2/*", "dir/dir2/file", True),
        ("**file", "dir/dir/file", True),
        ("**/file*.txt", "dir/dir/file.txt", True),
        ("**/**/*.txt2", "dir/dir/file.txt", False),
        ("a**/*.txt", "a/dir/dir/file.txt", True),
        ("a/*.txt", "a/dir/file.txt", False),
        ("a*", "ab/c", True),
        ("a*/b", "a/c/b", False),
        ("a?b", "a/b", False),
        ("a[b-d]e", "ace", True),
        ("a[^b-d]e", "ace", False),
        (".*", ".foo", True),
        (".*", "foo", False),
        ("abc.def", "abcZdef", False),
        ("**/.foo", "bar.foo", False),
        ("a(b)c/def", "a(b)c/def", True),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
        ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
        ("a\\*b", "a*b", True),
        ("a\\*b", "ab", False),
        ("docs/", "docs/README.md", True),
    ],
)
def test_a_pattern_matches_as_docker_matches_it(pattern, path, excluded):
    assert Matcher([pattern]).excluded(path) is excluded


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.md", "!README.md"], "README.md", False),
        (["*.md", "!README.md"], "CHANGES.md", True),
        # "No markdown files are included in the context except README files other than
        # README-secret.md"; the last matching line decides.
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
        (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["!fileutils.go", "*.go"], "fileutils.go", True),
        (["**", "!util/docker/web"], "util/docker/web/foo", False),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    ],
)
def test_the_last_matching_pattern_decides(patterns, path, excluded):
    assert Matcher(patterns).excluded(path) is excluded


def test_a_lone_exclamation_mark_is_refused():
    with pytest.raises(ValueError, match="illegal exclusion pattern"):
        Matcher(["!"])


def test_the_legacy_builder_skips_an_excluded_folder_unless_an_exception_starts_with_it():
    files = {"ml/keep.py", "ml/serve/app.py", "ml/train.py", "README.md"}
    assert context_files(files, ["*", "!ml/serve/"]) == {"ml/serve/app.py"}
    # `**/keep.py` would match ml/keep.py, but no exception starts with `ml/`: never walked.
    assert Matcher(["ml", "!**/keep.py"]).excluded("ml/keep.py") is False
    assert context_files(files, ["ml", "!**/keep.py"]) == {"README.md"}
    assert context_files(files, ["ml", "!ml/keep.py"]) == {"README.md", "ml/keep.py"}
    assert context_files(files, []) == files


def test_copy_sources_are_the_context_paths_of_copy_and_add():
    dockerfile = """# syntax=docker/dockerfile:1
FROM base AS build
COPY requirements/serve.txt /tmp/serve.txt
COPY --from=build /opt/venv /opt/venv
COPY --chown=1001:1001 --chmod=644 ml/a.py ml/b.py \\
    ml/c/ /app/ml/
copy ["with space.txt", "/x/"]
ADD https://example.org/archive.tar.gz /tmp/
ADD vendor.tar.gz /vendor/
RUN echo COPY not/this /here
"""
    assert copy_sources(dockerfile) == [
        "requirements/serve.txt",
        "ml/a.py",
        "ml/b.py",
        "ml/c",
        "with space.txt",
        "vendor.tar.gz",
    ]
