"""One module per syntax. `reader.read_document` turns any supported input into the canonical
invoice; `cii`, `ubl` and `facturx` write the outputs."""
