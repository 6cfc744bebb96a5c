"""Model adapters, one file each; networks beside them."""
