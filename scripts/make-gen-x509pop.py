#!/usr/bin/env python3
"""Make the certificates `fleet-attest gen` builds x509pop fleets from (src/gen/x509pop/).

Test material only: a root CA, an intermediate, 32 P-256 leaves with their keys, and the odd
ones gen needs for rejects (an expired leaf, a leaf without digitalSignature, a leaf under an
unknown root, a 3072-bit RSA leaf). Valid 2025-01-01 .. 2045-01-01, so generated fleets work for
any --now in that span. gen signs the proofs of possession per record (deterministic ECDSA), so
these files are all it needs. Rerun with `pip install cryptography`, then scripts/make-demo-data.sh.
"""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "gen", "x509pop")
TD = "example.org"
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
END = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)


def ku(sig=True, ca=False, encipher=False):
    return x509.KeyUsage(digital_signature=sig, content_commitment=False, key_encipherment=encipher,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                         crl_sign=ca, encipher_only=False, decipher_only=False)


def make(cn, key, issuer, issuer_key, *, ca=False, usage=None, sans=(), start=START, end=END):
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(issuer.subject if issuer else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(usage or ku(ca=ca), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.UniformResourceIdentifier(u) for u in sans]), critical=False)
    return b.sign(issuer_key or key, hashes.SHA256())


def pem_cert(c):
    return c.public_bytes(serialization.Encoding.PEM).decode()


def pem_key(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).decode()


os.makedirs(OUT, exist_ok=True)
root_key = ec.generate_private_key(ec.SECP256R1())
root = make("Fleet Gen Root CA", root_key, None, None, ca=True)
int_key = ec.generate_private_key(ec.SECP256R1())
inter = make("Fleet Gen Intermediate CA", int_key, root, root_key, ca=True)
stranger_key = ec.generate_private_key(ec.SECP256R1())
stranger = make("Unknown Root CA", stranger_key, None, None, ca=True)

files = {"root.pem": pem_cert(root), "intermediate.pem": pem_cert(inter)}
leaves, keys = [], []
for i in range(32):
    k = ec.generate_private_key(ec.SECP256R1())
    c = make(f"gen-node-{i}", k, inter, int_key,
             sans=[f"x509pop://{TD}/datacenter/dc-{i % 4}", f"x509pop://{TD}/rack/r{i % 8}"])
    leaves.append(pem_cert(c))
    keys.append(pem_key(k))
files["leaves.pem"] = "".join(leaves)
files["leaf-keys.pem"] = "".join(keys)

k = ec.generate_private_key(ec.SECP256R1())
files["expired.pem"] = pem_cert(make("gen-expired", k, inter, int_key, start=START,
                                     end=START + datetime.timedelta(days=1))) + pem_key(k)
k = ec.generate_private_key(ec.SECP256R1())
files["encipher.pem"] = pem_cert(make("gen-encipher", k, inter, int_key,
                                      usage=ku(sig=False, encipher=True))) + pem_key(k)
k = ec.generate_private_key(ec.SECP256R1())
files["stranger.pem"] = pem_cert(make("gen-stranger", k, stranger, stranger_key)) + pem_key(k)
k = rsa.generate_private_key(public_exponent=65537, key_size=3072)
files["rsa3072.pem"] = pem_cert(make("gen-rsa-3072", k, inter, int_key)) + pem_key(k)

for name, text in files.items():
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)
print(f"wrote {len(files)} files to {os.path.normpath(OUT)}")
