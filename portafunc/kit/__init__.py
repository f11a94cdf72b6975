"""Helpers every target adapter shares, naming no cloud: batch records (:mod:`.records`) and storage-event
filtering (:mod:`.storage_filter`). Nothing here is imported by ``import portafunc``."""
