"""Controls: XSD, official schematron (EN 16931, Factur-X profiles, BR-FR) run in-process with
saxonche, and per-customer expectations. `check_invoice` gives the findings; an invoice with
any finding of severity 'error' or 'fatal' is held."""
