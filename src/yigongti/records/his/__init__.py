"""HIS import: CSV files of encounters with diagnoses, HL7 v2 ADT messages (A01/A04/A08),
and the import jobs that run them in chunks with progress and per-row errors.
The layout and the mapping are documented in docs/his-import.md."""
