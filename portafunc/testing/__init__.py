"""Cross-provider contract testing: write a test once, run it on every installed target (see ``plugin``)."""
