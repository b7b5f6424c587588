"""Encodings of 2030.5 resources other than XML: CUPID's JSON dialect (harness.codec.cupid_json)."""
