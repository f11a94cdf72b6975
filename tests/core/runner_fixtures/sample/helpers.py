"""A second module of the sample app: the reload test edits this file."""

VERSION = "v1"
