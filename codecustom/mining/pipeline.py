"""The mining pipeline: stream files → filter → parse in worker processes → spool records to disk →
map tests to focal methods on the light index → assign splits → write the dataset.

Memory stays bounded by the light index (names, arities, signatures, call sites of tests), not by the
repository's size: file contents and method bodies go to spool files as they arrive and are read back
by offset.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import pickle
import shutil
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from json.encoder import encode_basestring
from pathlib import Path

from codecustom import __version__
from codecustom.errors import DataError, UsageError
from codecustom.mining import dedupe, filters, registry, splits, testconfig
from codecustom.mining.cache import ParseCache, mapping_digest
from codecustom.mining.facts import FileFacts, MethodFacts
from codecustom.mining.index import CodeIndex, MethodRef, TestRef
from codecustom.mining.mapping import Mapper, Mapping
from codecustom.mining.records import (CONTEXT_LEVELS, FileRecord, Manifest, MethodRecord, PairRecord, SCHEMA_VERSION,
                                       write_jsonl)
from codecustom.mining.sources import SourceEntry, blob_sha
from codecustom.mining.tempdirs import clean_leftovers

SPLIT_RULES = ("file", "time")
_IN_PROCESS_BELOW = 48  # files: fewer than this are parsed in-process (no pool start-up cost)


@dataclass
class Task:
    path: str
    data: bytes
    sha: str
    language: str
    is_test_file: bool
    naming: testconfig.PythonNaming | None = None  # the project's pytest naming, when it is not pytest's default


@dataclass
class FileResult:
    path: str
    sha: str
    language: str
    is_test_file: bool
    reason: str | None = None
    facts: FileFacts | None = None
    text: bytes | None = None  # the FileRecord line (split last), when kept for the completion corpus
    signature: bytes | None = None  # MinHash signature (dedupe.minhash) or None
    content_hash: int = 0
    method_lines: list[bytes] = field(default_factory=list)  # serialized MethodRecords (split last)
    method_hashes: list[int] = field(default_factory=list)  # exact-dedupe keys of the bodies
    method_ids: list[str] = field(default_factory=list)
    # what test->focal mapping reads from the file for other files' tests (cache.mapping_digest)
    decl_digest: str = ""
    sites_blob: bytes | None = None  # in the cache only: the methods' call sites, pickled apart


# -- worker side ---------------------------------------------------------------------------------

_EXTRACTORS: dict[str, object] = {}
_CONFIG = filters.FilterConfig()


def _init_worker(cfg: filters.FilterConfig) -> None:
    global _CONFIG
    _CONFIG = cfg
    _EXTRACTORS.clear()


def process(task: Task) -> FileResult:
    """Decode, filter, parse and extract one file (runs in a worker process)."""
    res = FileResult(task.path, task.sha, task.language, task.is_test_file)
    try:
        text = task.data.decode("utf-8")
    except UnicodeDecodeError:
        res.reason = "non_utf8"
        return res
    reason = filters.content_reason(task.data, text, _CONFIG)
    if reason:
        res.reason = reason
        return res
    ext = _EXTRACTORS.get(task.language)
    if ext is None:
        ext = _EXTRACTORS[task.language] = registry.LANGUAGES[task.language].make_extractor()
    try:
        kw = {"naming": task.naming} if task.naming is not None else {}
        res.facts = ext.extract(task.path, task.data, is_test_file=task.is_test_file, **kw)  # type: ignore[attr-defined]
    except (RecursionError, MemoryError, ValueError) as exc:  # a pathological file must not stop the run
        res.reason = f"parse_failed:{type(exc).__name__}"
        return res
    res.decl_digest = mapping_digest(res.facts)
    # serialize here, in the worker: the main process only appends bytes to the spool
    for mf in res.facts.methods:
        rec = _method_record(res.facts, mf)
        res.method_lines.append(_dump(rec))
        res.method_hashes.append(dedupe.content_hash(mf.body))
        res.method_ids.append(rec["id"])
        mf.body = ""  # not needed by the index; keeps the result small to send back
        mf.docstring = None
    res.is_test_file = res.facts.is_test_file  # the extractor may find a TestCase subclass in a file not named a test
    if not res.facts.root_has_error:
        res.text = _dump({"path": task.path, "language": task.language, "content": text, "sha": task.sha,
                          "is_test": res.is_test_file, "split": "train"})
        res.content_hash = dedupe.content_hash(text)
        res.signature = dedupe.minhash(text)
    return res


def _process_chunk(tasks: list[Task]) -> list[FileResult]:
    return [process(t) for t in tasks]


# -- main side -----------------------------------------------------------------------------------

@dataclass
class MineOptions:
    languages: list[str] = field(default_factory=lambda: list(registry.DEFAULT_LANGUAGES))
    split: str = "file"
    workers: int | None = None
    filter_config: filters.FilterConfig = field(default_factory=filters.FilterConfig)
    cache: bool = True  # keep and reuse each blob's parse result (mining/cache.py)
    cache_dir: Path | None = None  # default $CODECUSTOM_HOME/cache/mining


class Miner:
    """One mining run into ``work_dir`` (a temporary folder the caller renames into place)."""

    def __init__(self, work_dir: Path, options: MineOptions, console=None,
                 layout: testconfig.TestLayout | None = None) -> None:
        if options.split not in SPLIT_RULES:
            raise UsageError(f"unknown split rule '{options.split}'", hint="use --split file or --split time")
        self.work = work_dir
        self.opt = options
        self.console = console
        self.filters: Counter[str] = Counter()
        self.split_rule: str | None = None  # set when the split rule had to fall back (see splits.py)
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.index = CodeIndex()
        self._method_spool = open(work_dir / "methods.spool", "wb")
        self._file_spool = open(work_dir / "files.spool", "wb")
        self._method_hashes: dict[int, int] = {}  # body hash -> ordinal of the first method with that body
        self._body_hash = array("Q")  # ordinal -> content hash of the method's body (pairs are deduped on it)
        self._dup_methods: dict[int, int] = {}  # ordinal -> ordinal of the earlier method with the same body
        self._file_hashes: set[int] = set()
        self._near = dedupe.NearDuplicateIndex()
        self._ordinal = 0
        self._spool_pos = 0
        self._file_paths: list[str] = []
        self.timings: dict[str, float] = {}
        self.bytes_read = 0
        self.langs = {name: registry.LANGUAGES[name] for name in options.languages}
        self.layout = layout or testconfig.TestLayout()
        self.cache: ParseCache | None = ParseCache(options.cache_dir) if options.cache else None
        self._cache_keys: dict[str, tuple[tuple, int]] = {}  # path -> (cache key, bytes) of results to store
        self._decls: list[str] = []  # every parsed file's declaration digest, in order (what mapping reads)
        self._file_decl: dict[str, str] = {}
        self._file_sha: dict[str, str] = {}
        self._position: dict[int, tuple[str, int]] = {}  # method ordinal -> (path, index in its file)
        self._sites_blobs: dict[str, bytes] = {}  # path -> its tests' call sites, pickled (cached results)
        self.test_dir_files: Counter[str] = Counter()  # source files in test-looking folders, by language
        self.test_dir_examples: list[str] = []

    # -- stage 1: stream, filter, extract, spool ----------------------------------------------

    def _reject(self, reason: str, path: str) -> None:
        self.filters[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < 5:
            ex.append(path)

    def _tasks(self, entries: Iterable[SourceEntry], bar) -> Iterator[Task]:
        cfg = self.opt.filter_config
        for e in entries:
            self.counts["files_seen"] += 1
            bar.update(1)
            if e.kind != "file":
                self._reject(e.kind, e.path)
                continue
            spec = registry.language_for_path(e.path)
            if spec is None:
                self._reject("not_source", e.path)
                continue
            if spec.name not in self.langs:
                self._reject("language_not_selected", e.path)
                continue
            reason = filters.path_reason(e.path)
            if reason:
                self._reject(reason, e.path)
                continue
            if e.size > cfg.max_bytes:
                self._reject("too_large", e.path)
                continue
            is_test, naming = self._test_rule(spec, e.path)
            if _in_test_folder(e.path) or self.layout.in_configured_test_folder(e.path):
                self.test_dir_files[spec.name] += 1
                if len(self.test_dir_examples) < 3:
                    self.test_dir_examples.append(e.path)
            key = (e.sha, e.path, spec.name, is_test, naming, cfg) if e.sha else None
            cached = self.cache.get(key) if key is not None and self.cache is not None else None
            if cached is not None:  # what this blob gave before: the same verdict, counters and result
                verdict, size, res = cached
                if verdict:
                    self._reject(verdict, e.path)
                else:
                    self.bytes_read += size
                    yield res
                continue
            try:
                data = e.read()
            except OSError as exc:
                self._reject("unreadable", f"{e.path} ({exc.__class__.__name__})")
                continue
            verdict = ("too_large" if len(data) > cfg.max_bytes else "empty" if not data.strip()
                       else "binary" if filters.is_binary(data) else None)
            sha = e.sha or blob_sha(data)
            if key is None and self.cache is not None:  # a plain folder: the blob id is known once read
                key = (sha, e.path, spec.name, is_test, naming, cfg)
                cached = self.cache.get(key)
                if cached is not None and not cached[0]:
                    self.bytes_read += cached[1]
                    yield cached[2]
                    continue
            if verdict:
                self._reject(verdict, e.path)
                if key is not None and self.cache is not None:
                    self.cache.put(key, (verdict, len(data), None))
                continue
            self.bytes_read += len(data)
            if key is not None and self.cache is not None:
                self._cache_keys[e.path] = (key, len(data))
            yield Task(e.path, data, sha, spec.name, is_test, naming)

    def _test_rule(self, spec: registry.LanguageSpec, path: str) -> tuple[bool, testconfig.PythonNaming | None]:
        """Whether a file is a test file by the project's configuration (else the language's default), and the
        pytest naming its tests follow when the project sets its own."""
        if spec.name == "python":
            naming = self.layout.naming_for(path)
            return self.layout.is_python_test(path), (naming if naming.custom else None)
        if spec.name == "java":
            return self.layout.is_java_test(path, spec.is_test_path(path)), None
        return spec.is_test_path(path), None

    def _results(self, tasks: Iterator[Task | FileResult], n_entries: int) -> Iterator[FileResult]:
        """Results in the order of the tasks; cached results (FileResult items) pass straight through."""
        workers = self.opt.workers or min(os.cpu_count() or 1, 8)
        if workers <= 1 or n_entries < _IN_PROCESS_BELOW:
            _init_worker(self.opt.filter_config)
            for t in tasks:
                yield process(t) if isinstance(t, Task) else t
            return
        import multiprocessing as mp  # only here: one worker never needs it, and importing it costs a few ms

        method = "fork" if sys.platform.startswith("linux") else "spawn"
        ctx = mp.get_context(method)
        with ctx.Pool(workers, initializer=_init_worker, initargs=(self.opt.filter_config,)) as pool:
            pending: deque = deque()
            chunk: list[Task] = []
            for t in tasks:
                if not isinstance(t, Task):  # cached: keep its place in the order
                    if chunk:
                        pending.append(pool.apply_async(_process_chunk, (chunk,)))
                        chunk = []
                    pending.append(_Ready([t]))
                    continue
                chunk.append(t)
                if len(chunk) >= 8:
                    pending.append(pool.apply_async(_process_chunk, (chunk,)))
                    chunk = []
                    while len(pending) >= 4 * workers:  # bounded: at most this many chunks in flight
                        yield from pending.popleft().get()
            if chunk:
                pending.append(pool.apply_async(_process_chunk, (chunk,)))
            while pending:
                yield from pending.popleft().get()

    def consume(self, entries: Iterable[SourceEntry], total: int | None = None) -> None:
        t0 = time.perf_counter()
        bar = self._bar(total)
        try:
            for res in self._results(self._tasks(entries, bar), total if total is not None else 10**9):
                self._accept(res)
        finally:
            bar.close()
            self._method_spool.close()
            self._file_spool.close()
        self.timings["extract_s"] = time.perf_counter() - t0

    def _bar(self, total: int | None):
        if self.console is not None and getattr(self.console, "shows_progress", True):
            return self.console.progress(total=total, desc="mining", unit="file")
        return _NoBar()

    def _accept(self, res: FileResult) -> None:
        keyed = self._cache_keys.pop(res.path, None)
        if keyed is not None and self.cache is not None:
            self._store(keyed, res)
        elif res.sites_blob is not None:  # from the cache: its tests' call sites are read only if mapping needs them
            self._sites_blobs[res.path] = res.sites_blob
        if res.reason:
            self._reject(res.reason.split(":")[0], res.path)
            return
        facts = res.facts
        assert facts is not None
        self.counts["files_parsed"] += 1
        self.counts[f"files_{res.language}"] += 1
        self.counts["methods_syntax_error"] += facts.syntax_errors
        ordinals: list[int | None] = []
        offsets: list[int | None] = []
        ids: list[str] = []
        spool = self._method_spool
        self._body_hash.extend(res.method_hashes)
        for line, h in zip(res.method_lines, res.method_hashes):
            first = self._method_hashes.get(h)
            if first is not None:
                self._dup_methods[self._ordinal] = first
            else:
                self._method_hashes[h] = self._ordinal
            offsets.append(self._spool_pos)  # tracked by hand: BufferedWriter.tell() flushes
            self._spool_pos += len(line)
            ordinals.append(self._ordinal)
            self._ordinal += 1
        spool.write(b"".join(res.method_lines))
        self.index.add(facts, ordinals, offsets, res.method_ids)
        self._decls.append(f"{res.path}\0{res.decl_digest}")
        self._file_decl[res.path] = res.decl_digest
        self._file_sha[res.path] = res.sha
        for k, o in enumerate(ordinals):
            self._position[o] = (res.path, k)
        if facts.root_has_error:
            self._reject("syntax_error", res.path)
            return
        if res.content_hash in self._file_hashes:
            self._reject("duplicate_file", res.path)
            return
        self._file_hashes.add(res.content_hash)
        if res.signature is not None and self._near.seen(res.signature):
            self._reject("near_duplicate", res.path)
            return
        self._file_spool.write(res.text)
        self._file_paths.append(res.path)
        self.counts["files_kept"] += 1

    # -- stage 2: map ---------------------------------------------------------------------------

    def map_tests(self) -> list[Mapping]:
        """Every test's focal method. A test file whose tests and whose view of the repository (every file's
        declarations: cache.mapping_digest) are as in an earlier run reuses that run's answers."""
        t0 = time.perf_counter()
        rules = {name: spec.focal_rules() for name, spec in self.langs.items() if spec.focal_rules is not None}
        mapper = Mapper(self.index, rules)
        world = hashlib.sha1("\0".join(self._decls).encode()).hexdigest()
        by_file: dict[str, list[TestRef]] = {}
        for t in self.index.tests:
            if t.method.language in rules:
                by_file.setdefault(t.method.path, []).append(t)
        mappings: list[Mapping] = []
        for path, tests in by_file.items():
            key = ("map", world, self._file_sha[path])  # the file's bytes fix its tests' facts (cache salt: the code)
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None and len(cached) == len(tests):
                results = [self._unpack(t, c) for t, c in zip(tests, cached)]
            else:
                self._restore_sites(path, tests)
                results = [mapper.map_test(t, rules[t.method.language]) for t in tests]
                if self.cache is not None:
                    self.cache.put(key, [self._pack(r) for r in results])
            for r in results:
                if isinstance(r, Mapping):
                    mappings.append(r)
                else:
                    mapper.unmapped[r] += 1
        self.unmapped = mapper.unmapped
        self.timings["map_s"] = time.perf_counter() - t0
        return mappings

    def _pack(self, r: Mapping | str) -> tuple | str:
        """A mapping by positions (file, index of the method in it), valid while those files' declarations hold."""
        if isinstance(r, str):
            return r
        fac = self._position[r.factory.ordinal] if r.factory is not None else None
        return (self._position[r.focal.ordinal], r.heuristic, r.confidence, r.class_rule, fac)

    def _unpack(self, test: TestRef, c: tuple | str) -> Mapping | str:
        if isinstance(c, str):
            return c
        (fpath, fidx), heuristic, confidence, rule, fac = c
        factory = self.index.file_methods[fac[0]][fac[1]] if fac is not None else None
        return Mapping(test, self.index.file_methods[fpath][fidx], heuristic, confidence, rule, factory)

    # -- stage 3: splits and final files --------------------------------------------------------

    def write(self, mappings: list[Mapping], *, source=None, manifest_base: dict) -> Manifest:
        t0 = time.perf_counter()
        pair_split, method_split, file_split = self._assign_splits(mappings, source)
        contexts = {name: spec.context() for name, spec in self.langs.items() if spec.context is not None}
        split_sizes: dict[str, Counter] = {"pairs": Counter(), "methods": Counter(), "files": Counter()}
        heur: Counter[str] = Counter()
        rules: Counter[str] = Counter()
        pair_methods: set[int] = set()
        seen_pairs: dict[tuple[int, int], str] = {}  # (test body, focal body) -> test id of the pair written
        duplicate_pairs: dict[str, str] = {}
        with open(self.work / "methods.spool", "rb") as spool, open(self.work / "pairs.jsonl", "wb") as out:
            group: list[tuple[Mapping, str]] = []  # the pairs of one test file (written, and cached, together)
            for mp_ in sorted(mappings, key=lambda m: m.test.method.ordinal):
                key = (self._body_hash[mp_.test.method.ordinal], self._body_hash[mp_.focal.ordinal])
                if key in seen_pairs:
                    self.counts["duplicate_pairs"] += 1
                    duplicate_pairs[mp_.test.method.id] = seen_pairs[key]  # counted, and said which pair stands for it
                    continue
                seen_pairs[key] = mp_.test.method.id
                split = pair_split[id(mp_)]
                if group and group[-1][0].test.method.path != mp_.test.method.path:
                    out.write(b"".join(self._pair_lines(group, spool, contexts)))
                    group = []
                group.append((mp_, split))
                pair_methods.update((mp_.test.method.ordinal, mp_.focal.ordinal))
                heur[mp_.heuristic] += 1
                rules[mp_.class_rule] += 1
                split_sizes["pairs"][split] += 1
            if group:
                out.write(b"".join(self._pair_lines(group, spool, contexts)))
        self.counts["pairs"] = sum(heur.values())
        # methods.jsonl: exact duplicates dropped, except methods that are part of a pair
        with open(self.work / "methods.spool", "rb") as src, open(self.work / "methods.jsonl", "wb",
                                                                  buffering=1 << 20) as dst:
            for ordinal, line in enumerate(src):
                ref = self.index.methods_by_ordinal.get(ordinal)
                twin = self._dup_methods.get(ordinal)
                if twin is not None and ordinal not in pair_methods and not (ref is not None and ref.is_test):
                    self.filters["duplicate_method"] += 1
                    continue
                split = method_split(ref) if ref is not None else "train"
                twin_ref = self.index.methods_by_ordinal.get(twin) if twin is not None else None
                if twin_ref is not None and ref is not None and ref.is_test:
                    self.counts["tests_duplicate"] += 1  # every test is written; a copy says which it copies
                    dst.write(_finish(line, split, twin_ref.id))
                else:
                    dst.write(_with_split(line, split))
                split_sizes["methods"][split] += 1
                self.counts["methods"] += 1
                if ref is not None and ref.is_test:
                    self.counts["tests_written"] += 1
        with open(self.work / "files.spool", "rb") as src, open(self.work / "files.jsonl", "wb") as dst:
            for path, line in zip(self._file_paths, src):
                split = file_split(path)
                dst.write(_with_split(line, split))
                split_sizes["files"][split] += 1
        (self.work / "methods.spool").unlink()
        (self.work / "files.spool").unlink()
        self.timings["write_s"] = time.perf_counter() - t0

        tests_by_lang = Counter(t.method.language for t in self.index.tests)
        mappable = {n for n, s in self.langs.items() if s.maps_tests}
        self.warnings = self._discovery_warnings(tests_by_lang, mappable)
        all_tests = sum(v for k, v in tests_by_lang.items() if k in mappable)
        self.counts["tests"] = len(self.index.tests)
        self.counts["methods_total"] = self._ordinal
        self.counts["classes"] = len(self.index.classes)
        mapped_tests = len({m.test.method.ordinal for m in mappings})
        manifest = Manifest(
            repo=manifest_base["repo"], revision=manifest_base["revision"], tool_version=__version__,
            schema_version=SCHEMA_VERSION, languages=list(self.opt.languages), counts=dict(sorted(self.counts.items())),
            filters=dict(sorted(self.filters.items())), split_rule=self.split_rule or self.opt.split,
            split_sizes={k: dict(sorted(v.items())) for k, v in split_sizes.items()},
            extra={
                "project": manifest_base.get("project"),
                "pairs_by_heuristic": dict(heur.most_common()),
                "pairs_by_class_rule": dict(rules.most_common()),
                "tests_by_language": dict(tests_by_lang),
                "tests_mappable": all_tests,
                "tests_mapped": mapped_tests,
                "tests_mapped_share": round(mapped_tests / all_tests, 4) if all_tests else 0.0,
                "unmapped_reasons": dict(self.unmapped.most_common()),
                "filter_examples": self.examples,
                "bytes_read": self.bytes_read,
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "test_mapping_languages": sorted(mappable),
                "test_discovery": {**self.layout.as_dict(), "files_in_test_folders": dict(self.test_dir_files)},
                "warnings": self.warnings,
                "duplicate_pairs": duplicate_pairs,
                **manifest_base.get("extra", {}),
            },
        )
        (self.work / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
        return manifest

    def _store(self, keyed: tuple[tuple, int], res: FileResult) -> None:
        """Cache a file's result, its tests' call sites apart (pickled once, unpickled only when a test of the file
        has to be mapped again)."""
        methods = res.facts.methods if res.facts is not None else []
        sites = [m.call_sites for m in methods]
        if any(sites):
            res.sites_blob = pickle.dumps(sites, protocol=pickle.HIGHEST_PROTOCOL)
            for m in methods:
                m.call_sites = []
        try:
            self.cache.put(keyed[0], (None, keyed[1], res))  # type: ignore[union-attr]
        finally:
            for m, found in zip(methods, sites):
                m.call_sites = found
            res.sites_blob = None

    def _restore_sites(self, path: str, tests: list[TestRef]) -> None:
        blob = self._sites_blobs.pop(path, None)
        if blob is not None:
            sites = pickle.loads(blob)
            for t in tests:
                t.call_sites = sites[self._position[t.method.ordinal][1]]

    def _pair_lines(self, group: list[tuple[Mapping, str]], spool, contexts: dict) -> list[bytes]:
        """The pairs.jsonl lines of one test file's pairs: from the cache when every line's inputs are as before."""
        key = ("pairs", tuple(self._pair_line_key(mp_, split) for mp_, split in group))
        lines = self.cache.get(key) if self.cache is not None else None
        if lines is not None and len(lines) == len(group):
            return lines
        lines = [self._pair_line(mp_, split, spool, contexts) for mp_, split in group]
        if self.cache is not None:
            self.cache.put(key, lines)
        return lines

    def _pair_line(self, mp_: Mapping, split: str, spool, contexts: dict) -> bytes:
        test_body = _body_at(spool, mp_.test.method.offset)
        focal_body = _body_at(spool, mp_.focal.offset)
        focal_text = json.loads(focal_body)
        builder = contexts[mp_.focal.language]
        if hasattr(builder, "build_json"):
            ctx = builder.build_json(mp_.focal, focal_text, self.index)
        else:
            ctx = {lvl: _JSON.encode(v).encode("utf-8")
                   for lvl, v in builder.build(mp_.focal, focal_text, self.index, factory=mp_.factory).items()}
        values = (  # PairRecord's fields, in _PAIR_FIELDS order
            mp_.test.method.id, mp_.focal.id, mp_.focal.language, mp_.heuristic, mp_.confidence,
            mp_.test.method.path, mp_.focal.path, test_body, focal_body,
            _JsonText(b"{" + b", ".join([_CONTEXT_KEYS[lvl] + ctx[lvl] for lvl in CONTEXT_LEVELS]) + b"}"), split,
            mp_.class_rule, mp_.test.framework,
            mp_.test.method.cls.qualname if mp_.test.method.cls else None,
            mp_.focal.cls.qualname if mp_.focal.cls else None,
            mp_.focal.signature, mp_.factory.id if mp_.factory is not None else None,
        )
        return _json_object(_PAIR_KEYS, values) + b"\n"

    def _pair_line_key(self, mp_: Mapping, split: str) -> tuple:
        """Everything a pairs.jsonl line is made of: the test's and the focal method's files (bodies, ids, the focal
        class's skeleton and module), the factory's, the mapping and the split."""
        fac = mp_.factory
        return ("pair", self._file_sha[mp_.test.method.path], self._position[mp_.test.method.ordinal][1],
                self._file_sha[mp_.focal.path], self._position[mp_.focal.ordinal][1],
                (self._file_sha[fac.path], self._position[fac.ordinal][1]) if fac is not None else None,
                mp_.heuristic, mp_.confidence, mp_.class_rule, split)

    def _discovery_warnings(self, tests_by_lang: Counter, mappable: set[str]) -> list[str]:
        """A repository whose test folders hold code but where no test was found: say which rules were used and
        which configuration could not be followed."""
        out = []
        for lang in sorted(mappable):
            if tests_by_lang.get(lang) or not self.test_dir_files.get(lang):
                continue
            rules = "; ".join(f"{src}: {rule}" for lng, src, rule in self.layout.describe() if lng == lang)
            msg = (f"no {lang} tests found although {self.test_dir_files[lang]} {lang} files lie in test folders "
                   f"(e.g. {', '.join(self.test_dir_examples[:2])}); looked for: {rules}")
            if self.layout.unfollowed:
                msg += "; not followed: " + "; ".join(self.layout.unfollowed)
            out.append(msg)
            if self.console is not None:
                self.console.warn(msg)
        return out

    def _assign_splits(self, mappings: list[Mapping], source):
        pair_split: dict[int, str] = {}
        if self.opt.split == "file":
            uf, assigned = splits.by_file((m.test.method.path, m.focal.path) for m in mappings)
            cache: dict[str, str] = {}

            def file_split(path: str) -> str:
                if path not in cache:
                    cache[path] = splits.split_of_path(path, uf, assigned)
                return cache[path]

            for m in mappings:
                pair_split[id(m)] = file_split(m.focal.path)
            if not splits.too_few_held_out(pair_split.values()):
                return pair_split, (lambda ref: file_split(ref.path)), file_split
            focal_split = splits.by_focal((m.focal.id, f"{m.focal.path}::{m.focal.cls.qualname}" if m.focal.cls else None)
                                          for m in mappings)
            method_of_pair: dict[int, str] = {}
            for m in mappings:
                pair_split[id(m)] = focal_split[m.focal.id]
                method_of_pair[m.focal.ordinal] = method_of_pair[m.test.method.ordinal] = focal_split[m.focal.id]
            self.split_rule = "file+focal"
            return pair_split, (lambda ref: method_of_pair.get(ref.ordinal) or file_split(ref.path)), file_split

        # time split
        if source is None or not hasattr(source, "repo"):
            raise UsageError("--split time needs git history", hint="mine a git repository, or use --split file")
        from codecustom.mining import history
        if getattr(source, "shallow", False) and self.console is not None:
            self.console.warn("shallow clone: history is truncated, so 'first appeared' times are approximate")
        add_times = history.file_add_times(source.repo, source.sha)
        test_paths = {m.test.method.path for m in mappings}
        seen = history.test_first_seen(source.repo, source.sha, test_paths, self._test_keys)
        group_time: dict[str, float] = {}
        group_weight: Counter[str] = Counter()
        for m in mappings:
            t = seen.get((m.test.method.path, m.test.method.cls.qualname if m.test.method.cls else None, m.test.method.name),
                         add_times.get(m.test.method.path, 0))
            g = m.focal.id
            group_time[g] = min(group_time.get(g, t), t)
            group_weight[g] += 1
        group_split = splits.newest_first(group_time, dict(group_weight))
        file_times = {p: float(add_times.get(p, 0)) for p in self._file_paths}
        for m in mappings:
            file_times.setdefault(m.test.method.path, float(add_times.get(m.test.method.path, 0)))
            file_times.setdefault(m.focal.path, float(add_times.get(m.focal.path, 0)))
        base_file = splits.newest_first(file_times)
        held: dict[str, str] = {}
        method_of_pair: dict[int, str] = {}
        for m in mappings:
            s = group_split[m.focal.id]
            pair_split[id(m)] = s
            method_of_pair[m.test.method.ordinal] = s
            method_of_pair[m.focal.ordinal] = s
            for p in (m.test.method.path, m.focal.path):
                held[p] = splits.most_held_out(held.get(p, "train"), s)

        def file_split(path: str) -> str:
            return splits.most_held_out(base_file.get(path, "train"), held.get(path, "train"))

        def method_split(ref: MethodRef) -> str:
            return method_of_pair.get(ref.ordinal) or file_split(ref.path)

        return pair_split, method_split, file_split

    def _test_keys(self, path: str, data: bytes) -> set[tuple[str | None, str]]:
        spec = registry.language_for_path(path)
        if spec is None:
            return set()
        ext = _EXTRACTORS.get(spec.name) or _EXTRACTORS.setdefault(spec.name, spec.make_extractor())
        try:
            is_test, naming = self._test_rule(spec, path)
            kw = {"naming": naming} if naming is not None else {}
            facts = ext.extract(path, data, is_test_file=is_test, **kw)  # type: ignore[attr-defined]
        except (RecursionError, MemoryError, ValueError):
            return set()
        return {(m.class_name, m.name) for m in facts.methods if m.is_test}


_TEST_FOLDERS = frozenset({"test", "tests", "testing", "unittests", "unit_tests", "spec", "specs", "it"})


def _in_test_folder(path: str) -> bool:
    return any(p.lower() in _TEST_FOLDERS for p in path.split("/")[:-1])


class _Ready:
    """A result known already (from the cache), in the queue of pending worker results."""

    def __init__(self, results: list[FileResult]) -> None:
        self.results = results

    def get(self) -> list[FileResult]:
        return self.results


class _NoBar:
    """Stands in for a disabled progress bar (importing tqdm costs more than a small mining run)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _method_record(facts: FileFacts, mf: MethodFacts) -> dict:
    """A MethodRecord as a dict in field order, with `split` last (the final pass rewrites it in place)."""
    return {
        "id": f"{facts.path}::{mf.class_name or ''}::{mf.name}@{mf.start_line}", "language": facts.language,
        "path": facts.path, "class_name": mf.class_name, "name": mf.name, "signature": mf.signature,
        "params": mf.params, "return_type": mf.return_type, "modifiers": mf.modifiers, "docstring": mf.docstring,
        "body": mf.body, "start_line": mf.start_line, "end_line": mf.end_line, "is_test": mf.is_test,
        "is_constructor": mf.is_constructor, "calls": mf.calls, "framework": mf.framework,
        "is_fixture": mf.is_fixture, "duplicate_of": None, "split": "train",
    }


_JSON = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(ensure_ascii=False) builds on every call


class _JsonText(bytes):
    """A value that is JSON text already (UTF-8)."""


_PAIR_FIELDS = tuple(f.name for f in fields(PairRecord))  # the order pairs.jsonl keys are written in
_PAIR_KEYS = tuple((encode_basestring(k) + ": ").encode() for k in _PAIR_FIELDS)
_CONTEXT_KEYS = {lvl: (encode_basestring(lvl) + ": ").encode() for lvl in CONTEXT_LEVELS}


def _json_object(keys: tuple[bytes, ...], values: tuple) -> bytes:
    """``json.dumps(dict(zip(keys, values)), ensure_ascii=False).encode()`` with keys given as ``b'"key": '``
    prefixes; values that are :class:`_JsonText` go in as they are (the pair's context is assembled from
    pre-escaped, pre-encoded class skeletons instead of being escaped and encoded again for every pair)."""
    parts = []
    for key, v in zip(keys, values):
        if type(v) is _JsonText:
            parts.append(key + v)
        elif type(v) is str:
            parts.append(key + encode_basestring(v).encode("utf-8"))
        else:
            parts.append(key + _JSON.encode(v).encode("utf-8"))
    return b"{" + b", ".join(parts) + b"}"


def _dump(d: dict) -> bytes:
    return (_JSON.encode(d) + "\n").encode("utf-8", "surrogatepass")


_SPLIT_TAIL = b'"split": "train"}\n'
_DUPLICATE_TAIL = b'"duplicate_of": null, "split": "train"}\n'


def _with_split(line: bytes, split: str) -> bytes:
    if split == "train":
        return line
    assert line.endswith(_SPLIT_TAIL)
    return line[: -len(_SPLIT_TAIL)] + b'"split": "' + split.encode() + b'"}\n'


def _finish(line: bytes, split: str, duplicate_of: str) -> bytes:
    """A method line with its split and the id of the earlier method it duplicates."""
    assert line.endswith(_DUPLICATE_TAIL)
    return (line[: -len(_DUPLICATE_TAIL)] + b'"duplicate_of": ' + encode_basestring(duplicate_of).encode("utf-8")
            + b', "split": "' + split.encode() + b'"}\n')


_BODY_KEY = b', "body": '
_BODY_END = b', "start_line": '


def _body_at(fh, offset: int) -> _JsonText:
    """The `body` of the method record spooled at ``offset``, as the JSON string literal it was written as (what
    the pair writes again), without decoding the whole record. The record's keys are in a fixed order and a key
    pattern cannot occur inside a JSON string (its quotes would be escaped there), so the first match is the key."""
    fh.seek(offset)
    line = fh.readline()
    start = line.index(_BODY_KEY) + len(_BODY_KEY)
    return _JsonText(line[start:line.index(_BODY_END, start)])


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Run the cyclic GC rarely while mining: a run allocates millions of short-lived, acyclic objects while the
    index it keeps grows, and CPython's default (a young collection every 700 allocations) keeps rescanning it."""
    old = gc.get_threshold()
    gc.freeze()  # what is alive already (modules, grammars) is never garbage
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def run(source, out: Path, options: MineOptions, *, console=None, repo_label: str, revision: str,
        extra: dict | None = None) -> tuple[Path, Manifest]:
    """Mine ``source`` into ``out`` atomically (a temp folder renamed into place)."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} exists and is not a folder", hint="choose another --out")
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise DataError(f"--out {out} is a non-empty folder that is not a mined dataset",
                        hint="choose an empty or new folder; nothing was overwritten")
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    work = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    with _rare_collections():
        try:
            t0 = time.perf_counter()
            entries = source.entries()
            total = None
            layout = None
            if getattr(source, "listable", True):
                entries = list(entries)  # light (paths, sizes, lazy readers): gives the progress bar a total
                total = len(entries)
                layout = testconfig.discover(entries)  # the project's own test configuration, read first
            miner = Miner(work, options, console, layout)
            miner.consume(entries, total)
            mappings = miner.map_tests()
            base = {"repo": repo_label, "revision": revision, "project": getattr(source, "project", None),
                    "extra": dict(extra or {})}
            miner.timings["total_s"] = time.perf_counter() - t0
            manifest = miner.write(mappings, source=source, manifest_base=base)
            manifest.extra["timings_s"]["total_s"] = round(time.perf_counter() - t0, 3)
            (work / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n",
                                                encoding="utf-8")
            if out.exists():
                old = out.parent / f".{out.name}.old-{os.getpid()}"
                out.rename(old)
                work.rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                work.rename(out)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return out, manifest


__all__ = ["MineOptions", "Miner", "run", "process", "Task", "FileResult", "write_jsonl"]
