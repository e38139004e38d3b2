#!/usr/bin/env python3
"""Mint the JWT attack fixture with independent JOSE code (joserfc, and `cryptography` by hand
for headers joserfc refuses to write), and compute its expected results here, in Python.

Writes tests/data/jwt-attacks/: fleet.toml, keys/*.jwks.json, evidence.jsonl, expected.jsonl.
Each record's id says what it tries; expected.jsonl holds, per id, the stage and code of the
rejection, or for an attested record its agent ID, selectors and aliases, computed below from
the claims by SPEC §7 and the README's rules (claim names, numbers), not by fleet-attest.
tests/integration/jwt_attacks.rs compares the engine's results with it.

The fixture is committed, so tests need no Python; rerun to refresh it
(`pip install joserfc cryptography`; keys are random, expected results are not).
Evaluation time: NOW.
"""
import base64
import decimal
import hashlib
import hmac
import json
import math
import os
import sys
import warnings

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

warnings.filterwarnings("ignore")  # joserfc warns that EdDSA is deprecated by RFC 9864

NOW = 1795946400  # 2026-11-29T10:00:00Z
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jwt-attacks")
ISS = "https://attacks.example.org"
TD = "example.org"
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_N = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_public(key, kid, alg):
    d = key.as_dict(private=False)
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


keys = {
    "es-1": ("ES256", ECKey.generate_key("P-256")),
    "es384-1": ("ES384", ECKey.generate_key("P-384")),
    "rs-1": ("RS256", RSAKey.generate_key(2048)),
    "ps-1": ("PS256", RSAKey.generate_key(2048)),
    "ed-1": ("EdDSA", OKPKey.generate_key("Ed25519")),
}
hs = OctKey.generate_key(256)
# The attacker's own keys, one per algorithm.
attacker = {
    "ES256": ECKey.generate_key("P-256"),
    "ES384": ECKey.generate_key("P-384"),
    "RS256": RSAKey.generate_key(2048),
    "PS256": RSAKey.generate_key(2048),
    "EdDSA": OKPKey.generate_key("Ed25519"),
}

os.makedirs(os.path.join(OUT, "keys"), exist_ok=True)
with open(os.path.join(OUT, "keys", "attacks.jwks.json"), "w") as f:
    json.dump({"keys": [jwk_public(k, kid, alg) for kid, (alg, k) in keys.items()]}, f, indent=2)
with open(os.path.join(OUT, "keys", "shared.jwks.json"), "w") as f:
    d = hs.as_dict(private=True)
    d.update({"kid": "hs-1", "alg": "HS256", "use": "sig"})
    json.dump({"keys": [d]}, f, indent=2)

with open(os.path.join(OUT, "fleet.toml"), "w") as f:
    f.write(f"""# JWT attack fixture made by scripts/make-jwt-attack-fixtures.py. Evaluate at --now {NOW}.
trust_domain = "{TD}"

[[jwt_issuer]]
name = "attacks"
issuer = "{ISS}"
jwks_path = "keys/attacks.jwks.json"
audiences = ["spire-server"]
algorithms = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]

[[jwt_issuer]]
name = "shared"
issuer = "https://shared.example.org"
jwks_path = "keys/shared.jwks.json"
audiences = ["spire-server"]
algorithms = ["HS256"]
single_use = false

[[node_alias]]
spiffe_id = "spiffe://{TD}/team-ab"
selectors = ["jwt:team:a:b"]

[[node_alias]]
spiffe_id = "spiffe://{TD}/kube-system"
selectors = ["jwt:k8s.ns:kube-system"]

[[node_alias]]
spiffe_id = "spiffe://{TD}/admins"
selectors = ["jwt:role:admin", "jwt:iss:{ISS}"]
""")
ALIASES = {
    f"spiffe://{TD}/team-ab": ["jwt:team:a:b"],
    f"spiffe://{TD}/kube-system": ["jwt:k8s.ns:kube-system"],
    f"spiffe://{TD}/admins": ["jwt:role:admin", f"jwt:iss:{ISS}"],
}

# --- signing -----------------------------------------------------------------------------


