//! Nothing: this package holds only the tests in `tests/`.
