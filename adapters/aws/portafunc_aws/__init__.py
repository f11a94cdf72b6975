"""portafunc adapter for aws."""
