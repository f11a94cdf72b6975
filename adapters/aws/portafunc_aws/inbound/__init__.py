"""Deliveries that reach a function over plain HTTP outside a Lambda trigger, verified before they run."""