def sign_raw(alg: str, key, header_text: str, payload: bytes) -> str:
    """A compact JWS over exactly these header and payload bytes, signed with `cryptography`."""
    signing_input = (b64(header_text.encode()) + "." + b64(payload)).encode()
    if alg in ("ES256", "ES384"):
        h, size = (hashes.SHA256(), 32) if alg == "ES256" else (hashes.SHA384(), 48)
        r, s = decode_dss_signature(key.private_key.sign(signing_input, ec.ECDSA(h)))
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    elif alg == "RS256":
        sig = key.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "PS256":
        sig = key.private_key.sign(
            signing_input, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    elif alg == "EdDSA":
        sig = key.private_key.sign(signing_input)
    elif alg == "HS256":
        sig = hmac.new(key, signing_input, hashlib.sha256).digest()
    else:
        raise ValueError(alg)
    return signing_input.decode() + "." + b64(sig)


def sign(kid: str, payload: bytes, extra_header=None) -> str:
    """A token of the configured key `kid` (joserfc when the header is plain)."""
    alg, key = keys[kid]
    header = {"alg": alg, "kid": kid}
    if extra_header:
        header.update(extra_header)
        return sign_raw(alg, key, json.dumps(header, separators=(",", ":")), payload)
    return jws.serialize_compact(header, payload, key, algorithms=[alg])


def claims(**over) -> dict:
    c = {"iss": ISS, "sub": "node-1", "aud": "spire-server", "iat": NOW - 10,
         "exp": NOW + 3600, "jti": "j-" + str(over.get("sub", "node-1"))}
    c.update(over)
    return c


def text(c: dict) -> bytes:
    return json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode()


def with_raw(c: dict, *members) -> bytes:
    """The claims' JSON, then members (name, value) written exactly as given (numbers, escapes)."""
    body = json.dumps(c, separators=(",", ":"))[:-1]
    for name, value in members:
        body += f",{name}:{value}"
    return (body + "}").encode()


# --- what SPEC §7 and the README say a token attests with, computed independently -----------


def render_float(v: float) -> str:
    """Shortest round-trip digits (Python's repr), laid out as the README says."""
    if v == 0:
        return "0"
    if v == int(v) and abs(v) < 1e16:
        return str(int(v))
    sign = "-" if v < 0 else ""
    digits, exponent = decimal.Decimal(repr(abs(v))).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits))
    point = len(digits) + exponent  # the decimal point sits after this many digits
    if 1e-5 <= abs(v) < 1e16:
        if point <= 0:
            return sign + "0." + "0" * -point + digits
        if point >= len(digits):
            return sign + digits + "0" * (point - len(digits))
        return sign + digits[:point] + "." + digits[point:]
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    e = point - 1
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return render_float(v)
    return v


def selectors_of(c: dict) -> list:
    out = set()

    def walk(path, v):
        if v is None:
            return
        if isinstance(v, list):
            for item in v:
                walk(path, item)
        elif isinstance(v, dict):
            for name, member in v.items():
                walk(path + "." + name, member)
        else:
            out.add(f"jwt:{path}:{scalar(v)}")

    for name, v in c.items():
        if name not in ("exp", "nbf", "iat", "jti"):
            walk(name, v)
    return sorted(out, key=lambda s: s.encode())


records, expected = [], []


def attested(rid, token, c, issuer="attacks"):
    records.append(json.dumps({"id": rid, "type": "jwt", "token": token}))
    selectors = selectors_of(c)
    aliases = sorted(a for a, need in ALIASES.items() if all(n in selectors for n in need))
    expected.append({"id": rid, "status": "attested",
                     "agent_id": f"spiffe://{TD}/spire/agent/jwt/{issuer}/{c['sub']}",
                     "selectors": selectors, "aliases": aliases})


def rejected(rid, token, stage, code):
    records.append(json.dumps({"id": rid, "type": "jwt", "token": token}))
    expected.append({"id": rid, "status": "rejected", "stage": stage, "code": code})


# --- selectors forged through claim names ---------------------------------------------------
c = claims(sub="forge-colon", team="red", **{"team:a": "b"})
rejected("claim-name-with-colon", sign("es-1", text(c)), "claims", "invalid_claims")
c = claims(sub="forge-dot", **{"k8s.ns": "kube-system"})
rejected("flat-claim-name-with-dot", sign("es-1", text(c)), "claims", "invalid_claims")
c = claims(sub="forge-nested", k8s={"ns.x": "y"})
rejected("member-name-with-dot", sign("es-1", text(c)), "claims", "invalid_claims")
c = claims(sub="forge-escaped")
rejected("claim-name-colon-escaped", sign("es-1", with_raw(c, ('"team\\u003aa"', '"b"'))),
         "claims", "invalid_claims")
