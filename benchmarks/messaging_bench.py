"""Suite 4 placeholder until written below."""
