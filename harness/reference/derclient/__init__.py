"""The reference simulated DER client: N IEEE 2030.5 DERs in one process, as the CSIP client procedures expect.

Run it as `python -m harness.reference.derclient --server https://HOST:PORT/dcap ...` or start it from Python
with harness.reference.derclient.process.spawn_der_client. Each device discovers its EndDevice from /dcap,
applies DefaultDERControls and DERControls by the IEEE 2030.5 event rules, answers with Responses, writes
its DER resources and meter readings, and can be switched to misbehave by named defects (defects.py).
"""