c = claims(sub="team-ab", team="a:b")
attested("claim-value-with-colon", sign("es-1", text(c)), c)
c = claims(sub="kube", k8s={"ns": "kube-system", "labels": [{"app": "agent"}, {"app": "x:y"}]})
attested("nested-claim", sign("rs-1", text(c)), c)
c = claims(sub="admin-1", role=["admin", "ops"])
attested("array-claim", sign("ed-1", text(c)), c)

# --- templates are not evaluated again from claim values ---------------------------------
c = claims(sub="node-{{.IssuerName}}")
rejected("template-in-sub", sign("es-1", text(c)), "policy", "template_error")

# --- every JSON number read -----------------------------------------------------------------
NUMBERS = "[0.1,1e300,2.0,-0.0,1e-7,123456789012345678901234567890]"
c = claims(sub="numbers")
token = sign("es-1", with_raw(c, ('"nums"', NUMBERS)))
attested("number-corpus", token, dict(c, nums=json.loads(NUMBERS)))
MORE = ("[1E2,1.5e-5,0.00001,12345678901234567890,-9223372036854775809,1e16,9007199254740993.0,"
        "1e21,-2.5E-10,100000000000000000000,0.1e1,5e-324,1.7976931348623157e308]")
c = claims(sub="more-numbers")
attested("more-numbers", sign("ps-1", with_raw(c, ('"nums"', MORE))), dict(c, nums=json.loads(MORE)))
c = claims(sub="float-exp")
c.pop("exp")
attested("float-exp", sign("es384-1", with_raw(c, ('"exp"', f"{NOW + 3600}.5"))), c)
for rid, member, value in [
    ("exp-beyond-dates", "exp", "1e300"),
    ("exp-big-integer", "exp", "123456789012345678901234567890"),
    ("exp-exponent-past-2-32", "exp", "1e4294967297"),  # simd-json alone read 10
    ("nbf-exponent-past-2-32", "nbf", "0.1e4294967296"),  # simd-json alone read 0.1
    ("iat-year-10000", "iat", "253402300800"),
    ("number-beyond-doubles", "x", "1e400"),
]:
    c = claims(sub=rid)
    c.pop(member, None)
    rejected(rid, sign("es-1", with_raw(c, (f'"{member}"', value))), "claims", "invalid_claims")

# --- strings: unpaired surrogates never alias -----------------------------------------------
c = claims(sub="jti-nul", jti="\u0000")
attested("jti-nul", sign("es-1", text(c)), c)
for rid, jti in [("jti-lone-high", "\\ud800"), ("jti-lone-high-dbff", "\\udbff"),
                 ("jti-lone-low", "x\\udc00"), ("jti-high-then-not-low", "\\ud800\\ue000")]:
    c = claims(sub=rid)
    del c["jti"]
    rejected(rid, sign("es-1", with_raw(c, ('"jti"', f'"{jti}"'))), "claims", "invalid_claims")
c = claims(sub="jti-pair")
del c["jti"]
attested("jti-surrogate-pair", sign("es-1", with_raw(c, ('"jti"', '"\\ud801\\udc00"'))), c)
c = claims(sub="name-surrogate")
rejected("claim-name-lone-surrogate", sign("es-1", with_raw(c, ('"a\\ud800"', "1"))),
         "claims", "invalid_claims")
alg, es = keys["es-1"]
rejected("header-lone-surrogate", sign_raw("ES256", es, '{"alg":"ES256","kid":"es-1\\ud800"}',
                                           text(claims(sub="hdr-surrogate"))),
         "decode", "malformed_token")

# --- duplicate names, also spelled with escapes ---------------------------------------------
c = claims(sub="dup-escaped")
rejected("claim-twice-through-escape",
         sign("es-1", text(c)[:-1] + b',"\\u0073ub":"other"}'), "claims", "invalid_claims")
rejected("header-kid-twice-through-escape",
         sign_raw("ES256", es, '{"alg":"ES256","kid":"es-1","\\u006bid":"rs-1"}',
                  text(claims(sub="dup-kid"))), "decode", "malformed_token")

# --- header parameters: none, crit, b64, embedded keys, kid tricks --------------------------
payload = text(claims(sub="none"))
for spelling in ["none", "None", "NONE"]:
    for signature in ["", "AA"]:
        token = b64(json.dumps({"alg": spelling, "kid": "es-1"}).encode()) + "." + b64(payload) + "." + signature
        rejected(f"alg-{spelling}-sig-{len(signature)}", token, "decode", "unsupported_alg")
