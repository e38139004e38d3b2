#!/usr/bin/env python3
"""Make the x509pop test fixture with an independent implementation (Python `cryptography`).

Writes tests/data/x509pop/: fleet.toml, ca/root.pem, join_tokens.csv, evidence.jsonl.
Certificates, chains and proof-of-possession transcripts are made the way SPIRE's Go agent makes
them (pkg/common/plugin/x509pop): the signed value is SHA-256(challenge nonce || response nonce),
signed as an already-hashed digest; ECDSA answers with r and s as minimal big-endian bytes
(Go's big.Int.Bytes()); RSA answers with PSS/SHA-256 and the largest salt that fits (Go's
rsa.SignPSS with nil options). JSON as Go's encoding/json writes it: byte strings in padded
standard base64, the unused branch null.

Every record's id names what it shows; tests/integration/x509pop.rs holds the expectations.
Evaluation time NOW; certificates are valid from NOW - 1 day to NOW + 30 days unless a record
needs otherwise. Rerun with `pip install cryptography`; the output is committed.
"""
import base64
import hashlib
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = 1795946400  # 2026-11-29T10:00:00Z
TD = "example.org"
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "x509pop")
T = datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject_cn, subject_key, issuer_cert, issuer_key, *, ca=False, path_len=None,
         serial=None, sans=(), key_usage="sig", eku=None, not_before=None, not_after=None):
    builder = (x509.CertificateBuilder()
               .subject_name(name(subject_cn))
               .issuer_name(issuer_cert.subject if issuer_cert else name(subject_cn))
               .public_key(subject_key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(not_before or T - DAY)
               .not_valid_after(not_after or T + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    elif key_usage == "sig":
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    elif key_usage == "encipher":
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in sans]),
            critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    signer = issuer_key or subject_key
    return builder.sign(signer, hashes.SHA256())


def der(c):
    return c.public_bytes(serialization.Encoding.DER)


def b64(data):
    return base64.b64encode(data).decode()


def pop(key, challenge_nonce, response_nonce):
    """The challenge and response, as SPIRE's Go agent answers."""
    digest_ctx = hashes.Hash(hashes.SHA256())
    digest_ctx.update(challenge_nonce)
    digest_ctx.update(response_nonce)
    digest = digest_ctx.finalize()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))))
        minimal = lambda v: v.to_bytes((v.bit_length() + 7) // 8, "big")
        return ({"rsa_signature": None, "ecdsa_signature": {"nonce": b64(challenge_nonce)}},
                {"rsa_signature": None, "ecdsa_signature": {
                    "nonce": b64(response_nonce), "r": b64(minimal(r)), "s": b64(minimal(s))}})
    sig = key.sign(digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                       salt_length=padding.PSS.MAX_LENGTH),
                   utils.Prehashed(hashes.SHA256()))
    return ({"rsa_signature": {"nonce": b64(challenge_nonce)}, "ecdsa_signature": None},
            {"rsa_signature": {"nonce": b64(response_nonce), "signature": b64(sig)},
             "ecdsa_signature": None})


records = []
expected = []  # exact results of the attested records, computed here, independently
nonce_counter = [0]


def fp(c):
    return hashlib.sha1(der(c)).hexdigest()


def spire_selectors(leaf, cas):
    """SPIRE's x509pop selectors, computed from the certificate objects."""
    out = set()
    cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns and cns[-1].value:
        out.add(f"x509pop:subject:cn:{cns[-1].value}")
    for ca in cas:
        out.add(f"x509pop:ca:fingerprint:{fp(ca)}")
    serial = format(leaf.serial_number, "x")
    out.add("x509pop:serialnumber:" + ("0" + serial if len(serial) % 2 else serial))
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
            if not uri.startswith("x509pop://"):
                continue
            host, _, path = uri[len("x509pop://"):].partition("/")
            key, _, value = path.partition("/")
            if host == TD and key and value:
                out.add(f"x509pop:san:{key}:{value}")
    except x509.ExtensionNotFound:
        pass
    return sorted(out, key=lambda s: s.encode())


def expect(rid, leaf, cas, aliases=()):
    expected.append(json.dumps({"id": rid, "agent_id": f"spiffe://{TD}/spire/agent/x509pop/{fp(leaf)}",
                                "selectors": spire_selectors(leaf, cas), "aliases": sorted(aliases)}))


def nonce(n=32):
    nonce_counter[0] += 1
    return os.urandom(n)


def record(rid, chain, key, *, challenge_nonce=None, response_nonce=None, tamper=None):
    c_nonce = challenge_nonce if challenge_nonce is not None else nonce()
    r_nonce = response_nonce if response_nonce is not None else nonce()
    challenge, response = pop(key, c_nonce, r_nonce)
    if tamper:
        tamper(challenge, response)
    rec = {"id": rid, "type": "x509pop",
           "payload": {"certificates": [b64(der(c)) if not isinstance(c, bytes) else b64(c) for c in chain]},
           "challenge": challenge, "response": response}
    records.append(json.dumps(rec))
    return rec


p256 = lambda: ec.generate_private_key(ec.SECP256R1())
root_key = p256()
root = cert("Fleet Root CA", root_key, None, None, ca=True)
int_key = p256()
inter = cert("Fleet Intermediate CA", int_key, root, root_key, ca=True)
int2_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
inter2 = cert("Fleet Issuing CA 2", int2_key, inter, int_key, ca=True)
other_root_key = p256()
other_root = cert("Unknown Root CA", other_root_key, None, None, ca=True)

