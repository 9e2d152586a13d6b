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