for rid, extra in [("crit-empty", {"crit": []}), ("crit-exp", {"crit": ["exp"]}),
                   ("b64-false", {"b64": False, "crit": ["b64"]}), ("b64-true", {"b64": True})]:
    rejected(rid, sign("es-1", text(claims(sub=rid)), extra), "decode", "bad_header")
evil = attacker["ES256"]
evil_jwk = evil.as_dict(private=False)
for rid, extra in [("embedded-jwk", {"jwk": evil_jwk}),
                   ("jku-to-attacker", {"jku": "https://attacker.example/jwks.json"}),
                   ("x5u-to-attacker", {"x5u": "https://attacker.example/cert.pem"}),
                   ("x5c-of-attacker", {"x5c": ["MIIB"]})]:
    header = json.dumps(dict({"alg": "ES256", "kid": "es-1"}, **extra), separators=(",", ":"))
    rejected(rid, sign_raw("ES256", evil, header, text(claims(sub=rid))), "signature", "bad_signature")
    header = json.dumps(dict({"alg": "ES256"}, **extra), separators=(",", ":"))
    rejected(rid + "-no-kid", sign_raw("ES256", evil, header, text(claims(sub=rid))),
             "signature", "bad_signature")
for rid, kid in [("kid-path", "../../keys/es-1"), ("kid-trailing-space", "es-1 "),
                 ("kid-case", "ES-1"), ("kid-nul", "es-1\u0000"), ("kid-empty", "")]:
    header = json.dumps({"alg": "ES256", "kid": kid})
    rejected(rid, sign_raw("ES256", es, header, text(claims(sub=rid))), "decode", "unknown_key")
rejected("kid-number", sign_raw("ES256", es, '{"alg":"ES256","kid":1}', payload), "decode", "bad_header")
rejected("kid-of-another-issuer",
         sign_raw("HS256", hs.raw_value, '{"alg":"HS256","kid":"hs-1"}', text(claims(sub="other-iss"))),
         "claims", "wrong_issuer")

# --- algorithm confusion between every key type ---------------------------------------------
def public_bytes(kid):
    alg, key = keys[kid]
    return key.public_key.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)


for kid in list(keys) + ["hs-1"]:
    own = "HS256" if kid == "hs-1" else keys[kid][0]
    for alg in ["ES256", "ES384", "RS256", "PS256", "EdDSA", "HS256"]:
        if alg == own:
            continue
        header = json.dumps({"alg": alg, "kid": kid})
        if alg == "HS256":
            # The classic: the public key's bytes as the HMAC secret.
            secret = public_bytes(kid) if kid != "hs-1" else hs.raw_value
            token = sign_raw("HS256", secret, header, text(claims(sub=f"confuse-{kid}-{alg}")))
        else:
            token = sign_raw(alg, attacker[alg], header, text(claims(sub=f"confuse-{kid}-{alg}")))
        rejected(f"alg-{alg}-with-key-{kid}", token, "decode", "alg_not_allowed")
token = sign_raw("HS256", public_bytes("rs-1"), '{"alg":"HS256"}', text(claims(sub="confuse-no-kid")))
rejected("alg-HS256-no-kid", token, "decode", "alg_not_allowed")

# --- signatures -----------------------------------------------------------------------------
good = sign("es-1", text(claims(sub="garbage"))).split(".")
rejected("non-json-payload-bad-signature", good[0] + "." + b64(b"\x00not json{") + "." + good[2],
         "signature", "bad_signature")
for kid, n, size in [("es-1", P256_N, 32), ("es384-1", P384_N, 48)]:
    c = claims(sub=f"high-s-{kid}")
    h, p, s = sign(kid, text(c)).split(".")
    raw = base64.urlsafe_b64decode(s + "==")
    r, s_int = raw[:size], int.from_bytes(raw[size:], "big")
    # (r, n - s) verifies as (r, s) does; Go's crypto/ecdsa accepts the high one, and so do we.
    high = (s_int if s_int > n // 2 else n - s_int).to_bytes(size, "big")
    attested(f"high-s-{kid}", f"{h}.{p}.{b64(r + high)}", c)

with open(os.path.join(OUT, "evidence.jsonl"), "w") as f:
    for line in records:
        f.write(line + "\n")
with open(os.path.join(OUT, "expected.jsonl"), "w") as f:
    for line in expected:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
print(f"wrote {len(records)} records to {os.path.normpath(OUT)}", file=sys.stderr)
