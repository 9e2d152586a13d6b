"""The sfc32 port gives the tfjs engine's numbers (values printed by src/core/rng.ts under tsx)."""
from mdpo_torch.rng import Rng, hash_string


def test_epoch_orders_match_the_typescript_generator():
    assert Rng.derive(7, "order/0").shuffle(list(range(10))) == [7, 5, 2, 0, 9, 1, 6, 3, 8, 4]
    assert Rng.derive(0, "order/1").shuffle(list(range(10))) == [5, 4, 0, 2, 1, 8, 6, 3, 9, 7]


def test_seeds_and_labels_match_the_typescript_generator():
    assert Rng(42).next_uint32() == 2852766471
    assert Rng(2**33 + 5).next_uint32() == 363746404  # high bits of the seed are mixed in
    assert hash_string("negative/pair-ü") == 2892999358  # UTF-16 code units, as charCodeAt


def test_frame_hash_matches_the_typescript_fingerprints():
    """src/core/train/fingerprint.ts's FrameHash on the same frames (value printed under tsx)."""
    from mdpo_torch.train.fingerprint import FrameHash, js_json

    h = FrameHash().text("pair-ü").int32([1, -2, 300]).float32([0.5, 1 / 3])
    h.text(js_json({"kind": "crop", "minArea": 0.01, "maxArea": 0.2}))
    assert h.hex() == "da0534124a6d90208eccd2d76759e921b790c6589b6377b60b65620d44071a5b"


def test_reference_cache_is_used_only_in_its_scope():
    from mdpo_torch.train.fingerprint import FrameHash, reference_scope
    from mdpo_torch.train.ref_cache import RefCache

    inputs = {"base": "b", "tokenizer": None, "dataset": {"size": 1, "sha256": "d"}, "negative": {"sha256": "n"}}
    scope = reference_scope(inputs)
    assert scope == FrameHash().text("mdpo-studio/inputs@1").text("b").text("").text("d").text("n").hex()
    cache = RefCache(scope)
    cache.set("p0", "chosen", -3.5)
    saved = cache.export()
    assert saved == {"scope": scope, "keys": ["p0\u0000chosen"], "values": [-3.5]}
    assert RefCache.from_saved(saved, scope).get("p0", "chosen") == -3.5
    other = reference_scope({**inputs, "negative": {"sha256": "n2"}})
    assert RefCache.from_saved(saved, other).get("p0", "chosen") is None  # another m': recomputed
    assert RefCache.from_saved({"keys": ["p0\u0000chosen"], "values": [-3.5]}, scope).values == {}  # no scope: unused
