"""srbench's contract kit on this plugin's adapter, loaded through its entry point as srbench loads it."""

from srbench.contract import contract_suite
from srbench.registry import list_models

# One pytest test per check (shapes, dtype, range, determinism, NaN, bad input, ...) and scale, plus scale
# handling and tiling equivalence.
TestContract = contract_suite("example-bilinear", scales=(2, 3, 4), tile=8, tile_tolerance=1e-5)


def test_the_entry_point_is_registered() -> None:
    assert list_models()["example-bilinear"] == "srbench_example_plugin.adapter:build"
