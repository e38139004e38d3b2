#!/usr/bin/env python3
"""Mint the JWT test fixture with an independent JOSE implementation (joserfc + cryptography).

Writes tests/data/jwt/: fleet.toml, keys/*.jwks.json, join_tokens.csv, evidence.jsonl.
The fixture is committed, so tests need no Python; rerun this script to refresh it
(`pip install joserfc cryptography`; keys are random, so the Rust test's expected lines that
hold signatures-independent values stay valid, but regenerate and rerun the tests together).

Every record's id names what it is built to show; tests/integration/cli.rs holds the expected
stage/code of each id and the exact lines of the attested ones. Evaluation time: NOW.
"""
import base64
import json
import os
import sys
import warnings

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

warnings.filterwarnings("ignore")  # joserfc warns that EdDSA is deprecated by RFC 9864

NOW = 1795946400  # 2026-11-29T10:00:00Z
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "jwt")
ISS = "https://bootstrap.example.org"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_public(key, kid, alg):
    d = key.as_dict(private=False)
    d.update({"kid": kid, "alg": alg, "use": "sig"})
    return d


es = ECKey.generate_key("P-256")
es384 = ECKey.generate_key("P-384")
rs = RSAKey.generate_key(2048)
ps = RSAKey.generate_key(2048)
ed = OKPKey.generate_key("Ed25519")
solo = ECKey.generate_key("P-256")
hs = OctKey.generate_key(256)
stranger = ECKey.generate_key("P-256")

os.makedirs(os.path.join(OUT, "keys"), exist_ok=True)
with open(os.path.join(OUT, "keys", "bootstrap.jwks.json"), "w") as f:
    json.dump({"keys": [
        jwk_public(es, "es-1", "ES256"),
        jwk_public(es384, "es384-1", "ES384"),
        jwk_public(rs, "rs-1", "RS256"),
        jwk_public(ps, "ps-1", "PS256"),
        jwk_public(ed, "ed-1", "EdDSA"),
    ]}, f, indent=2)
# The solo key has no kid: tokens find it through iss (the issuer's one ES256 key).
solo_jwk = jwk_public(solo, "unused", "ES256")
del solo_jwk["kid"]
with open(os.path.join(OUT, "keys", "solo.jwks.json"), "w") as f:
    json.dump({"keys": [solo_jwk]}, f, indent=2)
with open(os.path.join(OUT, "keys", "shared.jwks.json"), "w") as f:
    d = hs.as_dict(private=True)
    d.update({"kid": "hs-1", "alg": "HS256", "use": "sig"})
    json.dump({"keys": [d]}, f, indent=2)

with open(os.path.join(OUT, "fleet.toml"), "w") as f:
    f.write(f"""# JWT fixture made by scripts/make-jwt-fixtures.py (joserfc). Evaluate at --now {NOW}.
trust_domain = "example.org"

[limits]
max_record_bytes = 4096
max_token_bytes = 2048
max_selectors = 32

[[jwt_issuer]]
name = "bootstrap"
issuer = "{ISS}"
jwks_path = "keys/bootstrap.jwks.json"
audiences = ["spire-server"]
algorithms = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
max_lifetime_seconds = 86400
required_claims = ["sub"]
[jwt_issuer.claim_rules]
pool = {{ one_of = ["blue", "green"] }}
region = {{ regex = "^eu-[a-z]+-[0-9]$" }}

[[jwt_issuer]]
name = "solo"
issuer = "https://solo.example.org"
jwks_path = "keys/solo.jwks.json"
audiences = ["spire-server"]
algorithms = ["ES256"]
selector_claims = ["sub", "zone"]
agent_path_template = "/{{{{ .PluginName }}}}/{{{{ .IssuerName }}}}/{{{{ .Claims.zone | lower }}}}/{{{{ .Subject }}}}"

[[jwt_issuer]]
name = "shared"
issuer = "https://shared.example.org"
jwks_path = "keys/shared.jwks.json"
audiences = ["spire-server"]
algorithms = ["HS256"]
single_use = false

[join_token]
tokens_path = "join_tokens.csv"

[[node_alias]]
spiffe_id = "spiffe://example.org/pool/blue"
selectors = ["jwt:pool:blue"]

[[node_alias]]
spiffe_id = "spiffe://example.org/pool/blue/prod"
selectors = ["jwt:pool:blue", "jwt:k8s.ns:prod"]

[[node_alias]]
spiffe_id = "spiffe://example.org/zone/a"
selectors = ["jwt:zone:A"]
""")

with open(os.path.join(OUT, "join_tokens.csv"), "w") as f:
    f.write(f"# token,expires_at_unix_seconds\njt-good,{NOW + 3600}\njt-expired,{NOW - 1}\n")


