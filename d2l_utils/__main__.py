"""`python -m d2l_utils`: prepare Fashion-MNIST (offline from a local copy if there is one)."""
from .data import main

main()
