"""Suite 3 placeholder until written below."""
