"""portafunc adapter for azure."""
