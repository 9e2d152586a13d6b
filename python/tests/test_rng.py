"""The sfc32 port gives the tfjs engine's numbers (values printed by src/core/rng.ts under tsx)."""
from mdpo_torch.rng import Rng, hash_string


def test_epoch_orders_match_the_typescript_generator():
    assert Rng.derive(7, "order/0").shuffle(list(range(10))) == [7, 5, 2, 0, 9, 1, 6, 3, 8, 4]
    assert Rng.derive(0, "order/1").shuffle(list(range(10))) == [5, 4, 0, 2, 1, 8, 6, 3, 9, 7]


def test_seeds_and_labels_match_the_typescript_generator():
    assert Rng(42).next_uint32() == 2852766471
    assert Rng(2**33 + 5).next_uint32() == 363746404  # high bits of the seed are mixed in
    assert hash_string("negative/pair-ü") == 2892999358  # UTF-16 code units, as charCodeAt
