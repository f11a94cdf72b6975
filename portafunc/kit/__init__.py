"""Helpers every target adapter shares, naming no cloud: batch records (:mod:`.records`), storage-event
filtering (:mod:`.storage_filter`) and the move of a message that failed its last attempt to its dead letter
(:mod:`.dead_letter`). Nothing here is imported by ``import portafunc``."""
