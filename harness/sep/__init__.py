"""IEEE 2030.5 knowledge: safe parsing, the schema, identity, our own checks."""

NS = "urn:ieee:std:2030.5:ns"
MEDIA_TYPE_XML = "application/sep+xml"
MEDIA_TYPE_EXI = "application/sep-exi"
