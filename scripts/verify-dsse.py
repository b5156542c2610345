#!/usr/bin/env python3
"""Checks a sealbuild bundle with the Python peers, independently of
sealbuild's own verifier: the DSSE envelope's signature (securesystemslib and
in-toto's metadata loader), the Statement v1 / SLSA Provenance v1 shape
(in-toto-attestation's own bindings) and every subject's SHA-256 against the
artefact files.

Usage: verify-dsse.py ENVELOPE.intoto.jsonl SIGNING-KEY.pub.pem ARTIFACTS-DIR
Run it with the python of scripts/python-peers.sh. Exit 0 = accepted,
1 = rejected, 2 = usage error.
"""
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf import json_format
from in_toto.models.metadata import Envelope as InTotoEnvelope, Metadata
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    env_path, pem_path, art_dir = argv[1:]
    with open(env_path, "rb") as f:
        line = next(l for l in f.read().splitlines() if l.strip())
    # securesystemslib's from_dict consumes its argument: a fresh dict each time.
    def env_dict():
        return json.loads(line)

    keyid = env_dict()["signatures"][0]["keyid"]
    key = SSlibKey.from_crypto(load_pem_public_key(open(pem_path, "rb").read()), keyid=keyid)

    ok = True
    try:
        Envelope.from_dict(env_dict()).verify([key], 1)
        print(f"ok   securesystemslib: DSSE signature by {key.scheme} key {keyid[:16]}…")
    except Exception as e:  # any refusal is a rejection
        print(f"FAIL securesystemslib: {e}")
        ok = False
    md = Metadata.from_dict(env_dict())
    try:
        assert isinstance(md, InTotoEnvelope)
        md.verify_signature(dict(key.to_dict(), keyid=key.keyid))
        print("ok   in-toto: envelope loads and verifies")
    except Exception as e:
        print(f"FAIL in-toto: {e}")
        ok = False

    payload = Envelope.from_dict(env_dict()).payload.decode()
    try:
        pb = json_format.Parse(payload, statement_pb2.Statement())
        Statement.copy_from_pb(pb).validate()
        prov = provenance_pb2.Provenance()
        json_format.ParseDict(json.loads(payload)["predicate"], prov)
        print(f"ok   in-toto-attestation: Statement v1, SLSA Provenance v1 (builder {prov.run_details.builder.id})")
    except Exception as e:
        print(f"FAIL in-toto-attestation: {e}")
        ok = False

    for s in json.loads(payload)["subject"]:
        name, want = s["name"], s["digest"]["sha256"]
        path = os.path.join(art_dir, name)
        if os.path.isabs(name) or ".." in name.split("/") or not os.path.isfile(path):
            print(f"FAIL subject {name}: no such artefact")
            ok = False
            continue
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() == want:
            print(f"ok   subject {name}: sha256:{want}")
        else:
            print(f"FAIL subject {name}: expected sha256:{want}, got sha256:{h.hexdigest()}")
            ok = False
    print("accepted" if ok else "rejected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