os.makedirs(os.path.join(OUT, "ca"), exist_ok=True)
with open(os.path.join(OUT, "ca", "root.pem"), "wb") as f:
    f.write(root.public_bytes(serialization.Encoding.PEM))

# --- attested --------------------------------------------------------------------------------
ec_key = p256()
ec_leaf = cert("node-ec-1", ec_key, inter, int_key, serial=0x0ABCDEF123,
               sans=[f"x509pop://{TD}/datacenter/us-east-1", f"x509pop://{TD}/rack/r1/slot/7",
                     "x509pop://other.org/zone/z9", f"x509pop://{TD}/onlyone",
                     f"spiffe://{TD}/ignored/uri"])
record("ec-one-intermediate", [ec_leaf, inter], ec_key)
expect("ec-one-intermediate", ec_leaf, [inter, root], [f"spiffe://{TD}/dc/us-east-1"])

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_leaf = cert("node-rsa-1", rsa_key, inter2, int2_key, serial=0x01,
                sans=[f"x509pop://{TD}/datacenter/eu-west-1"], eku=[ExtendedKeyUsageOID.SERVER_AUTH])
record("rsa-two-intermediates", [rsa_leaf, inter2, inter], rsa_key)
expect("rsa-two-intermediates", rsa_leaf, [inter2, inter, root])

p384_key = ec.generate_private_key(ec.SECP384R1())
p384_leaf = cert("node-p384-1", p384_key, inter, int_key, serial=0x7F00)
record("p384-one-intermediate", [p384_leaf, inter], p384_key)
expect("p384-one-intermediate", p384_leaf, [inter, root])

ec2_key = p256()
ec2_leaf = cert("node-ec-2", ec2_key, inter, int_key, sans=[f"x509pop://{TD}/datacenter/us-east-1"])
replayed_nonce = nonce()
record("ec-second-node", [ec2_leaf, inter], ec2_key, challenge_nonce=replayed_nonce)
expect("ec-second-node", ec2_leaf, [inter, root], [f"spiffe://{TD}/dc/us-east-1"])

# --- chain -----------------------------------------------------------------------------------
record("not-base64-der", [b"\x30\x03\x02\x01\x00", inter], ec_key)
records.append(json.dumps({"id": "payload-not-object", "type": "x509pop", "payload": [1],
                           "challenge": {}, "response": {}}))
record("too-many-intermediates", [ec_leaf, inter, inter, inter, inter, inter], ec_key)
big_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
big_leaf = cert("node-rsa-4096", big_key, inter, int_key)
record("rsa-key-too-large", [big_leaf, inter], big_key)
expired_key = p256()
expired_leaf = cert("node-expired", expired_key, inter, int_key,
                    not_before=T - 10 * DAY, not_after=T - DAY)
record("expired-leaf", [expired_leaf, inter], expired_key)
stranger_key = p256()
stranger_leaf = cert("node-stranger", stranger_key, other_root, other_root_key)
record("unknown-root", [stranger_leaf], stranger_key)
record("missing-intermediate", [ec_leaf], ec_key)
enc_key = p256()
enc_leaf = cert("node-encipher", enc_key, inter, int_key, key_usage="encipher")
record("no-digital-signature", [enc_leaf, inter], enc_key)
noku_key = p256()
noku_leaf = cert("node-no-ku", noku_key, inter, int_key, key_usage=None)
record("no-key-usage-extension", [noku_leaf, inter], noku_key)

# --- pop -------------------------------------------------------------------------------------
def flip_s(challenge, response):
    s = bytearray(base64.b64decode(response["ecdsa_signature"]["s"]))
    s[-1] ^= 1
    response["ecdsa_signature"]["s"] = b64(bytes(s))


def flip_rsa(challenge, response):
    sig = bytearray(base64.b64decode(response["rsa_signature"]["signature"]))
    sig[10] ^= 1
    response["rsa_signature"]["signature"] = b64(bytes(sig))


def swap_branch(challenge, response):
    response["rsa_signature"] = {"nonce": response["ecdsa_signature"]["nonce"], "signature": "AAAA"}
    response["ecdsa_signature"] = None


record("ecdsa-wrong-signature", [ec_leaf, inter], ec_key, tamper=flip_s)
record("rsa-wrong-signature", [rsa_leaf, inter2, inter], rsa_key, tamper=flip_rsa)
record("short-challenge-nonce", [ec_leaf, inter], ec_key, challenge_nonce=nonce(31))
record("long-response-nonce", [ec_leaf, inter], ec_key, response_nonce=nonce(33))
record("rsa-branch-for-ec-key", [ec_leaf, inter], ec_key, tamper=swap_branch)
record("signed-by-other-key", [ec_leaf, inter], p256())
# --- replay ----------------------------------------------------------------------------------
record("replayed-challenge", [ec2_leaf, inter], ec2_key, challenge_nonce=replayed_nonce)

with open(os.path.join(OUT, "evidence.jsonl"), "w") as f:
    f.write("\n".join(records) + "\n")
with open(os.path.join(OUT, "expected-attested.jsonl"), "w") as f:
    f.write("\n".join(expected) + "\n")
with open(os.path.join(OUT, "fleet.toml"), "w") as f:
    f.write(f"""# x509pop fixture made by scripts/make-x509pop-fixtures.py (Python cryptography).
# Evaluate at --now {NOW}.
trust_domain = "{TD}"

[x509pop]
ca_bundle_paths = ["ca/root.pem"]
max_rsa_key_size = 3072

[[node_alias]]
spiffe_id = "spiffe://{TD}/dc/us-east-1"
selectors = ["x509pop:san:datacenter:us-east-1"]
""")
print(f"wrote {len(records)} records to {os.path.normpath(OUT)}")
