"""portafunc adapter for gcp."""
