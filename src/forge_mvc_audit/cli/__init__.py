# pyright: strict
"""Une commande `forge audit:*` par module ; chacun expose `main(args) -> int`."""
