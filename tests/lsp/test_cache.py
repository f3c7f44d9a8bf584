"""The completion cache: exact hits, type-through hits, LRU eviction."""

from codecustom_lsp.cache import PREFIX_CHARS, CompletionCache

NS = "model|artifact|python|None|48"


def test_exact_hit_and_miss():
    cache = CompletionCache(8)
    cache.put(NS, "def f(x):\n    return ", "\n", "x + 1")
    assert cache.get(NS, "def f(x):\n    return ", "\n").text == "x + 1"
    assert cache.get(NS, "def f(x):\n    return", "\n") is None  # different prefix
    assert cache.get(NS, "def f(x):\n    return ", "\nfoo") is None  # different suffix
    assert cache.get("other-model", "def f(x):\n    return ", "\n") is None  # different model
    assert (cache.hits, cache.misses) == (1, 3)


def test_typing_through_a_suggestion_answers_with_the_rest():
    cache = CompletionCache(8)
    prefix = "def f(x):\n    return "
    cache.put(NS, prefix, "\n", "x + 1")
    for typed in range(1, len("x + 1")):
        hit = cache.get(NS, prefix + "x + 1"[:typed], "\n")
        assert hit is not None and hit.text == "x + 1"[typed:] and hit.typed_through == typed
    # typed something else: miss
    assert cache.get(NS, prefix + "y", "\n") is None
    # typed all of it: nothing left to suggest, and not a hit
    assert cache.get(NS, prefix + "x + 1", "\n") is None
    assert cache.type_through_hits == len("x + 1") - 1


def test_type_through_needs_the_same_text_before():
    cache = CompletionCache(8)
    cache.put(NS, "a = ", "", "compute()")
    # same tail but more text before it: the cached context was the whole document, so no hit
    assert cache.get(NS, "zzz\na = comp", "") is None
    assert cache.get(NS, "a = comp", "").text == "ute()"


def test_long_prefixes_compare_the_kept_window():
    cache = CompletionCache(8)
    long_prefix = "# filler line\n" * (PREFIX_CHARS // 10) + "value = "
    cache.put(NS, long_prefix, "", "load()")
    assert cache.get(NS, long_prefix, "").text == "load()"
    assert cache.get(NS, long_prefix + "lo", "").text == "ad()"
    assert cache.get(NS, "changed\n" + long_prefix[8:] + "lo", "").text == "ad()"  # start is outside the window


def test_repeated_characters_resolve_to_the_furthest_point():
    cache = CompletionCache(8)
    cache.put(NS, "x = ", "", "aaab")
    assert cache.get(NS, "x = aa", "").text == "ab"


def test_lru_eviction_keeps_recent_entries():
    cache = CompletionCache(3)
    for i in range(3):
        cache.put(NS, f"p{i}", "", f"c{i}")
    assert cache.get(NS, "p0", "").text == "c0"  # p0 becomes most recent
    cache.put(NS, "p3", "", "c3")  # evicts p1, the least recently used
    assert cache.get(NS, "p1", "") is None
    assert [cache.get(NS, f"p{i}", "").text for i in (0, 2, 3)] == ["c0", "c2", "c3"]
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0 and cache.get(NS, "p0", "") is None