def claims(**over):
    c = {"iss": ISS, "sub": "node-1", "aud": "spire-server", "iat": NOW - 10, "nbf": NOW - 10,
         "exp": NOW + 3600, "jti": "j-" + str(over.get("sub", "node-1") or "nosub"), "pool": "blue",
         "region": "eu-west-1"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def sign(header, payload, key, alg):
    if isinstance(payload, dict):
        payload = json.dumps(payload, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, key, algorithms=[alg])


def es256_raw(header: dict, payload: bytes, key) -> str:
    """ES256 by hand (cryptography), for headers joserfc refuses to write (crit)."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(payload)
    priv = key.private_key
    r, s = decode_dss_signature(priv.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


records = []


def rec(rid, token, kind="jwt"):
    records.append(json.dumps({"id": rid, "type": kind, "token": token}))


es_h = {"alg": "ES256", "kid": "es-1", "typ": "JWT"}
# --- attested -------------------------------------------------------------------------------
ok_token = sign(es_h, claims(k8s={"ns": "prod", "labels": {"app": "agent"}},
                             tags=["a", "b", "a"], rack=7, ratio=0.5, spot=True, gone=None), es, "ES256")
rec("es256-ok", ok_token)
rec("rs256-ok", sign({"alg": "RS256", "kid": "rs-1"},
                     claims(sub="node-2", pool="green", region="eu-north-1",
                            aud=["other", "spire-server"]), rs, "RS256"))
rec("ps256-ok", sign({"alg": "PS256", "kid": "ps-1"}, claims(sub="node-3"), ps, "PS256"))
rec("eddsa-ok", sign({"alg": "EdDSA", "kid": "ed-1"}, claims(sub="node-4"), ed, "EdDSA"))
rec("es384-ok", sign({"alg": "ES384", "kid": "es384-1"}, claims(sub="node-5"), es384, "ES384"))
rec("nokid-ok", sign({"alg": "ES256"}, claims(iss="https://solo.example.org", sub="node-6",
                                              zone="A", pool=None, region=None), solo, "ES256"))
shared = sign({"alg": "HS256", "kid": "hs-1"},
              claims(iss="https://shared.example.org", sub="node-7", jti=None), hs, "HS256")
rec("hs256-ok", shared)
rec("hs256-reused", shared)  # single_use = false: attests again
rec("join-ok", "jt-good", "join_token")
bare_token = sign(es_h, claims(sub="node-8"), es, "ES256")
# --- input ----------------------------------------------------------------------------------
records.append(json.dumps({"id": "malformed-record", "type": "jwt"}))
records.append(json.dumps({"id": "unknown-type", "type": "tpm", "token": "x"}))
records.append(json.dumps({"id": "record-too-large", "type": "jwt", "token": "a.b.c", "pad": "x" * 5000}))
# --- decode ---------------------------------------------------------------------------------
rec("malformed-token", "only.two")
rec("token-too-large", sign(es_h, claims(sub="node-9", pad="p" * 2100), es, "ES256"))
rec("alg-none", b64(b'{"alg":"none","kid":"es-1"}') + "." + b64(json.dumps(claims()).encode()) + ".AA")
rec("alg-not-allowed-for-issuer", sign({"alg": "HS256", "kid": "es-1"}, claims(), OctKey.generate_key(256), "HS256"))
rec("alg-not-of-key", sign({"alg": "RS256", "kid": "es-1"}, claims(), rs, "RS256"))
rec("crit-header", es256_raw({"alg": "ES256", "kid": "es-1", "crit": ["exp"]},
                             json.dumps(claims()).encode(), es))
rec("unknown-issuer", sign({"alg": "ES256"}, claims(iss="https://nobody.example.org"), es, "ES256"))
rec("unknown-key", sign({"alg": "ES256", "kid": "zz"}, claims(), es, "ES256"))
# --- signature ------------------------------------------------------------------------------
rec("wrong-key", sign(es_h, claims(sub="node-10"), stranger, "ES256"))
good = sign(es_h, claims(sub="node-11"), es, "ES256").split(".")
# --- decode, again: every part's encoding is checked before the signature -------------------
rec("garbage-payload", good[0] + ".!!!not-base64!!!." + good[2])
# --- claims ---------------------------------------------------------------------------------
dup = json.dumps(claims(sub="node-12"))[:-1] + ', "sub": "again"}'
rec("duplicate-claim", sign(es_h, dup.encode(), es, "ES256"))
rec("missing-sub", sign(es_h, claims(sub=None), es, "ES256"))
rec("expired", sign(es_h, claims(sub="node-13", exp=NOW - 300), es, "ES256"))
rec("not-yet-valid", sign(es_h, claims(sub="node-14", nbf=NOW + 300), es, "ES256"))
rec("issued-in-future", sign(es_h, claims(sub="node-15", iat=NOW + 300), es, "ES256"))
rec("lifetime-too-long", sign(es_h, claims(sub="node-16", iat=NOW - 10, exp=NOW + 90000), es, "ES256"))
rec("wrong-issuer", sign(es_h, claims(sub="node-17", iss="https://solo.example.org"), es, "ES256"))
rec("audience-mismatch", sign(es_h, claims(sub="node-18", aud=["someone"]), es, "ES256"))
rec("pool-rule", sign(es_h, claims(sub="node-19", pool="red"), es, "ES256"))
rec("region-rule", sign(es_h, claims(sub="node-20", region="us-east-1"), es, "ES256"))
rec("exp-string", sign(es_h, claims(sub="node-21", exp="tomorrow"), es, "ES256"))
# --- replay ---------------------------------------------------------------------------------
rec("es256-replayed", ok_token)
rec("join-replayed", "jt-good", "join_token")
# --- policy ---------------------------------------------------------------------------------
rec("bad-subject", sign(es_h, claims(sub="node 22"), es, "ES256"))
rec("too-many-selectors", sign(es_h, claims(sub="node-23", tags=[f"t{i}" for i in range(40)]), es, "ES256"))
# --- join tokens ----------------------------------------------------------------------------
rec("join-unknown", "jt-nope", "join_token")
rec("join-expired", "jt-expired", "join_token")

with open(os.path.join(OUT, "evidence.jsonl"), "w") as f:
    for i, line in enumerate(records):
        f.write(line + "\n")
        if i == 8:
            f.write(bare_token + "\n")  # a bare compact JWT line, id line-N
            f.write("\n")  # an empty line: skipped, but counted in line numbers
print(f"wrote {len(records) + 1} records to {os.path.normpath(OUT)}", file=sys.stderr)
